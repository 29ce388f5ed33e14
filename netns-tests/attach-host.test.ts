// tsnet attach never harms the host by mistake: the NIC that carries the host's default route is refused
// unless --force, and what --take-uplink did to the host is undone by the detach of the last container on
// that bridge. Everything runs through the real CLI inside a namespace that plays the host; every check reads
// the kernel with `ip -j`.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ip, ipj, needsRoot, pings, world, type World } from './harness.js';
import { snapshot, tsnet, tsnetOk } from './attach-cli.js';

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
