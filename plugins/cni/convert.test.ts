import { test } from 'node:test';
import assert from 'node:assert/strict';
import { convertResult, fromInternal, toInternal } from './convert.js';
import { dispatch } from './skel.js';
import { probePlugin } from './testdata/probe-plugin.js';
import { CniError, SUPPORTED_VERSIONS, type Result } from './types.js';

const LEGACY: readonly string[] = SUPPORTED_VERSIONS.filter((v) => v.startsWith('0.'));

/** A result as a plugin of version v would print it. */
function wire(v: string): Record<string, unknown> {
  const legacy = LEGACY.includes(v);
  return {
    cniVersion: v,
    interfaces: [
      { name: 'cni0', mac: '02:42:ac:11:00:01' },
      { name: 'eth0', mac: '02:42:ac:11:00:02', sandbox: '/run/netns/x', ...(legacy ? {} : { mtu: 1400 }) },
    ],
    ips: [
      { ...(legacy ? { version: '4' } : {}), interface: 1, address: '10.1.0.5/24', gateway: '10.1.0.1' },
      { ...(legacy ? { version: '6' } : {}), interface: 1, address: 'fd00::5/64', gateway: 'fd00::1' },
    ],
    routes: legacy
      ? [{ dst: '0.0.0.0/0', gw: '10.1.0.1' }, { dst: '::/0' }]
      : [{ dst: '0.0.0.0/0', gw: '10.1.0.1', ...(v === '1.1.0' ? { mtu: 1400, table: 100 } : {}) }, { dst: '::/0' }],
    dns: { nameservers: ['10.1.0.1'], search: ['example.test'] },
  };
}

const FULL: Result = {
  cniVersion: '1.1.0',
  interfaces: [{ name: 'eth0', mac: '02:00:00:00:00:01', mtu: 1500, sandbox: '/run/netns/a', socketPath: '/tmp/s', pciID: '0000:00:01.0' }],
  ips: [{ address: '192.168.7.2/24', gateway: '192.168.7.1', interface: 0 }],
  routes: [{ dst: '0.0.0.0/0', gw: '192.168.7.1', mtu: 1400, advmss: 1360, priority: 10, table: 5, scope: 0 }],
  dns: { nameservers: ['1.1.1.1'], domain: 'd', search: ['s'], options: ['ndots:2'] },
};

for (const v of SUPPORTED_VERSIONS) {
  test(`wire ${v} → internal → wire ${v} is lossless`, () => {
    const w = wire(v);
    assert.deepEqual(fromInternal(toInternal(w), v), w);
  });

  test(`internal → ${v} → internal keeps what ${v} can carry`, () => {
    const back = toInternal(fromInternal(FULL, v));
    if (LEGACY.includes(v)) {
      assert.deepEqual(back, {
        cniVersion: v,
        interfaces: [{ name: 'eth0', mac: '02:00:00:00:00:01', sandbox: '/run/netns/a' }],
        ips: FULL.ips,
        routes: [{ dst: '0.0.0.0/0', gw: '192.168.7.1' }],
        dns: FULL.dns,
      });
      const out = fromInternal(FULL, v) as { ips: { version: string }[] };
      assert.equal(out.ips[0].version, '4');
    } else {
      assert.deepEqual(back, { ...FULL, cniVersion: v });
      const out = fromInternal(FULL, v) as { ips: Record<string, unknown>[] };
      assert.equal('version' in out.ips[0], false, '1.x drops ips[].version');
    }
  });

  for (const to of SUPPORTED_VERSIONS) {
    test(`convert ${v} → ${to} → ${v} round-trips the common fields`, () => {
      const w = wire(v);
      const there = convertResult(w, to);
      assert.equal(there.cniVersion, to);
      const again = toInternal(convertResult(there, v));
      const common = toInternal(convertResult(w, LEGACY.includes(to) ? to : v));
      assert.deepEqual(again, { ...common, cniVersion: v });
    });
  }

  test(`prevResult in ${v} reaches the plugin as 1.x and the result leaves as ${v}`, async () => {
    let seen: Result | undefined;
    const plugin = { ...probePlugin, add: async (c: any, a: any) => ((seen = c.prevResult), probePlugin.add(c, a)) };
    const conf = { cniVersion: v, name: 'n', type: 'probe', prevResult: wire(v) };
    const direct = await dispatchWithoutNetns(plugin, conf);
    assert.ok(seen, 'plugin saw a prevResult');
    assert.equal('version' in ((seen as Result).ips![0] as object), false);
    assert.deepEqual(seen, toInternal(wire(v)));
    const r = direct as { cniVersion: string; ips: Record<string, unknown>[] };
    assert.equal(r.cniVersion, v);
    assert.equal('version' in r.ips[0], LEGACY.includes(v));
    assert.equal(r.ips.length, 3);
  });
}

/**
 * ADD in-process. ADD needs CNI_NETNS to be a namespace file other than our own netns: /proc/self/ns/mnt is on
 * nsfs with another inode, and the nsType stub reports it as a network namespace (no kernel change happens).
 */
async function dispatchWithoutNetns(plugin: any, conf: Record<string, unknown>): Promise<unknown> {
  const env = { CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'c1', CNI_NETNS: '/proc/self/ns/mnt', CNI_IFNAME: 'eth1', CNI_PATH: '/bin' };
  const out = await dispatch(plugin, { name: 'probe' }, env, JSON.stringify(conf), { nsType: () => 0x40000000 });
  assert.equal(out.exitCode, 0, JSON.stringify(out.stdout));
  return out.stdout;
}

test('bad results are refused naming the field', () => {
  assert.throws(
    () => toInternal({ cniVersion: '1.0.0', ips: [{ address: '10.0.0.1' }] }, 'prevResult'),
    (e: CniError) => e.code === 6 && /prevResult\.ips\[0\]\.address/.test(e.message),
  );
  assert.throws(() => toInternal({ cniVersion: '1.0.0', ips: [{ address: '10.0.0.1/8', interface: 3 }] }), /interface: index 3/);
  assert.throws(
    () => toInternal({ cniVersion: '0.4.0', ips: [{ version: '6', address: '10.0.0.1/8' }] }),
    /is "6" but 10.0.0.1\/8 is IPv4/,
  );
  assert.throws(
    () => toInternal({ cniVersion: '0.2.0' }),
    (e: CniError) => e.code === 1,
  );
  assert.throws(
    () => toInternal([]),
    (e: CniError) => e.code === 6,
  );
  assert.throws(() => toInternal({ cniVersion: '1.0.0', interfaces: [{ mac: 'x' }] }), /interfaces\[0\]\.name: is required/);
});
