// tsnet attach never harms the host by mistake: the NIC that carries the host's default route is refused
// unless --force, and what --take-uplink did to the host is undone by the detach of the last container on
// that bridge. Everything runs through the real CLI inside a namespace that plays the host; every check reads
// the kernel with `ip -j`.
import assert from 'node:assert/strict';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { cniOk } from './cni-exec.js';
import { ip, ipj, needsRoot, pings, world, type World } from './harness.js';
import { cliRoot, snapshot, tsnet, tsnetOk } from './attach-cli.js';

/** A namespace that plays the host, with an uplink NIC `nic0` (a veth to `far`) carrying its default route. */
function hostWithUplink(w: World) {
  const h = w.netns('host');
  const far = w.netns('far');
  const c = w.netns('ctr');
  ip(null, 'link', 'add', 'nic0', 'netns', h, 'type', 'veth', 'peer', 'name', 'nic1', 'netns', far);
  ip(h, 'addr', 'add', '10.66.0.2/24', 'dev', 'nic0');
  ip(h, 'link', 'set', 'nic0', 'up');
  ip(far, 'addr', 'add', '10.66.0.1/24', 'dev', 'nic1');
  ip(far, 'link', 'set', 'nic1', 'up');
  ip(h, 'route', 'add', 'default', 'via', '10.66.0.1');
  return { h, far, c };
}

describe("tsnet attach refuses the NIC that carries the host's default route unless --force", { skip: needsRoot }, () => {
  it('macvlan, --take-uplink and --uplink on it are refused with the reason (IPv4, IPv6, multipath, stacked); --force does it', async (t) => {
    const w = world(t);
    const { h, far, c } = hostWithUplink(w);
    const peer = w.netns('peer');
    // nic6: only an IPv6 default route; nicm/nicn: a multipath default route in table 100; nics: a macvlan on
    // it (mv0) carries a default route in table 200.
    for (const [n, p] of [
      ['nic6', 'p6'],
      ['nicm', 'pm'],
      ['nicn', 'pn'],
      ['nics', 'ps'],
    ] as const) {
      ip(null, 'link', 'add', n, 'netns', h, 'type', 'veth', 'peer', 'name', p, 'netns', peer);
      ip(h, 'link', 'set', n, 'up');
    }
    ip(h, 'addr', 'add', 'fd00:66::2/64', 'dev', 'nic6', 'nodad');
    ip(h, '-6', 'route', 'add', 'default', 'via', 'fd00:66::1', 'dev', 'nic6');
    ip(h, 'addr', 'add', '10.68.0.2/24', 'dev', 'nicm');
    ip(h, 'addr', 'add', '10.69.0.2/24', 'dev', 'nicn');
    ip(
      h,
      'route',
      'add',
      'default',
      'table',
      '100',
      'nexthop',
      'via',
      '10.68.0.1',
      'dev',
      'nicm',
      'nexthop',
      'via',
      '10.69.0.1',
      'dev',
      'nicn',
    );
    ip(h, 'link', 'add', 'mv0', 'link', 'nics', 'type', 'macvlan', 'mode', 'bridge');
    ip(h, 'addr', 'add', '10.70.0.2/24', 'dev', 'mv0');
    ip(h, 'link', 'set', 'mv0', 'up');
    ip(h, 'route', 'add', 'default', 'via', '10.70.0.1', 'table', '200');

    const cases: [string[], RegExp][] = [
      [
        ['attach', 'nic0', c, '10.66.0.9/24'],
        /host interface nic0: carries the host's default route \(default via 10\.66\.0\.1 dev nic0\): a macvlan of it would put the container straight on the host's uplink network \(.*add --force/,
      ],
      [
        ['attach', 'nic0', '--take-uplink', c, '10.66.0.9/24'],
        /uplink nic0: carries the host's default route \(default via 10\.66\.0\.1 dev nic0\): taking it into bridge br0 would move the host's uplink .*--force/,
      ],
      [
        ['attach', 'br9', '--uplink', 'nic0', c, '10.66.0.9/24'],
        /uplink nic0: carries the host's default route \(default via 10\.66\.0\.1 dev nic0\): taking it into bridge br9/,
      ],
      [
        ['attach', 'nic6', c, '10.71.0.9/24'],
        /host interface nic6: carries the host's default route \(default \(IPv6\) via fd00:66::1 dev nic6\)/,
      ],
      [
        ['attach', 'nicn', '--take-uplink', c, '10.69.0.9/24'],
        /uplink nicn: carries the host's default route \(default via 10\.69\.0\.1 dev nicn table 100\)/,
      ],
      [
        ['attach', 'nics', c, '10.70.0.9/24'],
        /host interface nics: carries the host's default route \(default via 10\.70\.0\.1 dev mv0 table 200\)/,
      ],
    ];
    const hostBefore = snapshot(h);
    const ctrBefore = snapshot(c);
    for (const [args, re] of cases) {
      const r = tsnet(h, ...args);
      assert.notEqual(r.status, 0, `${args.join(' ')} must be refused; stdout: ${r.stdout}`);
      assert.match(r.stderr, re, args.join(' '));
      assert.equal(r.stderr.trim().split('\n').length, 1, `${args.join(' ')}: one line, got ${r.stderr}`);
      assert.deepEqual(snapshot(h), hostBefore, `${args.join(' ')}: host unchanged`);
      assert.deepEqual(snapshot(c), ctrBefore, `${args.join(' ')}: container unchanged`);
    }

    // --force: a macvlan of the uplink, on the uplink's segment.
    assert.match(tsnetOk(h, 'attach', '--force', 'nic0', c, '10.66.0.9/24'), /to macvlan of nic0/);
    assert.equal(ipj(c, '-d', 'link', 'show', 'eth1')[0].linkinfo.info_kind, 'macvlan');
    assert.ok(pings(c, '10.66.0.1'), 'the forced macvlan reaches the far end of the uplink');
    assert.ok(pings(far, '10.66.0.2'), 'the host keeps its uplink');
    tsnetOk(h, 'detach', c);
    assert.deepEqual(snapshot(h), hostBefore, 'detach leaves the host as it was');
  });
});

function recordFiles(root: string): string[] {
  try {
    return readdirSync(join(root, 'attachments', 'uplinks')).filter((f) => f.endsWith('.json'));
  } catch {
    return [];
  }
}

describe('detach of the last container undoes what --take-uplink did to the host', { skip: needsRoot }, () => {
  it('the NIC leaves the bridge with its addresses and routes, the bridge tsnet made goes; not while a container remains', async (t) => {
    const w = world(t);
    const { h, far, c } = hostWithUplink(w);
    const c2 = w.netns('ctr2');
    ip(h, 'addr', 'add', 'fd00:66::2/64', 'dev', 'nic0', 'nodad');
    ip(far, 'addr', 'add', 'fd00:66::1/64', 'dev', 'nic1', 'nodad');
    ip(h, 'route', 'add', '10.99.0.0/16', 'via', '10.66.0.1', 'metric', '50');
    ip(h, 'route', 'add', 'fd00:99::/64', 'via', 'fd00:66::1');
    ip(h, 'route', 'add', '10.98.0.0/16', 'via', '10.66.0.1', 'table', '100');
    const before = snapshot(h);
    const root = cliRoot();

    // The host's uplink, taken on purpose (--force): a bridge br0 made for it holds nic0, addresses and routes move.
    assert.match(tsnetOk(h, 'attach', '--force', '--take-uplink', 'nic0', c, '10.66.0.9/24@10.66.0.1'), /bridge br0 \(created\)/);
    assert.equal(ipj(h, 'link', 'show', 'nic0')[0].master, 'br0');
    assert.deepEqual(
      ipj(h, 'addr', 'show', 'dev', 'br0')[0]
        .addr_info.filter((a: any) => a.scope === 'global')
        .map((a: any) => `${a.local}/${a.prefixlen}`)
        .sort(),
      ['10.66.0.2/24', 'fd00:66::2/64'],
    );
    assert.equal(ipj(h, 'route', 'show', 'default')[0].dev, 'br0', "the host's default route moved onto br0");
    assert.ok(pings(h, '10.66.0.1'), 'the host keeps its uplink through br0');
    assert.ok(pings(c, '10.66.0.1'), "the container is on the uplink's segment");
    // What was done is on record, root-only.
    const files = recordFiles(root);
    assert.equal(files.length, 1, 'one record for br0');
    assert.equal(statSync(join(root, 'attachments', 'uplinks')).mode & 0o777, 0o700);
    assert.equal(statSync(join(root, 'attachments', 'uplinks', files[0]!)).mode & 0o777, 0o600);

    // A second container on the same bridge keeps it as it is when the first goes.
    tsnetOk(h, 'attach', 'br0', c2, '10.66.0.10/24');
    tsnetOk(h, 'detach', c);
    assert.equal(ipj(h, 'link', 'show', 'nic0')[0].master, 'br0', 'a container remains: nic0 stays in br0');
    assert.ok(pings(c2, '10.66.0.1'));
    assert.equal(recordFiles(root).length, 1);

    // The last one goes: the host is as it was before the attach.
    tsnetOk(h, 'detach', c2);
    assert.deepEqual(snapshot(h), before, 'links, addresses and routes of the host as before --take-uplink');
    assert.equal(
      ipj(h, 'link', 'show').some((l: any) => l.ifname === 'br0'),
      false,
      'the bridge tsnet made is gone',
    );
    assert.ok(pings(h, '10.66.0.1'), 'the host reaches its gateway over nic0 again');
    assert.deepEqual(recordFiles(root), [], 'the record is gone with what it recorded');
  });

  it('--uplink into a bridge that existed before: the NIC is given back and the bridge stays, as it was', async (t) => {
    const w = world(t);
    const h = w.netns('host');
    const peer = w.netns('peer');
    const c = w.netns('ctr');
    ip(null, 'link', 'add', 'nicx', 'netns', h, 'type', 'veth', 'peer', 'name', 'px', 'netns', peer);
    ip(h, 'link', 'set', 'nicx', 'up');
    ip(h, 'addr', 'add', '10.72.0.2/24', 'dev', 'nicx');
    ip(h, 'route', 'add', '10.73.0.0/16', 'via', '10.72.0.1');
    ip(h, 'link', 'add', 'brx', 'type', 'bridge');
    ip(h, 'link', 'set', 'brx', 'up');
    const before = snapshot(h);
    tsnetOk(h, 'attach', 'brx', '--uplink', 'nicx', c, '10.72.0.9/24');
    assert.equal(ipj(h, 'link', 'show', 'nicx')[0].master, 'brx');
    assert.ok(ipj(h, 'route', 'show').some((r: any) => r.dst === '10.73.0.0/16' && r.dev === 'brx'));
    tsnetOk(h, 'detach', c);
    assert.deepEqual(snapshot(h), before, 'brx is back to its own MAC, nicx has its address and route');
  });

  it('a container that died without detach: the CNI DEL of its attachment gives the uplink back', async (t) => {
    const w = world(t);
    const h = w.netns('host');
    const peer = w.netns('peer');
    const c = w.netns('ctr');
    ip(null, 'link', 'add', 'nicu', 'netns', h, 'type', 'veth', 'peer', 'name', 'pu', 'netns', peer);
    ip(h, 'link', 'set', 'nicu', 'up');
    ip(h, 'addr', 'add', '10.74.0.2/24', 'dev', 'nicu');
    const before = snapshot(h);
    const root = w.tmpdir();
    const call = {
      hostNs: h,
      plugin: 'attach',
      netns: `/run/netns/${c}`,
      ifname: 'eth1',
      env: { TSNET_ROOT: root },
      conf: { cniVersion: '1.0.0', name: 'lan', type: 'attach', bridge: 'bru', uplink: 'nicu', address: '10.74.0.9/24' },
    };
    // An attachment that takes no NIC leaves nothing in the state root once deleted (its record goes with it).
    const plain = { ...call, ifname: 'eth2', conf: { ...call.conf, bridge: 'brp', uplink: undefined, address: '10.75.0.9/24' } };
    cniOk({ ...plain, command: 'ADD' });
    cniOk({ ...plain, command: 'DEL' });
    ip(h, 'link', 'del', 'brp');
    assert.deepEqual(readdirSync(root), [], 'nothing left without a NIC taken');
    cniOk({ ...call, command: 'ADD' });
    assert.equal(ipj(h, 'link', 'show', 'nicu')[0].master, 'bru');
    assert.equal(recordFiles(root).length, 1);
    ip(null, 'netns', 'del', c); // the container is gone, and its veth with it once the kernel has cleaned the netns up
    const ports = () => ipj(h, 'link', 'show', 'master', 'bru').map((l: any) => l.ifname);
    for (let i = 0; i < 1000 && ports().length > 1; i++) await new Promise((res) => setTimeout(res, 10));
    assert.deepEqual(ports(), ['nicu'], 'only the NIC is left on the bridge');
    cniOk({ ...call, command: 'DEL' });
    assert.deepEqual(snapshot(h), before);
    assert.deepEqual(recordFiles(root), []);
  });
});
