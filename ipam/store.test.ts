// The durable store: transactions, a torn or damaged journal, a store removed or destroyed under it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync, appendFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { addonCandidates } from '../native/addon.js';
import { Allocator } from './allocator.js';
import { formatAddr } from './cidr.js';
import { canonicalizeRangeSet } from './ranges.js';
import { IpamStore, RESERVE_BYTES } from './store.js';
import { NetworkRegistry } from './networks.js';

const noAddon = !addonCandidates().some(existsSync) && 'native addon not built (npm run build:native)';

const tmpRoot = () => mkdtempSync(join(tmpdir(), 'tsnet-ipam-'));

test('store: transact persists, a throwing transaction writes nothing, compaction keeps state', { skip: noAddon }, async () => {
  const root = tmpRoot();
  try {
    const set = canonicalizeRangeSet([{ subnet: '10.5.0.0/24' }]);
    const s = IpamStore.forNetwork(root, 'n', { compactEvery: 3 });
    for (let i = 0; i < 10; i++) await s.transact((st) => new Allocator(set, st, '0').get({ containerID: `c${i}`, ifname: 'eth0' }));
    await assert.rejects(
      s.transact((st) => {
        new Allocator(set, st, '0').get({ containerID: 'nope', ifname: 'eth0' });
        throw new Error('boom');
      }),
      /boom/,
    );
    await s.transact((st) => st.releaseOwner({ containerID: 'c3', ifname: 'eth0' }));
    const st = await new IpamStore(s.dir).read();
    assert.equal(st.size, 9);
    assert.equal(st.ownedBy({ containerID: 'nope', ifname: 'eth0' }).length, 0);
    assert.equal(formatAddr(st.lastReserved('0')!), '10.5.0.11');
    assert.ok(existsSync(s.snapshotPath), 'compaction wrote a snapshot');
    // next-fit survives reload: the next address follows the last reserved, not the released hole
    const next = await s.transact((x) => new Allocator(set, x, '0').get({ containerID: 'z', ifname: 'eth0' }));
    assert.equal(next.address, '10.5.0.12/24');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test(
  'store: a torn journal tail is ignored and truncated by the next write; damage in the middle is reported',
  { skip: noAddon },
  async () => {
    const root = tmpRoot();
    try {
      const set = canonicalizeRangeSet([{ subnet: '10.5.0.0/24' }]);
      const s = IpamStore.forNetwork(root, 'n');
      await s.transact((st) => new Allocator(set, st, '0').get({ containerID: 'a', ifname: 'eth0' }));
      appendFileSync(s.journalPath, '{"s":2,"ops":[{"o":"+","a":"10.5.0.9"'); // as if killed mid-write
      assert.equal((await s.read()).size, 1);
      await s.transact((st) => new Allocator(set, st, '0').get({ containerID: 'b', ifname: 'eth0' }));
      const st = await s.read();
      assert.equal(st.size, 2);
      assert.ok(!st.isHeld({ family: 4, value: 0x0a050009n }));
      writeFileSync(s.journalPath, 'garbage\n' + readFileSync(s.journalPath, 'utf8'));
      await assert.rejects(s.read(), /damaged at byte 0/);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  },
);

test('store: a store whose directory was removed is made again by the next transaction, starting empty', { skip: noAddon }, async () => {
  const root = tmpRoot();
  try {
    const set = canonicalizeRangeSet([{ subnet: '10.6.0.0/24' }]);
    const s = IpamStore.forNetwork(root, 'gone');
    const get = (cid: string) => s.transact((st) => new Allocator(set, st, '0').get({ containerID: cid, ifname: 'eth0' }));
    assert.equal((await get('a')).address, '10.6.0.2/24');
    assert.equal((await get('b')).address, '10.6.0.3/24');
    rmSync(s.dir, { recursive: true, force: true });
    assert.equal((await get('c')).address, '10.6.0.2/24', 'nothing remembered of the removed store');
    assert.ok(existsSync(s.lockPath) && existsSync(s.journalPath));
    const st = await new IpamStore(s.dir).read();
    assert.equal(st.size, 1);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test(
  'store: destroy empties the store but keeps its lock file (a waiter must not lock a file nobody else sees)',
  { skip: noAddon },
  async () => {
    const root = tmpRoot();
    try {
      const set = canonicalizeRangeSet([{ subnet: '10.6.0.0/24' }]);
      const s = IpamStore.forNetwork(root, 'd');
      await s.transact((st) => new Allocator(set, st, '0').get({ containerID: 'c', ifname: 'eth0' }));
      await s.destroy();
      assert.ok(existsSync(s.lockPath), 'the lock file stays');
      assert.ok(!existsSync(s.journalPath) && !existsSync(s.snapshotPath), 'the state is gone');
      assert.equal((await s.read()).size, 0);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  },
);

test('store: space for releases is kept by ADDs, not by releases', { skip: noAddon }, async () => {
  const root = tmpRoot();
  try {
    const set = canonicalizeRangeSet([{ subnet: '10.7.0.0/24' }]);
    const s = IpamStore.forNetwork(root, 'r');
    const get = (cid: string) => s.transact((st) => new Allocator(set, st, '0').get({ containerID: cid, ifname: 'eth0' }));
    await get('a');
    assert.equal(statSync(s.reservePath).size, RESERVE_BYTES);
    assert.equal(statSync(s.reservePath).blocks * 512 >= RESERVE_BYTES, true, 'blocks of its own, not a sparse hole');
    rmSync(s.reservePath);
    await s.transact((st) => st.releaseOwner({ containerID: 'a', ifname: 'eth0' }));
    assert.ok(!existsSync(s.reservePath), 'a release does not take space to keep');
    await get('b');
    assert.equal(statSync(s.reservePath).size, RESERVE_BYTES, 'the next ADD keeps the space again');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test(
  'store: files 0600 and directories 0700 whatever the umask (the snapshot and the network registry too)',
  { skip: noAddon },
  async () => {
    const root = tmpRoot();
    const old = process.umask(0);
    try {
      const set = canonicalizeRangeSet([{ subnet: '10.7.0.0/24' }]);
      const s = IpamStore.forNetwork(root, 'm', { compactEvery: 3 });
      const get = (cid: string) => s.transact((st) => new Allocator(set, st, '0').get({ containerID: cid, ifname: 'eth0' }));
      for (let i = 0; i < 5; i++) await get(`c${i}`);
      for (let i = 1; i < 4; i++) await s.transact((st) => st.releaseOwner({ containerID: `c${i}`, ifname: 'eth0' }));
      const mode = (p: string) => (statSync(p).mode & 0o777).toString(8);
      assert.ok(existsSync(s.snapshotPath), 'compaction wrote a snapshot');
      assert.deepEqual([join(root, 'ipam'), s.dir, s.journalPath, s.snapshotPath, s.lockPath, s.reservePath].map(mode), [
        '700',
        '700',
        '600',
        '600',
        '600',
        '600',
      ]);
      const registry = new NetworkRegistry(root);
      await registry.create({ name: 'reg', subnet: '10.8.0.0/24' });
      assert.deepEqual([mode(registry.dir), mode(join(registry.dir, 'reg.json'))], ['700', '600']);
    } finally {
      process.umask(old);
      rmSync(root, { recursive: true, force: true });
    }
  },
);
