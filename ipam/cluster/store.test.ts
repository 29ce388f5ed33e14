// The cluster store against a real etcd on loopback (started here, stopped on every path).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ClusterStore, ClusterStoreError, macForAddress, parseStoreUrl, type HostRecord } from './store.js';
import { startEtcd, needsEtcd, type EtcdServer } from './testing/etcd.js';
import { containsAddr, parseAddr, parseCidr } from '../cidr.js';
import { freeIn, resolverAddress, resolverFor } from './local.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

describe('cluster store URL and MAC', () => {
  it('parses etcd:// lists and refuses other schemes', () => {
    assert.deepEqual(parseStoreUrl('etcd://10.0.0.1:2379,10.0.0.2:2379'), {
      hosts: ['http://10.0.0.1:2379', 'http://10.0.0.2:2379'],
      tls: false,
    });
    assert.deepEqual(parseStoreUrl('etcds://a:2379').hosts, ['https://a:2379']);
    assert.throws(() => parseStoreUrl('redis://x'), /not an etcd URL/);
  });
  it('derives the MAC from the address', () => {
    assert.equal(macForAddress('10.128.0.5'), '02:42:0a:80:00:05');
  });
});

describe('cluster store on etcd', { skip: needsEtcd }, () => {
  let etcd: EtcdServer;
  let stores: ClusterStore[] = [];
  let cacheDir: string;
  const open = (opts: { prefix?: string; url?: string } = {}): ClusterStore => {
    const s = new ClusterStore({
      url: opts.url ?? etcd.url,
      prefix: opts.prefix ?? `/t${Math.random().toString(16).slice(2, 8)}/`,
      cacheDir,
    });
    stores.push(s);
    return s;
  };
  before(async () => {
    cacheDir = mkdtempSync(join(tmpdir(), 'tsnet-cluster-cache-'));
    etcd = await startEtcd();
  });
  after(async () => {
    for (const s of stores) s.close();
    stores = [];
    await etcd?.dispose();
    rmSync(cacheDir, { recursive: true, force: true });
  });

  it('creates a network once, joins it after, and refuses a mismatch naming the stored values', async () => {
    const s = open();
    const a = await s.ensureNetwork({ name: 'ov', subnet: '10.77.0.0/16', vni: 77 });
    assert.equal(a.created, true);
    const b = await s.ensureNetwork({ name: 'ov' });
    assert.equal(b.created, false);
    assert.deepEqual(b.network, a.network);
    await assert.rejects(s.ensureNetwork({ name: 'ov', subnet: '10.78.0.0/16' }), (e: Error) => {
      assert.ok(e instanceof ClusterStoreError);
      assert.match(e.message, /subnet 10\.77\.0\.0\/16 \(asked 10\.78\.0\.0\/16\)/);
      return true;
    });
    await assert.rejects(s.ensureNetwork({ name: 'ov2', subnet: '10.77.5.0/24' }), /overlaps overlay network "ov"/);
  });

  it("picks a free subnet avoiding every registered host's routes and other networks", async () => {
    const s = open();
    await s.ensureHost('h1', '192.0.2.1', ['10.128.0.0/16']);
    await s.ensureNetwork({ name: 'first', subnet: '10.129.0.0/16' });
    const { network } = await s.ensureNetwork({ name: 'auto', occupied: [{ prefix: '10.130.0.0/16', what: 'mine' }] });
    assert.equal(network.subnet, '10.131.0.0/16');
    assert.notEqual(network.vni, (await s.getNetwork('first'))!.vni);
  });

  it("a host's first start on a network reads the networks once and the blocks once (each read a round trip)", async () => {
    const s = open();
    const reads: string[] = [];
    const kv = s.client.kv;
    const range = kv.range.bind(kv);
    kv.range = (req, opts) => {
      reads.push(
        Buffer.from(req.key ?? '')
          .toString()
          .slice(s.key('').length),
      );
      return range(req, opts);
    };
    const req = { host: 'h1', vtep: '192.0.2.1', routes: [], ifname: 'eth0' };
    const created = await s.acquire({ ...req, network: { name: 'ov', subnet: '10.81.0.0/24' }, containerId: 'c1' });
    assert.equal(created.fromCache, false);
    const count = (what: string) => reads.filter((k) => k.startsWith(what)).length;
    assert.equal(count('networks/'), 1, `networks read ${count('networks/')} times: ${reads.join(', ')}`);
    assert.equal(count('blocks/'), 1, `blocks read ${count('blocks/')} times: ${reads.join(', ')}`);
    // another host joining it: the same
    reads.length = 0;
    const joined = await s.acquire({ ...req, host: 'h2', vtep: '192.0.2.2', network: { name: 'ov' }, containerId: 'c2' });
    assert.equal(joined.network.subnet, '10.81.0.0/24');
    assert.notEqual(joined.endpoint.address, created.endpoint.address);
    assert.equal(count('networks/'), 1, `networks read ${count('networks/')} times: ${reads.join(', ')}`);
    assert.equal(count('blocks/'), 1, `blocks read ${count('blocks/')} times: ${reads.join(', ')}`);
  });

  it('registers a host once when its ADDs run at once: they all share one lease', async () => {
    const s = open();
    const recs = await Promise.all(Array.from({ length: 10 }, () => s.ensureHost('busy', '192.0.2.7', [], 30)));
    assert.equal(new Set(recs.map((r) => r.lease)).size, 1);
    assert.equal((await s.host('busy'))!.lease, recs[0]!.lease);
  });

  it('hands out distinct addresses to hosts allocating at once, each from its own blocks', async () => {
    const s = open();
    const { network } = await s.ensureNetwork({ name: 'ov', subnet: '10.60.0.0/24', blockPrefix: 28 });
    const hosts: [string, HostRecord][] = [];
    for (const h of ['h1', 'h2', 'h3']) hosts.push([h, await s.ensureHost(h, `192.0.2.${hosts.length + 1}`, [])]);
    const eps = await Promise.all(
      hosts.flatMap(([h, rec]) => Array.from({ length: 20 }, (_, i) => s.allocate(network, h, rec, `${h}-c${i}`, 'eth0'))),
    );
    const addrs = eps.map((e) => e.address);
    assert.equal(new Set(addrs).size, 60, 'sixty distinct addresses');
    for (const e of eps) assert.ok(containsAddr(parseCidr(network.subnet).prefix, parseAddr(e.address)));
    assert.ok(!addrs.includes('10.60.0.0') && !addrs.includes('10.60.0.255'));
    // each host's addresses lie in blocks that host holds, and no block has two hosts
    const blocks = await s.client
      .getAll()
      .prefix(s.key('blocks', 'ov', ''))
      .strings();
    const holder = new Map(Object.entries(blocks).map(([k, v]) => [k.split('/').pop()!.replace('_', '/'), JSON.parse(v).host as string]));
    for (const e of eps) {
      const b = [...holder.keys()].find((c) => containsAddr(parseCidr(c).prefix, parseAddr(e.address)));
      assert.equal(holder.get(b!), e.host, `${e.address} is in a block of ${e.host}`);
    }
    // concurrent ADDs on one host claim blocks one at a time: 20 addresses take two /28s per host, not more
    for (const [h] of hosts) assert.equal([...holder.values()].filter((x) => x === h).length, 2, `${h} holds two blocks`);
    // idempotent: the same owner gets the same address
    assert.equal((await s.allocate(network, 'h1', hosts[0]![1], 'h1-c3', 'eth0')).address, eps[3]!.address);
    // released: gone from the host's record, and handed out again
    assert.equal(await s.release('ov', 'h1', 'h1-c0', 'eth0'), true);
    assert.equal(await s.lookup('ov', 'h1', 'h1-c0', 'eth0'), undefined);
    assert.equal(await s.release('ov', 'h1', 'h1-c0', 'eth0'), false);
    const again = await s.allocate(network, 'h1', hosts[0]![1], 'h1-new', 'eth0');
    assert.equal(again.address, eps[0]!.address);
  });

  it("keeps each host's container names under its lease: replaced, removed, gone with the host", async () => {
    const s = open();
    await s.ensureNetwork({ name: 'ov', subnet: '10.68.0.0/24', blockPrefix: 28 });
    const a = await s.ensureHost('a', '192.0.2.1', [], 600);
    const b = await s.ensureHost('b', '192.0.2.2', [], 600);
    const web = { containerId: 'c1', ifname: 'eth0', name: 'web', aliases: ['www'], ips: ['10.68.0.2'] };
    const db = { containerId: 'c2', ifname: 'eth0', name: 'db', aliases: [], ips: ['10.68.0.18'] };
    await s.publishNames('ov', 'a', a.lease, [web]);
    await s.publishNames('ov', 'b', b.lease, [db]);
    assert.deepEqual([...(await s.names('ov'))].sort(), [
      ['a', [web]],
      ['b', [db]],
    ]);
    await s.publishNames('ov', 'a', a.lease, []);
    assert.deepEqual([...(await s.names('ov')).keys()], ['b'], "a host's last name gone: its key too");
    assert.equal(await s.reclaimHost('b'), true);
    assert.deepEqual([...(await s.names('ov')).keys()], [], "the host's lease revoked: its names go with it");
    await s.publishNames('ov', 'a', a.lease, [web]);
    await s.leave('ov', 'a');
    assert.deepEqual([...(await s.names('ov')).keys()], [], 'a host that leaves the network takes its names');
  });

  it("never hands out a block's resolver address", () => {
    const sub = parseCidr('10.69.0.0/24').prefix;
    assert.equal(resolverAddress(parseCidr('10.69.0.0/26').prefix, sub), '10.69.0.1', "the subnet's first block: its second address");
    assert.equal(resolverAddress(parseCidr('10.69.0.64/26').prefix, sub), '10.69.0.64');
    assert.equal(resolverFor('10.69.0.100', '10.69.0.0/24', 26), '10.69.0.64');
    assert.equal(freeIn(parseCidr('10.69.0.64/26').prefix, sub, new Set()), '10.69.0.65');
    assert.equal(freeIn(parseCidr('10.69.0.0/26').prefix, sub, new Set()), '10.69.0.2');
  });

  it("gives a dead host's blocks and addresses back: after its lease expires, or at once on reclaim", async () => {
    const s = open();
    const { network } = await s.ensureNetwork({ name: 'ov', subnet: '10.61.0.0/24', blockPrefix: 28 });
    const dying = await s.ensureHost('dying', '192.0.2.9', [], 2);
    const reclaimed = await s.ensureHost('gone', '192.0.2.10', [], 600);
    await s.join('ov', 'dying', dying);
    await s.join('ov', 'gone', reclaimed);
    await s.allocate(network, 'dying', dying, 'c1', 'eth0');
    await s.allocate(network, 'gone', reclaimed, 'c2', 'eth0');
    assert.equal((await s.blocks('ov')).length, 2);
    assert.equal(await s.renewLease(dying.lease), true);
    assert.equal(await s.reclaimHost('gone'), true);
    assert.deepEqual(
      (await s.blocks('ov')).map((e) => e.host),
      ['dying'],
    );
    // not renewed: etcd expires the lease (TTL 2 s) and everything under it
    for (let i = 0; i < 200 && (await s.blocks('ov')).length > 0; i++) await sleep(100);
    assert.deepEqual(await s.blocks('ov'), []);
    assert.deepEqual(await s.members('ov'), []);
    assert.equal(await s.host('dying'), undefined);
    assert.equal(await s.renewLease(dying.lease), false);
  });

  it('starts that fit in a held block ask etcd nothing: they go on with etcd stopped; one that needs etcd fails fast naming it', async () => {
    // an etcd of this test's own, stopped half-way
    const own = await startEtcd();
    try {
      const s = open({ url: own.url });
      const req = (id: string, net = 'ov') => ({
        network: { name: net, subnet: net === 'ov' ? '10.62.0.0/24' : '10.63.0.0/24', blockPrefix: 28 },
        host: 'h1',
        vtep: '192.0.2.1',
        routes: [],
        leaseTtl: 60,
        containerId: id,
        ifname: 'eth0',
      });
      const first = await s.acquire(req('c0'));
      assert.equal(first.fromCache, false, 'the first start registers the host and claims a block in etcd');
      const second = await s.acquire(req('c1'));
      assert.equal(second.fromCache, true, 'the next start in the held block is answered by the host');
      await own.stop();
      // 12 more: the /28 has 16 addresses, the subnet's first (10.62.0.0) and the block's resolver address
      // (10.62.0.1) are never handed out, c0 and c1 hold two
      const more = [];
      for (let i = 2; i < 14; i++) more.push(await s.acquire(req(`c${i}`)));
      assert.ok(more.every((m) => m.fromCache));
      const addrs = [first, second, ...more].map((m) => m.endpoint.address);
      assert.equal(new Set(addrs).size, 14, addrs.join(' '));
      assert.ok(!addrs.includes('10.62.0.1'), "the resolver address is no container's");
      assert.equal(await s.release('ov', 'h1', 'c3', 'eth0'), true, 'DEL needs no etcd either');
      assert.equal((await s.acquire(req('c3b'))).endpoint.address, more[1]!.endpoint.address);
      // the block is full now, and another network was never joined here: both need etcd, which is down
      for (const r of [req('c14'), req('x', 'other')]) {
        await assert.rejects(s.acquire(r), (e: Error) => {
          assert.ok(e instanceof ClusterStoreError, String(e));
          assert.match(e.message, new RegExp(`cluster store ${own.url}: unreachable`));
          assert.equal((e as ClusterStoreError).cniCode, 11);
          return true;
        });
      }
      await own.restart();
      const next = await s.acquire(req('c15'));
      assert.equal(next.fromCache, false);
      assert.ok(!addrs.includes(next.endpoint.address));
      assert.equal((await s.blocks('ov')).filter((b) => b.host === 'h1').length, 2, 'a second block claimed');
    } finally {
      await own.dispose();
    }
  });

  it("a host whose lease expired asks etcd again: it claims back its running containers' blocks, never one another host took", async () => {
    const s = open();
    const req = (net: string, id: string, ttl = 2, host = 'h1') => ({
      network: { name: net, subnet: net === 'ov' ? '10.64.0.0/24' : '10.65.0.0/24', blockPrefix: 28 },
      host,
      vtep: host === 'h1' ? '192.0.2.1' : '192.0.2.2',
      routes: [],
      leaseTtl: ttl,
      containerId: id,
      ifname: 'eth0',
    });
    const a = await s.acquire(req('ov', 'c0'));
    const a2 = await s.acquire(req('ov2', 'c0'));
    const lease = (await s.host('h1'))!.lease;
    // not renewed: the lease expires, h1's blocks with it
    for (let i = 0; i < 200 && (await s.blocks('ov')).length + (await s.blocks('ov2')).length > 0; i++) await sleep(100);
    assert.deepEqual([...(await s.blocks('ov')), ...(await s.blocks('ov2'))], []);
    // meanwhile h2 takes the first free block of ov: the one h1's container c0 is in
    const other = await s.acquire(req('ov', 'o0', 600, 'h2'));
    const blockOf = (addr: string, net: string) =>
      s.blocks(net).then((bs) => bs.find((x) => containsAddr(parseCidr(x.block).prefix, parseAddr(addr))));
    assert.equal((await blockOf(a.endpoint.address, 'ov'))?.host, 'h2');
    // h1's record still says it holds both blocks, but its lease is not known to live: etcd is asked
    const b2 = await s.acquire(req('ov2', 'c1', 600));
    assert.equal(b2.fromCache, false);
    assert.notEqual((await s.host('h1'))!.lease, lease, 'a new lease');
    assert.equal((await blockOf(a2.endpoint.address, 'ov2'))?.host, 'h1', 'the block of its running container, claimed back');
    assert.notEqual(b2.endpoint.address, a2.endpoint.address);
    // in ov that block is h2's now: h1 allocates elsewhere
    const b = await s.acquire(req('ov', 'c1', 600));
    assert.equal((await blockOf(b.endpoint.address, 'ov'))?.host, 'h1');
    assert.notEqual((await blockOf(b.endpoint.address, 'ov'))?.block, (await blockOf(other.endpoint.address, 'ov'))?.block);
  });

  it("tsnetd's refreshHost renews the lease into the host's record, and after it expired registers again and claims back the blocks in use", async () => {
    const s = open();
    const req = (id: string) => ({
      network: { name: 'ov', subnet: '10.66.0.0/24', blockPrefix: 28 },
      host: 'h1',
      vtep: '192.0.2.1',
      routes: [],
      leaseTtl: 2,
      containerId: id,
      ifname: 'eth0',
    });
    const a = await s.acquire(req('c0'));
    const before = s.cache('h1').read().lease!;
    assert.deepEqual(await s.refreshHost('h1', 2), { renewed: true, reregistered: false, lost: [], released: [] });
    assert.ok(BigInt(s.cache('h1').read().lease!.validUntilNs) > BigInt(before.validUntilNs), 'the bound moved on');
    for (let i = 0; i < 200 && (await s.blocks('ov')).length > 0; i++) await sleep(100);
    assert.deepEqual(await s.blocks('ov'), [], 'expired: the block went with the lease');
    const r = await s.refreshHost('h1', 600);
    assert.equal(r.reregistered, true);
    const lease = (await s.host('h1'))!.lease;
    assert.notEqual(lease, before.id);
    assert.deepEqual(
      (await s.blocks('ov')).map((b) => [b.host, b.lease]),
      [['h1', lease]],
      'the block of the running container, claimed back under the new lease',
    );
    assert.deepEqual(
      (await s.members('ov')).map((m) => m.host),
      ['h1'],
      'joined again',
    );
    const next = await s.acquire({ ...req('c1'), leaseTtl: 600 });
    assert.equal(next.fromCache, true, 'and the record is good for the next start');
    assert.notEqual(next.endpoint.address, a.endpoint.address);
  });

  it("gives a host's empty blocks back on tsnetd's step, keeping one with room", async () => {
    const s = open();
    const req = (id: string) => ({
      network: { name: 'ov', subnet: '10.67.0.0/24', blockPrefix: 28 },
      host: 'h1',
      vtep: '192.0.2.1',
      routes: [],
      leaseTtl: 600,
      containerId: id,
      ifname: 'eth0',
    });
    // 14 fill the first /28 (its 10.67.0.0 and resolver address 10.67.0.1 are never handed out), then 15 the
    // second (its resolver address 10.67.0.16 neither), 2 the third
    const ids = Array.from({ length: 31 }, (_, i) => `c${i}`);
    for (const id of ids) await s.acquire(req(id));
    const mine = async () => (await s.blocks('ov')).filter((b) => b.host === 'h1').map((b) => b.block);
    assert.deepEqual(await mine(), ['10.67.0.0/28', '10.67.0.16/28', '10.67.0.32/28']);
    // the second and third emptied; the first stays full
    for (const id of ids.slice(14)) assert.equal(await s.release('ov', 'h1', id, 'eth0'), true);
    assert.equal((await mine()).length, 3, 'a DEL alone gives no block back');
    const r = await s.refreshHost('h1', 600);
    assert.deepEqual(r.released, ['ov 10.67.0.32/28'], 'one empty block kept: the full one has no room');
    assert.deepEqual(await mine(), ['10.67.0.0/28', '10.67.0.16/28']);
    assert.equal((await s.acquire(req('next'))).fromCache, true, 'the next start still needs no etcd');
    // with room in a block in use, no empty one is kept
    assert.deepEqual((await s.refreshHost('h1', 600)).released, []);
    assert.equal(await s.release('ov', 'h1', 'c3', 'eth0'), true);
    await s.release('ov', 'h1', 'next', 'eth0');
    assert.deepEqual((await s.refreshHost('h1', 600)).released, ['ov 10.67.0.16/28']);
    assert.deepEqual(await mine(), ['10.67.0.0/28']);
  });

  it('fails fast, naming the store, when etcd cannot be reached', async () => {
    const s = new ClusterStore({ url: 'etcd://127.0.0.1:1', timeoutMs: 500 });
    try {
      const t0 = process.hrtime.bigint();
      await assert.rejects(s.getNetwork('x'), (e: Error) => {
        assert.ok(e instanceof ClusterStoreError);
        assert.match(e.message, /cluster store etcd:\/\/127\.0\.0\.1:1: unreachable/);
        assert.equal((e as ClusterStoreError).cniCode, 11);
        return true;
      });
      assert.ok(process.hrtime.bigint() - t0 < 30_000_000_000n);
    } finally {
      s.close();
    }
  });
});
