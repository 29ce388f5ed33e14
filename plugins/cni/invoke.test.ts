// The invoker against Debian's reference plugins (/usr/lib/cni): bridge + host-local, then tuning, in a netns
// the test creates; observed with `ip -j`. Plus the in-process path and the cache/GC bookkeeping.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ipj, needsRoot, world } from '../../netns-tests/harness.js';
import { ResultCache } from './cache.js';
import { findNetwork, parseConfig } from './conflist.js';
import { Invoker } from './invoke.js';
import { probePlugin } from './testdata/probe-plugin.js';
import { CniError } from './types.js';

const refs = ['bridge', 'host-local', 'tuning'].every((p) => existsSync(`/usr/lib/cni/${p}`));
const skip = needsRoot || (!refs && 'reference plugins not installed (/usr/lib/cni)');

function subnet(): string {
  const a = 200 + Math.floor(Math.random() * 50);
  const b = Math.floor(Math.random() * 256);
  return `10.${a}.${b}`;
}

for (const cniVersion of ['0.4.0', '1.0.0']) {
  test(`conflist [bridge+host-local, tuning] ADD/CHECK/DEL via exec, cniVersion ${cniVersion}`, { skip }, async (t) => {
    const w = world(t);
    const ns = w.netns('inv');
    const br = w.linkName('br');
    const dir = w.tmpdir();
    const net = `tsn-inv-${w.id}`;
    const s = subnet();
    const confDir = join(dir, 'net.d');
    mkdirSync(confDir);
    writeFileSync(join(confDir, '00-other.conf'), JSON.stringify({ cniVersion: '1.0.0', name: 'unrelated', type: 'loopback' }));
    writeFileSync(
      join(confDir, '10-test.conflist'),
      JSON.stringify({
        cniVersion,
        name: net,
        plugins: [
          {
            type: 'bridge',
            bridge: br,
            isGateway: false,
            ipMasq: false,
            ipam: {
              type: 'host-local',
              ranges: [[{ subnet: `${s}.0/24`, gateway: `${s}.1` }]],
              routes: [{ dst: '0.0.0.0/0' }],
              dataDir: join(dir, 'ipam'),
            },
          },
          { type: 'tuning', mtu: 1400, capabilities: { mac: true } },
        ],
      }),
    );
    const list = findNetwork(net, confDir);
    const cache = new ResultCache(join(dir, 'cache'));
    const inv = new Invoker({ path: ['/usr/lib/cni'], cache });
    const rt = { containerId: `ctr-${w.id}`, netns: `/run/netns/${ns}`, ifname: 'eth0', capabilityArgs: { mac: '02:aa:bb:cc:dd:01' } };

    const res = (await inv.add(list, rt)) as any;
    assert.equal(res.cniVersion, cniVersion);
    assert.equal(res.ips.length, 1);
    assert.match(res.ips[0].address, new RegExp(`^${s.replace(/\./g, '\\.')}\\.\\d+/24$`));
    assert.equal('version' in res.ips[0], cniVersion === '0.4.0');
    const eth0 = ipj(ns, 'addr', 'show', 'dev', 'eth0')[0];
    assert.equal(eth0.mtu, 1400, 'tuning applied mtu');
    assert.equal(eth0.address, '02:aa:bb:cc:dd:01', 'runtimeConfig.mac injected for the declared capability');
    assert.ok(eth0.addr_info.some((a: any) => `${a.local}/${a.prefixlen}` === res.ips[0].address));
    assert.ok(ipj(ns, 'route', 'show').some((r: any) => r.dst === 'default' && r.gateway === `${s}.1`));
    assert.equal(ipj(null, 'link', 'show', 'dev', br)[0].ifname, br);
    assert.ok(cache.read(net, rt.containerId, 'eth0'), 'ADD result cached');

    await inv.check(list, rt);

    const addr = res.ips[0].address;
    await inv.del(list, rt);
    assert.equal(
      ipj(ns, 'link', 'show').some((l: any) => l.ifname === 'eth0'),
      false,
      'veth gone after DEL',
    );
    assert.equal(cache.read(net, rt.containerId, 'eth0'), undefined, 'cache entry removed');
    const leases = readdirSync(join(dir, 'ipam', net)).filter((f) => /^\d/.test(f));
    assert.deepEqual(leases, [], `host-local released ${addr}`);
    await inv.del(list, rt); // idempotent
    await assert.rejects(inv.check(list, rt), (e: CniError) => e.code === 3 && /no cached ADD result/.test(e.message));
  });
}

test('GC deletes cached attachments that are not valid; STATUS is a no-op before 1.1.0', { skip }, async (t) => {
  const w = world(t);
  const ns1 = w.netns('gc');
  const ns2 = w.netns('gc');
  const br = w.linkName('br');
  const dir = w.tmpdir();
  const s = subnet();
  const text = JSON.stringify({
    cniVersion: '1.0.0',
    name: `tsn-gc-${w.id}`,
    plugins: [{ type: 'bridge', bridge: br, ipam: { type: 'host-local', subnet: `${s}.0/24`, dataDir: join(dir, 'ipam') } }],
  });
  const list = parseConfig(text, 'gc test');
  const cache = new ResultCache(join(dir, 'cache'));
  const inv = new Invoker({ path: ['/usr/lib/cni'], cache });
  const a = { containerId: `a-${w.id}`, netns: `/run/netns/${ns1}`, ifname: 'eth0' };
  const b = { containerId: `b-${w.id}`, netns: `/run/netns/${ns2}`, ifname: 'eth0' };
  await inv.add(list, a);
  await inv.add(list, b);
  const removed = await inv.gc(list, [{ containerId: a.containerId, ifname: 'eth0' }]);
  assert.deepEqual(removed, [{ containerId: b.containerId, ifname: 'eth0' }]);
  assert.equal(
    ipj(ns2, 'link', 'show').some((l: any) => l.ifname === 'eth0'),
    false,
    'GC ran DEL for b',
  );
  assert.equal(
    ipj(ns1, 'link', 'show').some((l: any) => l.ifname === 'eth0'),
    true,
    'a kept',
  );
  assert.equal(cache.list(list.name).length, 1);
  await inv.status(list);
  await inv.del(list, a);
});

test('in-process plugins go through the same validation and conversion as exec', async (t) => {
  const w = world(t);
  const dir = w.tmpdir();
  const inv = new Invoker({
    path: ['/nonexistent'],
    cache: new ResultCache(join(dir, 'cache')),
    inProcess: { probe: { plugin: probePlugin, opts: { name: 'probe' } } },
  });
  const list = parseConfig(
    JSON.stringify({ cniVersion: '0.3.1', name: 'inproc', plugins: [{ type: 'probe' }, { type: 'probe' }] }),
    'inproc',
  );
  // DEL needs no netns: exercise chaining, reverse order and caching without a kernel.
  const rt = { containerId: 'c1', netns: '', ifname: 'eth0' };
  await assert.rejects(
    inv.add(list, rt),
    (e: CniError) => e.code === 4 && /CNI_NETNS/.test(e.message),
    'ADD without netns refused by the skel',
  );
  const res = (await inv.add(list, { ...rt, netns: '/proc/self/ns/mnt' }).catch((e) => e)) as CniError;
  // /proc/self/ns/mnt is not a network namespace: the real nsType check (native addon) refuses it.
  assert.equal(res.code, 4);
  assert.match(res.message, /plugin type="probe" name="inproc" ADD failed: CNI_NETNS/);
  const bad = parseConfig(JSON.stringify({ cniVersion: '1.0.0', name: 'inproc', plugins: [{ type: 'probe', mtu: 'x' }] }), 'inproc');
  const inv2 = new Invoker({
    path: ['/nonexistent'],
    cache: false,
    inProcess: {
      probe: {
        plugin: probePlugin,
        opts: {
          name: 'probe',
          validate: () => {
            throw new CniError(7, 'probe.mtu: must be integer');
          },
        },
      },
    },
  });
  await assert.rejects(inv2.del(bad, rt), (e: CniError) => e.code === 7 && /probe\.mtu/.test(e.message));
  await inv.del(list, rt);
  await assert.rejects(
    new Invoker({ path: ['/nonexistent'], cache: false }).del(list, rt),
    (e: CniError) => e.code === 50 && /failed to find plugin 'probe'/.test(e.message),
  );
});

test('in-process chain with a real netns: prevResult flows, result converted, cached', { skip: needsRoot }, async (t) => {
  const w = world(t);
  const ns = w.netns('inp');
  const dir = w.tmpdir();
  const cache = new ResultCache(join(dir, 'cache'));
  const inv = new Invoker({ path: ['/nonexistent'], cache, inProcess: { probe: { plugin: probePlugin, opts: { name: 'probe' } } } });
  const list = parseConfig(
    JSON.stringify({ cniVersion: '0.4.0', name: 'inproc', plugins: [{ type: 'probe' }, { type: 'probe' }] }),
    'inproc',
  );
  const rt = { containerId: 'c1', netns: `/run/netns/${ns}`, ifname: 'eth0' };
  const res = (await inv.add(list, rt)) as any;
  assert.equal(res.cniVersion, '0.4.0');
  assert.equal(res.ips.length, 2, "second plugin saw the first one's result");
  assert.equal(res.ips[1].version, '4');
  await inv.check(list, rt);
  await inv.del(list, rt);
  assert.equal(cache.read('inproc', 'c1', 'eth0'), undefined);
});
