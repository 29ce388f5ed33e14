// Dual stack as Docker has it: `network create --ipv6 --subnet fd…/64` gives the bridge both gateways and a
// container both addresses and both default routes; `run --ip6` pins the IPv6 one; inspect and network inspect
// show them; -p publishes on the host's IPv6 addresses too (DNAT to the container's IPv6 address), `-p
// [::]:P:C` on IPv6 alone, and the IPv6 port is held as the IPv4 one is. Refusals leave nothing behind. The
// engine runs in a namespace that plays the host; a second namespace plays a client on the host's link.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test, type TestContext } from 'node:test';
import { ipj, needsRoot } from './harness.js';
import { bridgeNetwork, engineHost, hostBind, hostListener, httpBody, HTTPD, nftTable } from './engine-host.js';

test('dual-stack networks, --ip6 and published ports over IPv6', { skip: needsRoot }, async (t: TestContext) => {
  const h = engineHost(t, 'v6host', { bins: 'sh,busybox,sleep,mkdir' });
  const { w, host, e } = h;
  const client = w.netns('v6cli');
  const sh = (...a: string[]) => assert.equal(spawnSync('ip', a).status, 0, `ip ${a.join(' ')}`);
  // the host's link to a client: IPv4 and IPv6 addresses on both ends
  sh('-n', host, 'link', 'add', 'up0', 'type', 'veth', 'peer', 'name', 'down0', 'netns', client);
  sh('-n', host, 'addr', 'add', '192.0.2.1/24', 'dev', 'up0');
  sh('-n', host, 'addr', 'add', 'fd5e:1::1/64', 'dev', 'up0', 'nodad');
  sh('-n', client, 'addr', 'add', '192.0.2.2/24', 'dev', 'down0');
  sh('-n', client, 'addr', 'add', 'fd5e:1::2/64', 'dev', 'down0', 'nodad');
  for (const [ns, dev] of [
    [host, 'up0'],
    [client, 'down0'],
    [client, 'lo'],
  ])
    sh('-n', ns!, 'link', 'set', dev!, 'up');
  const { net, bridge } = bridgeNetwork(h, '6', ['10.97.0.0/24', 'fd5e:10::/64'], { ipv6: true });
  h.links.push(bridge);
  const { net: net4 } = bridgeNetwork(h, '4', ['10.98.0.0/24']);
  const auto = `ta${w.id}`;
  h.networks.push(auto);

  await t.test('network create --ipv6: a picked IPv4 subnet beside the IPv6 one; both in network inspect', () => {
    e.ok('network', 'create', auto, '--ipv6', '--subnet', 'fd5e:11::/64');
    const [a] = JSON.parse(e.ok('network', 'inspect', auto));
    assert.equal(a.EnableIPv6, true);
    assert.equal(a.IPAM.Config.length, 2, JSON.stringify(a.IPAM));
    assert.match(a.IPAM.Config[0].Subnet, /^\d+\.\d+\.\d+\.\d+\/\d+$/, 'an IPv4 subnet was picked');
    assert.deepEqual(a.IPAM.Config[1], { Subnet: 'fd5e:11::/64', Gateway: 'fd5e:11::1' });
    const [d] = JSON.parse(e.ok('network', 'inspect', net));
    assert.deepEqual(d.IPAM.Config, [
      { Subnet: '10.97.0.0/24', Gateway: '10.97.0.1' },
      { Subnet: 'fd5e:10::/64', Gateway: 'fd5e:10::1' },
    ]);
    const [v4] = JSON.parse(e.ok('network', 'inspect', net4));
    assert.equal(v4.EnableIPv6, false);
    assert.equal(v4.IPAM.Config.length, 1);
    // refusals: --ipv6 with no IPv6 subnet (no pool to pick from), an IPv6 subnet without --ipv6, an overlap
    for (const bad of [['--ipv6'], ['--subnet', 'fd5e:12::/64'], ['--ipv6', '--subnet', 'fd5e:10:0:0:1::/80']]) {
      const r = e.tsnet('network', 'create', `tx${w.id}`, ...bad);
      assert.notEqual(r.status, 0, bad.join(' '));
      assert.match(r.stderr, /ipv6|IPv6|overlaps/, r.stderr);
    }
    assert.equal(e.tsnet('network', 'inspect', `tx${w.id}`).status === 0, false, 'no network made by a refusal');
    e.ok('network', 'rm', auto);
  });

  await t.test('a container gets both addresses and both default routes; the bridge both gateways; inspect shows them', () => {
    const id = e
      .ok('run', '-d', '--name', 'web', '--net', net, '-p', '18300:80', '-p', '[::]:18301:80', 'img', 'sh', '-c', HTTPD('dual'))
      .trim();
    const cns = `tsnet-${id.slice(0, 12)}`;
    const addrs = ipj(cns, 'addr', 'show', 'dev', 'eth0')[0].addr_info.filter((a: any) => a.scope === 'global');
    assert.deepEqual(addrs.map((a: any) => `${a.local}/${a.prefixlen}`).sort(), ['10.97.0.2/24', 'fd5e:10::2/64']);
    assert.deepEqual(
      ipj(cns, 'route', 'show', 'default').map((r: any) => r.gateway),
      ['10.97.0.1'],
    );
    assert.deepEqual(
      ipj(cns, '-6', 'route', 'show', 'default').map((r: any) => r.gateway),
      ['fd5e:10::1'],
    );
    const gws = ipj(host, 'addr', 'show', 'dev', bridge)[0].addr_info.filter((a: any) => a.scope === 'global');
    assert.deepEqual(gws.map((a: any) => `${a.local}/${a.prefixlen}`).sort(), ['10.97.0.1/24', 'fd5e:10::1/64']);
    const ep = e.inspect('web').NetworkSettings.Networks[net];
    assert.equal(ep.IPAddress, '10.97.0.2');
    assert.equal(ep.GlobalIPv6Address, 'fd5e:10::2');
    assert.equal(ep.GlobalIPv6PrefixLen, 64);
    assert.equal(ep.IPv6Gateway, 'fd5e:10::1');
    assert.equal(e.ok('inspect', '-f', '{{range .NetworkSettings.Networks}}{{.GlobalIPv6Address}}{{end}}', 'web').trim(), 'fd5e:10::2');
    assert.equal(JSON.parse(e.ok('network', 'inspect', net))[0].allocations['fd5e:10::2'].containerID, id);
  });

  await t.test('-p answers on the host IPv4 and IPv6 addresses, -p [::]:P:C on IPv6 only; the ports are held', async () => {
    assert.deepEqual(e.ok('port', 'web').trim().split('\n'), ['80/tcp -> 0.0.0.0:18300', '80/tcp -> :::18300', '80/tcp -> :::18301']);
    let body = '';
    for (let i = 0; i < 50 && !body; i++, spawnSync('sleep', ['0.1'])) body = httpBody(client, '[fd5e:1::1]', 18300);
    assert.equal(body, 'dual', '-p 18300:80 over IPv6 from the client');
    assert.equal(httpBody(client, '192.0.2.1', 18300), 'dual', 'and over IPv4');
    assert.equal(httpBody(client, '[fd5e:1::1]', 18301), 'dual', '-p [::]:18301:80 over IPv6');
    assert.equal(httpBody(client, '192.0.2.1', 18301), '', '-p [::]:… is not published on IPv4');
    assert.equal(hostBind(host, 18300, { family: 6 }), 98, 'the IPv6 side of -p 18300:80 is held');
    assert.equal(hostBind(host, 18301, { family: 6 }), 98, '[::]:18301 is held');
    assert.match(nftTable(host), /dnat ip6 to \[fd5e:10::2\]:80/);
    // hairpin over IPv6: the container reaches its own published port through a host IPv6 address
    /** The body `ctr` gets from port 18300 of the host's IPv6 address (tried up to 20 times). */
    const hairpin = (ctr: string): string => {
      let hair = '';
      for (let i = 0; i < 20 && hair !== 'dual'; i++)
        hair = e
          .tsnet('exec', ctr, 'sh', '-c', `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | busybox nc -w 2 fd5e:1::1 18300`)
          .stdout.trim()
          .split('\n')
          .pop()!;
      return hair;
    };
    assert.equal(hairpin('web'), 'dual', 'hairpin over IPv6');
    e.ok('run', '-d', '--name', 'peer', '--net', net, 'img', 'sleep', '120');
    assert.equal(hairpin('peer'), 'dual', 'another container reaches it through the host IPv6 address too');
    e.ok('rm', '-f', 'peer');
    // -p 80: one free port, the same on both families
    e.ok('run', '-d', '--name', 'rnd', '--net', net, '-p', '80', 'img', 'sh', '-c', HTTPD('random'));
    const lines = e.ok('port', 'rnd').trim().split('\n');
    assert.equal(lines.length, 2, lines.join('\n'));
    const p4 = /^80\/tcp -> 0\.0\.0\.0:(\d+)$/.exec(lines[0]!)?.[1];
    assert.ok(p4, lines[0]);
    assert.equal(lines[1], `80/tcp -> :::${p4}`);
    body = '';
    for (let i = 0; i < 50 && !body; i++, spawnSync('sleep', ['0.1'])) body = httpBody(client, '[fd5e:1::1]', Number(p4));
    assert.equal(body, 'random');
    e.ok('rm', '-f', 'rnd');
    // a host range for one container port: the first port of it free on both families (18310 is taken on IPv6 only)
    const v6only = await hostListener(host, 18310, { family: 6 });
    try {
      e.ok('run', '-d', '--name', 'rng', '--net', net, '-p', '18310-18312:80', 'img', 'sleep', '120');
      assert.deepEqual(e.ok('port', 'rng').trim().split('\n'), ['80/tcp -> 0.0.0.0:18311', '80/tcp -> :::18311']);
    } finally {
      v6only.kill('SIGKILL');
    }
    e.ok('rm', '-f', 'rng');
  });

  await t.test('--ip6 pins the IPv6 address; --ip6 and IPv6 host IPs are refused where there is no IPv6, leaving nothing', () => {
    const id = e.ok('run', '-d', '--name', 'pinned', '--net', net, '--ip6', 'fd5e:10::99', 'img', 'sleep', '120').trim();
    const addrs = ipj(`tsnet-${id.slice(0, 12)}`, '-6', 'addr', 'show', 'dev', 'eth0')[0].addr_info.map((a: any) => a.local);
    assert.ok(addrs.includes('fd5e:10::99'), addrs.join(' '));
    assert.equal(e.inspect('pinned').NetworkSettings.Networks[net].GlobalIPv6Address, 'fd5e:10::99');
    const before = e.ids().sort();
    for (const [args, why] of [
      [['--ip6', 'fd5e:10::5'], /network "bridge" has no IPv6/],
      [['--net', net4, '--ip6', 'fd5e:10::5'], new RegExp(`network "${net4}" has no IPv6`)],
      [['--net', net, '--ip6', '10.97.0.5'], /is not an IPv6 address/],
      [['--net', net, '--ip6', 'fd5e:99::5'], /fd5e:99::5: does not belong to the subnet of network/],
      [['--net', net4, '-p', '[::]:18302:80'], new RegExp(`network "${net4}" has no IPv6`)],
      [['--net', net, '-p', '[fd5e:99::1]:18303:80'], /host IP fd5e:99::1 is not an address of this host/],
    ] as const) {
      const r = e.tsnet('run', '-d', ...args, 'img', 'sleep', '30');
      assert.notEqual(r.status, 0, args.join(' '));
      assert.match(r.stderr, why);
      assert.deepEqual(e.ids().sort(), before, `${args.join(' ')}: no container record`);
    }
    assert.equal(hostBind(host, 18302, { family: 6 }), 0, 'the refused -p [::]:18302 left nothing bound');
    // an address another container holds: refused when the network is attached (Docker: at start, too)
    const dup = e.tsnet('run', '-d', '--name', 'dup', '--net', net, '--ip6', 'fd5e:10::99', 'img', 'sleep', '30');
    assert.notEqual(dup.status, 0);
    assert.match(dup.stderr, /fd5e:10::99/);
    e.tsnet('rm', '-f', 'dup');
    const held = Object.keys(JSON.parse(e.ok('network', 'inspect', net))[0].allocations).sort();
    assert.equal(held.length, 4, `only web and pinned hold addresses: ${held.join(' ')}`);
    assert.ok(held.includes('fd5e:10::2') && held.includes('fd5e:10::99'), held.join(' '));
  });

  await t.test('restart: both addresses again, and the IPv6 port forwards to the new one; rm -f gives everything back', () => {
    e.ok('stop', '-t', '1', 'web');
    const stopped = e.inspect('web').NetworkSettings.Networks[net];
    assert.deepEqual(
      [stopped.GlobalIPv6Address, stopped.GlobalIPv6PrefixLen, stopped.IPv6Gateway],
      ['', 0, ''],
      'a stopped container holds no IPv6 address',
    );
    assert.equal(hostBind(host, 18301, { family: 6 }), 0, 'nor its IPv6 port');
    e.ok('start', 'web');
    e.ok('restart', '-t', '1', 'web');
    const ip6 = e.inspect('web').NetworkSettings.Networks[net].GlobalIPv6Address;
    assert.notEqual(ip6, 'fd5e:10::2', 'a new address (none was pinned)');
    let body = '';
    for (let i = 0; i < 50 && !body; i++, spawnSync('sleep', ['0.1'])) body = httpBody(client, '[fd5e:1::1]', 18300);
    assert.equal(body, 'dual', 'published over IPv6 after restart');
    assert.match(nftTable(host), new RegExp(`dnat ip6 to \\[${ip6}\\]:80`));
    assert.equal(hostBind(host, 18301, { family: 6 }), 98, '[::]:18301 held again');
    // network connect --ip6: a second, dual-stack interface on a container of an IPv4-only network
    const c4 = e.ok('run', '-d', '--name', 'c4', '--net', net4, 'img', 'sleep', '120').trim();
    assert.equal(e.ok('network', 'connect', '--ip6', 'fd5e:10::77', net, 'c4').trim(), 'eth1');
    const eth1 = ipj(`tsnet-${c4.slice(0, 12)}`, '-6', 'addr', 'show', 'dev', 'eth1')[0].addr_info.map((a: any) => a.local);
    assert.ok(eth1.includes('fd5e:10::77'), eth1.join(' '));
    assert.equal(e.inspect('c4').NetworkSettings.Networks[net].GlobalIPv6Address, 'fd5e:10::77');
    e.ok('rm', '-f', 'c4');
    // network reload makes the IPv6 DNAT again from state (after the table is gone)
    assert.equal(spawnSync('ip', ['netns', 'exec', host, 'nft', 'delete', 'table', 'inet', 'tsnet']).status, 0);
    assert.equal(httpBody(client, '[fd5e:1::1]', 18301), '', 'no DNAT without the table');
    e.ok('network', 'reload');
    body = '';
    for (let i = 0; i < 50 && !body; i++, spawnSync('sleep', ['0.1'])) body = httpBody(client, '[fd5e:1::1]', 18301);
    assert.equal(body, 'dual', 'published over IPv6 after network reload');
    e.ok('rm', '-f', 'web', 'pinned');
    assert.equal(hostBind(host, 18300, { family: 6 }), 0);
    assert.equal(hostBind(host, 18301, { family: 6 }), 0);
    assert.doesNotMatch(nftTable(host), /ports:/);
    assert.deepEqual(JSON.parse(e.ok('network', 'inspect', net))[0].allocations, {});
  });
});
