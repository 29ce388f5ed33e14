// tsnet attach / detach (pipework) on the real kernel, through the real command line in a child process run
// inside namespaces that play hosts. Cross-host: H1 and H2 joined by a veth "wire"; every check reads the
// kernel with `ip -j`, and traffic flows only between the test's namespaces.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { inNs, ip, ipj, needsRoot, pings, world } from './harness.js';
import { snapshot, tsnet, tsnetOk } from './attach-cli.js';

function addrsOf(ns: string, dev: string): string[] {
  return ipj(ns, 'addr', 'show', 'dev', dev)[0]
    .addr_info.filter((a: any) => a.family === 'inet')
    .map((a: any) => `${a.local}/${a.prefixlen}`);
}

describe('tsnet attach across two hosts', { skip: needsRoot }, () => {
  it('br0 holds the wire in each host; C1 and C2 share one L2; route add via the gateway reaches beyond it', async (t) => {
    const w = world(t);
    const [h1, h2, c1, c2, gw, far] = ['h1', 'h2', 'c1', 'c2', 'gw', 'far'].map((l) => w.netns(l)) as [
      string,
      string,
      string,
      string,
      string,
      string,
    ];
    // The wire between the hosts, with an address on H1's end that --take-uplink must move onto br0.
    ip(null, 'link', 'add', 'wa', 'netns', h1, 'type', 'veth', 'peer', 'name', 'wb', 'netns', h2);
    ip(h1, 'link', 'set', 'wa', 'up');
    ip(h2, 'link', 'set', 'wb', 'up');
    ip(h1, 'addr', 'add', '10.77.0.1/24', 'dev', 'wa');
    ip(h2, 'addr', 'add', '10.77.0.2/24', 'dev', 'wb');

    const out1 = tsnetOk(h1, 'attach', 'wa', '--take-uplink', c1, '192.168.115.10/24@192.168.115.2');
    assert.match(out1, /attached eth1 .*192\.168\.115\.10\/24 gw 192\.168\.115\.2 .*bridge br0 \(created\)/);
    tsnetOk(h2, 'attach', 'wb', '--take-uplink', c2, '192.168.115.11/24@192.168.115.2');

    for (const [h, wire] of [
      [h1, 'wa'],
      [h2, 'wb'],
    ] as const) {
      const br = ipj(h, '-d', 'link', 'show', 'br0')[0];
      assert.equal(br.linkinfo.info_kind, 'bridge');
      assert.equal(br.operstate, 'UP');
      assert.equal(ipj(h, 'link', 'show', wire)[0].master, 'br0', `${wire} is a port of br0 in ${h}`);
      assert.deepEqual(addrsOf(h, 'br0'), [h === h1 ? '10.77.0.1/24' : '10.77.0.2/24'], 'the wire address moved onto br0');
      assert.deepEqual(addrsOf(h, wire), []);
    }
    assert.ok(pings(h1, '10.77.0.2'), 'the hosts still reach each other over br0');
    for (const [c, a] of [
      [c1, '192.168.115.10/24'],
      [c2, '192.168.115.11/24'],
    ] as const) {
      const eth1 = ipj(c, 'addr', 'show', 'dev', 'eth1')[0];
      assert.deepEqual(addrsOf(c, 'eth1'), [a]);
      assert.equal(eth1.operstate, 'UP');
      assert.equal(eth1.mtu, 1500, 'takes the host interface MTU');
      const def = ipj(c, 'route', 'show', 'default')[0];
      assert.deepEqual({ gw: def.gateway, dev: def.dev }, { gw: '192.168.115.2', dev: 'eth1' });
      assert.equal(inNs(c, 'cat', '/proc/sys/net/ipv4/conf/eth1/arp_notify').trim(), '1', 'arp_notify on the attached interface');
    }
    assert.ok(pings(c1, '192.168.115.11', 2), 'C1 on H1 pings C2 on H2');

    // The gateway: a third namespace on H1's br0 holding 192.168.115.2, routing to a network behind it.
    tsnetOk(h1, 'attach', 'br0', '-i', 'eth0', gw, '192.168.115.2/24');
    ip(null, 'link', 'add', 'ga', 'netns', gw, 'type', 'veth', 'peer', 'name', 'fa', 'netns', far);
    ip(gw, 'addr', 'add', '192.168.50.1/24', 'dev', 'ga');
    ip(gw, 'link', 'set', 'ga', 'up');
    ip(far, 'addr', 'add', '192.168.50.2/24', 'dev', 'fa');
    ip(far, 'link', 'set', 'fa', 'up');
    ip(far, 'route', 'add', 'default', 'via', '192.168.50.1');
    spawnSync('ip', ['netns', 'exec', gw, 'sysctl', '-qw', 'net.ipv4.ip_forward=1']);
    assert.ok(pings(c2, '192.168.115.2'), 'C2 on H2 reaches the gateway on H1');

    // Without a default route C1 cannot reach 192.168.50.2; the injected route makes it reachable.
    ip(c1, 'route', 'del', 'default');
    assert.equal(pings(c1, '192.168.50.2'), false);
    const added = tsnetOk(h1, 'route', 'add', c1, '192.168.0.0/16', 'via', '192.168.115.2');
    assert.match(added, /added 192\.168\.0\.0\/16 via 192\.168\.115\.2/);
    const r = ipj(c1, 'route', 'show', '192.168.0.0/16')[0];
    assert.deepEqual({ dst: r.dst, gw: r.gateway, dev: r.dev }, { dst: '192.168.0.0/16', gw: '192.168.115.2', dev: 'eth1' });
    assert.ok(pings(c1, '192.168.50.2', 2), 'C1 reaches an address behind the gateway');
    assert.match(tsnetOk(h1, 'route', 'ls', c1), /^192\.168\.0\.0\/16 via 192\.168\.115\.2 dev eth1$/m);

    // Detach removes the container's interface and the host veth, and leaves br0 and the wire alone.
    const portsBefore = ipj(h1, 'link', 'show', 'master', 'br0').length;
    tsnetOk(h1, 'detach', c1);
    assert.equal(
      ipj(c1, 'link', 'show').some((l: any) => l.ifname === 'eth1'),
      false,
    );
    assert.equal(ipj(h1, 'link', 'show', 'master', 'br0').length, portsBefore - 1);
    assert.equal(ipj(h1, 'link', 'show', 'wa')[0].master, 'br0');
  });
});

describe('tsnet attach on one host', { skip: needsRoot }, () => {
  it('sets the MAC, adds an on-link route for a gateway outside the subnet, honours -i and -l', async (t) => {
    const w = world(t);
    const h = w.netns('host');
    const c = w.netns('ctr');
    tsnetOk(h, 'attach', 'br7', '-i', 'net7', '-l', 'hv7', c, '10.88.0.5/32@10.88.0.1', '02:42:0a:58:00:05');
    const l = ipj(c, 'addr', 'show', 'dev', 'net7')[0];
    assert.equal(l.address, '02:42:0a:58:00:05');
    assert.deepEqual(addrsOf(c, 'net7'), ['10.88.0.5/32']);
    const routes = ipj(c, 'route', 'show');
    assert.ok(
      routes.some((r: any) => r.dst === '10.88.0.1' && r.dev === 'net7' && r.scope === 'link'),
      JSON.stringify(routes),
    );
    assert.ok(routes.some((r: any) => r.dst === 'default' && r.gateway === '10.88.0.1'));
    assert.equal(ipj(h, 'link', 'show', 'hv7')[0].master, 'br7');
  });

  it('a NIC as <hostif> gives the container a macvlan of it in bridge mode (this kernel has macvlan)', async (t) => {
    const w = world(t);
    const h = w.netns('host');
    const c = w.netns('ctr');
    const peer = w.netns('peer');
    ip(null, 'link', 'add', 'nic0', 'netns', h, 'type', 'veth', 'peer', 'name', 'nic1', 'netns', peer);
    ip(h, 'link', 'set', 'nic0', 'up');
    ip(peer, 'addr', 'add', '10.97.0.1/24', 'dev', 'nic1');
    ip(peer, 'link', 'set', 'nic1', 'up');
    const out = tsnetOk(h, 'attach', 'nic0', c, '10.97.0.5/24@10.97.0.1');
    assert.match(out, /to macvlan of nic0/);
    const l = ipj(c, '-d', 'link', 'show', 'eth1')[0];
    assert.equal(l.linkinfo.info_kind, 'macvlan');
    assert.equal(l.linkinfo.info_data.mode, 'bridge');
    assert.deepEqual(addrsOf(c, 'eth1'), ['10.97.0.5/24']);
    assert.ok(pings(c, '10.97.0.1'), 'the macvlan reaches the far end of the NIC');
    assert.deepEqual(
      ipj(h, 'link', 'show')
        .map((x: any) => x.ifname)
        .sort(),
      ['lo', 'nic0'],
      'nothing else in the host',
    );
    tsnetOk(h, 'detach', c);
    assert.equal(
      ipj(c, 'link', 'show').some((x: any) => x.ifname === 'eth1'),
      false,
    );
  });

  it('--save appends, --restore replays after the interfaces are gone, present ones are skipped', async (t) => {
    const w = world(t);
    const h = w.netns('host');
    const c = w.netns('ctr');
    const file = join(w.tmpdir(), 'attachments');
    tsnetOk(h, 'attach', '--save', file, 'br0', c, '10.89.0.5/24');
    tsnetOk(h, 'attach', '--save', file, 'br0', '-i', 'eth2', c, '10.90.0.5/24');
    assert.equal(readFileSync(file, 'utf8').trim().split('\n').length, 2);
    ip(c, 'link', 'del', 'eth1');
    const out = tsnetOk(h, 'attach', '--restore', file);
    assert.match(out, /:1: attached eth1/);
    assert.match(out, /:2: skipped: eth2 already present/);
    assert.deepEqual(addrsOf(c, 'eth1'), ['10.89.0.5/24']);
  });

  it('--wait returns once the interface has carrier, and times out clearly when it never appears', async (t) => {
    const w = world(t);
    const h = w.netns('host');
    const c = w.netns('ctr');
    tsnetOk(h, 'attach', 'br0', c, '10.91.0.5/24');
    assert.equal(tsnet(c, 'attach', '--wait').status, 0);
    const r = tsnet(c, 'attach', '--wait', '-i', 'eth9', '--timeout', '0.3');
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /--wait eth9: no interface eth9 appeared within 0\.3s/);
  });

  it('dhcp: a clear error when no client exists, and no client process left behind either way', async (t) => {
    const w = world(t);
    const h = w.netns('host');
    const c = w.netns('ctr');
    const before = snapshot(c);
    // No client anywhere it looks: PATH is an empty directory, and /usr/sbin and /sbin (which it always
    // searches too) are hidden under empty tmpfs in the command's own mount namespace.
    const hide = '/usr/bin/mount -t tmpfs none /usr/sbin && { [ -L /sbin ] || /usr/bin/mount -t tmpfs none /sbin; } && exec "$0" "$@"';
    const r = spawnSync(
      '/usr/sbin/ip',
      [
        'netns',
        'exec',
        h,
        '/bin/sh',
        '-c',
        hide,
        process.execPath,
        join(process.cwd(), 'dist/engine/cli/main.js'),
        'attach',
        'br0',
        c,
        'dhcp',
      ],
      {
        encoding: 'utf8',
        env: { PATH: w.tmpdir() },
      },
    );
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /dhcp: no DHCP client found .*udhcpc, dhcpcd, dhclient/);
    assert.deepEqual(snapshot(c), before, 'nothing left in the container');
    assert.deepEqual(
      ipj(h, 'link', 'show').map((l: any) => l.ifname),
      ['lo'],
      'no bridge or veth left in the host',
    );
  });
});

describe('tsnet attach: every bad argument → clear message, non-zero exit, nothing half-made', { skip: needsRoot }, () => {
  it('refuses each mistake and leaves host and container as they were', async (t) => {
    const w = world(t);
    const h = w.netns('host');
    const c = w.netns('ctr');
    // A bridge with one port and an address, a NIC, and an interface the container already has.
    ip(h, 'link', 'add', 'br0', 'type', 'bridge');
    ip(h, 'addr', 'add', '10.99.0.1/24', 'dev', 'br0');
    ip(h, 'link', 'set', 'br0', 'up');
    ip(null, 'link', 'add', 'nic0', 'netns', h, 'type', 'veth', 'peer', 'name', 'eth1', 'netns', c);
    ip(h, 'link', 'set', 'nic0', 'up');
    ip(h, 'addr', 'add', '10.98.0.1/24', 'dev', 'nic0');
    ip(h, 'tuntap', 'add', 'mode', 'tun', 'name', 'tun9');

    const cases: [string[], RegExp][] = [
      [['attach', 'br0', c, '10.99.0.300/24'], /address "10\.99\.0\.300\/24": .*not an IPv4 or IPv6 address/],
      [['attach', 'br0', c, '10.99.0.5'], /address 10\.99\.0\.5: has no prefix length.*did you mean 10\.99\.0\.5\/24\?/],
      [
        ['attach', 'br0', '-i', 'eth2', `nosuch-${w.id}`, '10.99.0.5/24'],
        /container "nosuch-[^"]+": unknown container: no netns \/run\/netns\/nosuch-/,
      ],
      [['attach', 'br0', '-i', 'eth2', '999999999', '10.99.0.5/24'], /container "999999999": no process 999999999/],
      [['attach', 'br0', c, '10.99.0.5/24'], /container interface eth1: already exists in netns .*pick another name with -i/],
      [['attach', 'lo', '-i', 'eth2', c, '10.99.0.5/24'], /host interface lo: is the loopback interface: it is neither a bridge nor a NIC/],
      [['attach', 'tun9', '-i', 'eth2', c, '10.99.0.5/24'], /host interface tun9: has no Ethernet address .*neither a bridge nor a NIC/],
      [['attach', 'br0', '-i', 'eth2', c, '10.99.0.5/24', '@10'], /@10 on bridge br0: .*VLAN/],
      [
        ['attach', 'nic0', '-i', 'eth2', c, '10.98.0.5/24', '@10'],
        /VLAN sub-interface nic0\.10 of nic0: this kernel has no vlan support \(8021q/,
      ],
      [['attach', 'br0', '-i', 'eth2', c, '10.99.0.5/24', '01:00:5e:00:00:01'], /MAC 01:00:5e:00:00:01: is a multicast address/],
      [['attach', 'br0', '-i', 'eth2', '-l', 'nic0', c, '10.99.0.5/24'], /host-side interface nic0: already exists/],
      [['attach', 'br0', '--take-uplink', '-i', 'eth2', c, '10.99.0.5/24'], /is a bridge, so there is no NIC to take/],
      [['attach', 'br0', c], /missing <ip>\/<len> or dhcp/],
      [['detach', c, '-i', 'eth5'], /container interface eth5: does not exist/],
      [['route', 'add', c, '192.168.1.0/16', 'via', '10.99.0.1'], /host bits set.*did you mean 192\.168\.0\.0\/16\?/],
      [['route', 'add', c, '192.168.0.0/16', 'via', '172.16.0.1'], /gateway 172\.16\.0\.1 is not on a subnet of any interface/],
      [['route', 'add', `nosuch-${w.id}`, '192.168.0.0/16', 'via', '10.99.0.1'], /unknown container/],
      [['route', 'add', c, '192.168.0.0/16', 'via', '10.99.0.1', 'dev', 'eth7'], /dev eth7: no such interface/],
      [['route', 'del', c, '192.168.0.0/16', 'via', '10.99.0.1'], /no such route/],
    ];
    const hostBefore = snapshot(h);
    const ctrBefore = snapshot(c);
    for (const [args, re] of cases) {
      const r = tsnet(h, ...args);
      assert.notEqual(r.status, 0, `${args.join(' ')} must fail; stdout: ${r.stdout}`);
      assert.match(r.stderr, /^tsnet: /, `${args.join(' ')}: one-line message`);
      assert.match(r.stderr, re, `${args.join(' ')}`);
      assert.equal(r.stderr.trim().split('\n').length, 1, `${args.join(' ')}: one line, got ${r.stderr}`);
      assert.deepEqual(snapshot(h), hostBefore, `${args.join(' ')}: host unchanged`);
      assert.deepEqual(snapshot(c), ctrBefore, `${args.join(' ')}: container unchanged`);
    }
  });
});
