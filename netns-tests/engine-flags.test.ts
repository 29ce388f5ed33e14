// docker run's resolver and hosts flags as the container sees them (--dns, --dns-search, --dns-option,
// --add-host), and --net container:X as Docker has it: the joiner shares X's hostname and /etc files, and what
// would change them (--hostname, --dns, --add-host, -p, -P, --ip) is refused with nothing made. The engine runs
// in a namespace that plays the host (entered with nsenter).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test, type TestContext } from 'node:test';
import { ipj, needsRoot } from './harness.js';
import { bridgeNetwork, engineHost, hostBind } from './engine-host.js';

test('run flags as Docker has them', { skip: needsRoot }, async (t: TestContext) => {
  const h = engineHost(t, 'flaghost', { bins: 'sh,cat,hostname,sleep' });
  const { w, host, e } = h;
  const { net } = bridgeNetwork(h, 'f', ['10.96.0.0/24']);

  await t.test('--dns, --dns-search, --dns-option, --add-host write resolv.conf and hosts', () => {
    const out = e.ok(
      'run',
      '--rm',
      '--net',
      net,
      '--dns',
      '192.0.2.53',
      '--dns',
      '192.0.2.54',
      '--dns-search',
      'example.com',
      '--dns-option',
      'ndots:2',
      '--add-host',
      'db:10.0.0.5',
      '--add-host',
      'cache:10.0.0.6',
      'img',
      'sh',
      '-c',
      'cat /etc/resolv.conf; echo ---; cat /etc/hosts',
    );
    const [resolv, hosts] = out.split('---\n');
    const lines = resolv!.trim().split('\n');
    assert.deepEqual(
      lines.filter((l) => /^(nameserver|search|options) /.test(l)),
      ['nameserver 192.0.2.53', 'nameserver 192.0.2.54', 'search example.com', 'options ndots:2'],
    );
    assert.match(hosts!, /^10\.0\.0\.5\tdb$/m);
    assert.match(hosts!, /^10\.0\.0\.6\tcache$/m);
    const only = e.ok('run', '--rm', '--net', net, '--dns-search', 'a.example', 'img', 'cat', '/etc/resolv.conf');
    assert.match(only, /^search a\.example$/m);
    assert.match(only, /^nameserver /m, '--dns-search alone keeps the nameservers');
  });

  await t.test('bad --dns and --add-host values are refused before anything is made', () => {
    for (const bad of [
      ['--dns', 'not-an-ip'],
      ['--add-host', 'noip'],
      ['--add-host', 'db:10.0.0.300'],
    ]) {
      const r = e.tsnet('run', '-d', '--net', net, ...bad, 'img', 'sleep', '30');
      assert.notEqual(r.status, 0, bad.join(' '));
      assert.match(r.stderr, new RegExp(bad[0]!));
    }
    assert.deepEqual(e.ids(), []);
  });

  await t.test('--net container:X shares X hostname and /etc files; conflicting flags are refused', () => {
    const x = e
      .ok('run', '-d', '--name', 'x', '--net', net, '--hostname', 'xhost', '--add-host', 'db:10.0.0.5', 'img', 'sleep', '120')
      .trim();
    const out = e.ok('run', '--rm', '--net', 'container:x', 'img', 'sh', '-c', 'hostname; cat /etc/hosts');
    assert.equal(out.split('\n')[0], 'xhost');
    assert.match(out, /^10\.0\.0\.5\tdb$/m, "X's /etc/hosts");
    assert.match(out, /\txhost$/m);
    for (const bad of [
      ['--hostname', 'h'],
      ['--dns', '192.0.2.1'],
      ['--add-host', 'a:10.0.0.1'],
      ['-p', '18230:80'],
      ['-P'], // the image exposes no port: refused all the same, as Docker does
      ['--expose', '80'],
    ]) {
      const r = e.tsnet('run', '-d', '--net', 'container:x', ...bad, 'img', 'sleep', '30');
      assert.notEqual(r.status, 0, bad.join(' '));
      assert.match(r.stderr, new RegExp(`conflicting options: ${bad[0]}`));
    }
    assert.deepEqual(e.ids(), [x], 'no container made by a refusal');
    assert.equal(hostBind(host, 18230), 0, 'the refused -p left no port bound');
  });

  await t.test('--ip on the default bridge is refused; inspect -f and ps --format take Go templates', () => {
    const r = e.tsnet('run', '-d', '--ip', '172.30.0.9', 'img', 'sleep', '30');
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /--ip 172\.30\.0\.9: a static address is supported on user-defined networks only/);
    assert.deepEqual(e.ids().length, 1, 'only x is there');
    const d = e.ok('run', '-d', '--name', 'onbridge', 'img', 'sleep', '120').trim();
    const ip = e.ok('inspect', '-f', '{{.NetworkSettings.IPAddress}}', d).trim();
    const kernel = spawnSync('ip', ['-n', `tsnet-${d.slice(0, 12)}`, '-j', 'addr', 'show', 'eth0'], { encoding: 'utf8' });
    assert.ok(ip && JSON.parse(kernel.stdout)[0].addr_info.some((a: any) => a.local === ip), `${ip} is eth0's`);
    assert.equal(
      e.ok('inspect', '-f', '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}', 'x').trim(),
      e.inspect('x').NetworkSettings.Networks[net].IPAddress,
    );
    assert.equal(e.ok('inspect', '-f', '{{.NetworkSettings.IPAddress}}', 'x'), '\n', 'empty off the default bridge, as Docker');
    assert.equal(e.ok('inspect', '-f', '{{json .Config.Cmd}}', 'x').trim(), '["sleep","120"]');
    assert.match(e.ok('ps', '--format', '{{.Names}}|{{.ID}}'), new RegExp(`^onbridge\\|${d.slice(0, 12)}$`, 'm'));
    const bad = e.tsnet('inspect', '-f', '{{.Nope}}', 'x');
    assert.notEqual(bad.status, 0);
    assert.match(bad.stderr, /no field 'Nope'/);
    e.ok('rm', '-f', 'onbridge');
  });
  await t.test('--mac-address: eth0 gets it, inspect shows it, restart keeps it; refused where Docker refuses it', () => {
    const mac = '02:42:ac:11:00:99';
    const id = e.ok('run', '-d', '--name', 'withmac', '--net', net, '--mac-address', mac.toUpperCase(), 'img', 'sleep', '120').trim();
    const eth0 = () => ipj(`tsnet-${id.slice(0, 12)}`, 'link', 'show', 'dev', 'eth0')[0].address;
    assert.equal(eth0(), mac);
    assert.equal(e.inspect('withmac').NetworkSettings.Networks[net].MacAddress, mac);
    assert.equal(e.inspect('withmac').Config.MacAddress, mac);
    e.ok('restart', '-t', '1', 'withmac');
    assert.equal(eth0(), mac, 'the MAC comes back with the network on restart');
    const onBridge = e.ok('run', '-d', '--mac-address', '02:42:ac:11:00:98', 'img', 'sleep', '120').trim();
    assert.equal(e.ok('inspect', '-f', '{{.NetworkSettings.MacAddress}}', onBridge).trim(), '02:42:ac:11:00:98');
    assert.equal(ipj(`tsnet-${onBridge.slice(0, 12)}`, 'link', 'show', 'dev', 'eth0')[0].address, '02:42:ac:11:00:98');
    e.ok('rm', '-f', onBridge, 'withmac');
    const before = e.ids().sort();
    for (const [args, why] of [
      [['--net', 'host', '--mac-address', mac], /conflicting options: --mac-address and the network mode/],
      [['--net', 'container:x', '--mac-address', mac], /conflicting options: --mac-address/],
      [['--net', 'none', '--mac-address', mac], /no network interface/],
      [['--net', net, '--mac-address', '02:42:ac:11:00'], /is not a MAC address/],
      [['--net', net, '--mac-address', '01:00:5e:00:00:01'], /multicast/],
    ] as const) {
      const r = e.tsnet('run', '-d', ...args, 'img', 'sleep', '30');
      assert.notEqual(r.status, 0, args.join(' '));
      assert.match(r.stderr, why);
      assert.deepEqual(e.ids().sort(), before, `${args.join(' ')}: no container record`);
    }
  });
  await t.test('--ip anywhere in the subnet, not only inside --ip-range; outside the subnet refused with nothing made', () => {
    const ranged = `tr${w.id}`;
    w.defer(() => void e.tsnet('network', 'rm', '-f', ranged));
    e.ok(
      'network',
      'create',
      ranged,
      '--subnet',
      '10.95.0.0/24',
      '--ip-range',
      '10.95.0.128/25',
      '--bridge',
      `tbr${w.id}`,
      '--no-masquerade',
    );
    const eth0 = (id: string) =>
      ipj(`tsnet-${id.slice(0, 12)}`, '-4', 'addr', 'show', 'dev', 'eth0')[0].addr_info.map((a: any) => `${a.local}/${a.prefixlen}`);
    const pinned = e.ok('run', '-d', '--net', ranged, '--ip', '10.95.0.10', 'img', 'sleep', '120').trim();
    assert.deepEqual(eth0(pinned), ['10.95.0.10/24'], 'a pinned address outside --ip-range');
    const dynamic = e.ok('run', '-d', '--net', ranged, 'img', 'sleep', '120').trim();
    assert.deepEqual(eth0(dynamic), ['10.95.0.128/24'], 'handed-out addresses still come from --ip-range');
    const before = e.ids().sort();
    const r = e.tsnet('run', '-d', '--net', ranged, '--ip', '10.95.1.10', 'img', 'sleep', '30');
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /--ip 10\.95\.1\.10: does not belong to the subnet of network/);
    assert.deepEqual(e.ids().sort(), before, 'no container record');
    e.ok('rm', '-f', pinned, dynamic);
    assert.deepEqual(JSON.parse(e.ok('network', 'inspect', ranged))[0].allocations, {});
  });
  await t.test("network create -o: docker's bridge name, MTU and masquerade keys (and tsnet's short ones) in the kernel", () => {
    const named = `to${w.id}`;
    const plain = `tp${w.id}`;
    const br = `tbo${w.id}`;
    w.defer(() => {
      e.tsnet('network', 'rm', '-f', named);
      e.tsnet('network', 'rm', '-f', plain);
    });
    e.ok(
      'network',
      'create',
      named,
      '--subnet',
      '10.94.0.0/24',
      '-o',
      `com.docker.network.bridge.name=${br}`,
      '-o',
      'com.docker.network.driver.mtu=1400',
      '-o',
      'com.docker.network.bridge.enable_ip_masquerade=false',
    );
    e.ok('network', 'create', plain, '--subnet', '10.94.1.0/24', '-o', `bridge=${br}b`, '-o', 'mtu=1450');
    const a = e.ok('run', '-d', '--net', named, 'img', 'sleep', '120').trim();
    const b = e.ok('run', '-d', '--net', plain, 'img', 'sleep', '120').trim();
    const mtu = (ns: string, dev: string) => ipj(ns, 'link', 'show', 'dev', dev)[0].mtu;
    assert.equal(mtu(host, br), 1400, 'the bridge has the name and MTU');
    assert.equal(mtu(`tsnet-${a.slice(0, 12)}`, 'eth0'), 1400, "and the container's eth0 the MTU");
    assert.equal(mtu(host, `${br}b`), 1450);
    assert.equal(mtu(`tsnet-${b.slice(0, 12)}`, 'eth0'), 1450);
    const rules = spawnSync('ip', ['netns', 'exec', host, 'nft', 'list', 'table', 'inet', 'tsnet'], { encoding: 'utf8' }).stdout;
    assert.doesNotMatch(rules, /ip saddr 10\.94\.0\.\d+ .*masquerade/, 'enable_ip_masquerade=false: no masquerade');
    assert.match(rules, /ip saddr 10\.94\.1\.\d+ .*masquerade/, 'masquerade by default');
    e.ok('rm', '-f', a, b);
    // a bridge another network has is refused, whichever way it is named, as Docker refuses it, and nothing is
    // recorded; the default network's tsnet0 counts even before its first use
    const before = e.ok('network', 'ls', '--format', '{{.Name}} {{.Subnet}}');
    const addrs = () =>
      ipj(host, 'addr', 'show', 'dev', br)[0]
        .addr_info.filter((a: any) => a.family === 'inet')
        .map((a: any) => `${a.local}/${a.prefixlen}`);
    const brAddrs = addrs();
    const dup = `td${w.id}`;
    w.defer(() => void e.tsnet('network', 'rm', '-f', dup));
    for (const opt of [
      ['-o', `com.docker.network.bridge.name=${br}`],
      ['-o', `bridge=${br}b`],
      ['--bridge', br],
      ['-o', 'bridge=tsnet0'],
    ]) {
      const r = e.tsnet('network', 'create', dup, ...opt);
      assert.notEqual(r.status, 0, opt.join(' '));
      assert.match(r.stderr, /networks have the same bridge name/, opt.join(' '));
    }
    assert.equal(e.ok('network', 'ls', '--format', '{{.Name}} {{.Subnet}}'), before, 'no network recorded');
    assert.deepEqual(addrs(), brAddrs, "the other network's bridge keeps its gateway, and has no other address");
    assert.deepEqual(brAddrs, ['10.94.0.1/24']);
  });
  await t.test('--format and --json on ps, inspect, network ls, network inspect and port', () => {
    const id = e.ok('run', '-d', '--name', 'fmt', '--net', net, '-p', '18240:80', 'img', 'sleep', '120').trim();
    const ip = e.inspect('fmt').NetworkSettings.Networks[net].IPAddress;
    // Docker's inspect docs: the ports by range with variables, and a parenthesized index
    assert.equal(
      e.ok('inspect', '-f', '{{range $p, $conf := .NetworkSettings.Ports}}{{$p}} -> {{(index $conf 0).HostPort}}{{end}}', 'fmt').trim(),
      '80/tcp -> 18240',
    );
    assert.equal(e.ok('inspect', '-f', `{{(index .NetworkSettings.Networks "${net}").IPAddress}}`, 'fmt').trim(), ip);
    assert.equal(JSON.parse(e.ok('inspect', '--json', 'fmt'))[0].Id, id);
    const row = JSON.parse(e.ok('ps', '--json')).find((c: any) => c.Id === id);
    assert.equal(row?.Ports, '0.0.0.0:18240->80/tcp');
    const table = e.ok('ps', '--format', 'table {{.Names}}\\t{{.Ports}}').trimEnd().split('\n');
    assert.match(table[0]!, /^NAMES\s+PORTS$/);
    assert.ok(
      table.some((l) => /^fmt {7}0\.0\.0\.0:18240->80\/tcp$/.test(l)),
      table.join('\n'),
    );
    assert.match(e.ok('network', 'ls', '--format', '{{.Name}}:{{.Driver}}:{{.Scope}}'), new RegExp(`^${net}:bridge:local$`, 'm'));
    assert.equal(
      e
        .ok(
          'network',
          'inspect',
          '--format',
          `{{range .IPAM.Config}}{{.Subnet}}{{end}} {{.EnableIPv6}} {{(index .allocations "${ip}").containerID}}`,
          net,
        )
        .trim(),
      `10.96.0.0/24 false ${id}`,
    );
    assert.equal(JSON.parse(e.ok('network', 'inspect', '--json', net))[0].name, net);
    // Docker's field names, as scripts give docker network inspect -f
    const netId = JSON.parse(e.ok('network', 'inspect', net))[0].id;
    assert.equal(
      e.ok('network', 'inspect', '-f', '{{.Name}} {{.Id}} {{.Driver}} {{.Scope}} {{.Internal}}', net).trim(),
      `${net} ${netId} bridge local false`,
    );
    const { MacAddress: mac, EndpointID: endpoint } = e.inspect('fmt').NetworkSettings.Networks[net];
    assert.match(endpoint, /^[0-9a-f]{64}$/);
    assert.deepEqual(JSON.parse(e.ok('network', 'inspect', '-f', '{{json .Containers}}', net))[id], {
      Name: 'fmt',
      EndpointID: endpoint,
      MacAddress: mac,
      IPv4Address: `${ip}/24`,
      IPv6Address: '',
    });
    assert.equal(
      e.ok('port', '--format', '{{.ContainerPort}}/{{.Protocol}} {{.HostIp}}:{{.HostPort}}', 'fmt').trim(),
      '80/tcp 0.0.0.0:18240',
    );
    assert.deepEqual(JSON.parse(e.ok('port', '--json', 'fmt')), [
      { ContainerPort: 80, Protocol: 'tcp', HostIp: '0.0.0.0', HostPort: 18240 },
    ]);
    e.ok('rm', '-f', 'fmt');
  });
});
