// tsnet-ipam over the durable store across real processes: 64 concurrent ADDs then 64 DELs, SIGKILL at random
// points, a lock held too long, stores changed under a long-lived process.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { addonCandidates } from '../../native/addon.js';
import { formatAddr } from '../../ipam/cidr.js';
import { ipamAdd, ipamDel } from './ipam-cni.js';
import { gcState } from '../../ipam/gc.js';
import { withLock } from '../../ipam/lock.js';
import { IpamStore } from '../../ipam/store.js';
import { CniError, type NetConf } from '../cni/types.js';

const WORKER = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'ipam-worker.js');
const noAddon = !addonCandidates().some(existsSync) && 'native addon not built (npm run build:native)';

function run(args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [WORKER, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d: Buffer) => (out += d));
    p.stderr.on('data', (d: Buffer) => (err += d));
    p.on('close', (code) => resolve({ code, out, err }));
  });
}

const tmpRoot = () => mkdtempSync(join(tmpdir(), 'tsnet-ipam-'));

test('64 concurrent ADD processes on one /24 → 64 distinct addresses; 64 DELs → empty', { skip: noAddon, timeout: 60_000 }, async () => {
  const root = tmpRoot();
  try {
    const ids = Array.from({ length: 64 }, (_, i) => `ctr${i}`);
    const adds = await Promise.all(ids.map((id) => run(['add', root, id])));
    for (const r of adds) assert.equal(r.code, 0, r.err);
    const addrs = adds.map((r) => (JSON.parse(r.out) as { ips: { address: string }[] }).ips[0]!.address);
    assert.equal(new Set(addrs).size, 64, `duplicates in ${addrs.join(' ')}`);
    for (const a of addrs) assert.match(a, /^10\.77\.0\.\d+\/24$/);
    const st = await IpamStore.forNetwork(root, 't').read();
    assert.equal(st.size, 64);
    assert.deepEqual(st.conflicts, []);

    const dels = await Promise.all(ids.map((id) => run(['del', root, id])));
    for (const r of dels) assert.equal(r.code, 0, r.err);
    assert.equal((await IpamStore.forNetwork(root, 't').read()).size, 0);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test(
  'SIGKILL at random points, 100 times: store always loads, nothing doubled, GC recovers leaks',
  { skip: noAddon, timeout: 60_000 },
  async () => {
    const lanes = 4;
    const perLane = 25;
    const roots = Array.from({ length: lanes }, tmpRoot);
    let committed = 0;
    try {
      await Promise.all(
        roots.map(async (root, lane) => {
          const live = new Map<string, string>(); // cid → address the child reported as committed
          for (let iter = 0; iter < perLane; iter++) {
            const uncertain = new Set<string>();
            const child = spawn(process.execPath, [WORKER, 'loop', root, `L${lane}i${iter}`], { stdio: ['ignore', 'pipe', 'pipe'] });
            let out = '';
            let killed = false;
            const done = new Promise<void>((r) => child.on('close', () => r()));
            child.stdout.on('data', (d: Buffer) => {
              out += d;
              if (!killed && out.startsWith('ready\n')) {
                killed = true;
                setTimeout(() => child.kill('SIGKILL'), Math.random() * 30);
              }
            });
            await done;
            for (const line of out.split('\n')) {
              const [kind, cid, addr] = line.split(' ');
              if (kind === 'ok') {
                live.set(cid!, addr!);
                committed++;
              }
              if (kind === 'del') {
                live.delete(cid!);
                uncertain.add(cid!); // killed between "del" and its commit: may still be held
              }
            }
            const store = IpamStore.forNetwork(root, 'kill');
            const st = await store.read(); // must always load
            assert.deepEqual(st.conflicts, [], `doubled address after kill (lane ${lane}, iteration ${iter})`);
            for (const [cid, addr] of live) {
              const held = st.ownedBy({ containerID: cid, ifname: 'eth0' });
              assert.equal(held.length, 1, `${cid} lost its address`);
              assert.equal(`${formatAddr(held[0]!)}/20`, addr);
            }
            const seen = new Set<string>();
            for (const r of st.all()) {
              const a = formatAddr(r);
              assert.ok(!seen.has(a), `${a} held twice`);
              seen.add(a);
            }
            // GC with the attachments we know are valid releases whatever leaked (committed but never reported)
            const valid = [...live.keys()].map((containerID) => ({ containerID, ifname: 'eth0' }));
            await store.transact((s) => gcState(s, valid));
            assert.equal((await store.read()).size, live.size);
          }
        }),
      );
      assert.ok(committed > 0, 'the children never got to allocate before being killed');
    } finally {
      for (const r of roots) rmSync(r, { recursive: true, force: true });
    }
  },
);

test('lock held too long → CniError 11 (try again later)', { skip: noAddon }, async () => {
  const root = tmpRoot();
  try {
    const conf: NetConf = { cniVersion: '1.1.0', name: 'busy', type: 'x', ipam: { type: 'tsnet-ipam', subnet: '10.6.0.0/24', root } };
    const s = IpamStore.forNetwork(root, 'busy');
    await s.transact(() => undefined);
    let release!: () => void;
    const held = withLock(s.lockPath, () => new Promise<void>((r) => (release = r)));
    await sleep(20);
    await assert.rejects(
      ipamAdd(conf, { command: 'ADD', containerId: 'c', netns: '/x', ifname: 'eth0', args: {}, path: [] }, { lockTimeoutMs: 150 }),
      (e: unknown) => e instanceof CniError && e.code === 11 && /timed out after \d+ ms waiting for the lock/.test(e.message),
    );
    release();
    await held;
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test(
  'store: a long-lived process sees what other processes appended and compacted between its transactions',
  { skip: noAddon },
  async () => {
    const root = tmpRoot();
    try {
      const conf: NetConf = { cniVersion: '1.1.0', name: 't', type: 'x', ipam: { type: 'tsnet-ipam', subnet: '10.77.0.0/24', root } };
      const add = (cid: string) => ipamAdd(conf, { command: 'ADD', containerId: cid, netns: '/x', ifname: 'eth0', args: {}, path: [] });
      const seen = new Set<string>();
      const note = (addr: string) => {
        assert.ok(!seen.has(addr), `address ${addr} handed out twice`);
        seen.add(addr);
      };
      // This process caches what it read; other processes append to the journal in between.
      for (let round = 0; round < 4; round++) {
        note((await add(`self-${round}-a`)).ips![0]!.address);
        const others = await Promise.all([0, 1, 2].map((i) => run(['add', root, `other-${round}-${i}`])));
        for (const o of others) {
          assert.equal(o.code, 0, o.err);
          note(JSON.parse(o.out).ips[0].address);
        }
        note((await add(`self-${round}-b`)).ips![0]!.address);
      }
      // Another process releases an address and compacts (a new snapshot, an emptied journal): this process must
      // notice, reload, and may hand the released address out again — but no other.
      const first = [...seen][0]!;
      const c = await run(['release-compact', root, 'self-0-a']);
      assert.equal(c.code, 0, c.err);
      seen.delete(first);
      note((await add('after-compaction')).ips![0]!.address);
      note((await add('after-compaction-2')).ips![0]!.address);
      const state = await IpamStore.forNetwork(root, 't').read();
      assert.equal(state.size, seen.size);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  },
);

test('store: a store deleted and recreated by another process is never trusted from the cache', { skip: noAddon }, async () => {
  const root = tmpRoot();
  try {
    const conf: NetConf = { cniVersion: '1.1.0', name: 't', type: 'x', ipam: { type: 'tsnet-ipam', subnet: '10.77.0.0/24', root } };
    const args = (command: 'ADD' | 'DEL', cid: string, extra: Record<string, string> = {}) => ({
      command,
      containerId: cid,
      netns: '/x',
      ifname: 'eth0',
      args: extra,
      path: [],
    });
    for (let round = 0; round < 3; round++) {
      // This process: ADD mine-R-0..2, DEL mine-R-0 → it holds .3 and .4 and caches that.
      await IpamStore.forNetwork(root, 't').destroy();
      for (let i = 0; i < 3; i++) await ipamAdd(conf, args('ADD', `mine-${round}-${i}`));
      await ipamDel(conf, args('DEL', `mine-${round}-0`));
      // Another process deletes the store and makes one with a journal just as long: it holds .2 and .4.
      const r = await run(['recreate', root, `othr-${round}`]);
      assert.equal(r.code, 0, r.err);
      const theirs = r.out.trim().split('\n');
      // Each of their addresses, asked for by name, must be refused: a stale cache thinks .2 is free.
      for (const a of theirs) {
        const ip = a.split('/')[0]!;
        await assert.rejects(
          ipamAdd(conf, args('ADD', `steal-${round}-${ip}`, { IP: ip })),
          (e: unknown) => e instanceof CniError && e.code === 101,
          `round ${round}: ${ip} is held by the other process`,
        );
      }
      const state = await IpamStore.forNetwork(root, 't').read();
      assert.equal(state.size, theirs.length);
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
