// Benchmark (not a test): fill a /16 in-process with the allocator and show that the cost per allocation
// does not grow with the number already allocated; then the exec'd plugin next to reference host-local.
// Run: node dist/bench/ipam-alloc.js [rounds]
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ipamAdd } from '../plugins/shared/ipam-cni.js';
import { Allocator } from '../ipam/allocator.js';
import { canonicalizeRangeSet, capacity } from '../ipam/ranges.js';
import { IpamState } from '../ipam/state.js';

const set = canonicalizeRangeSet([{ subnet: '10.200.0.0/16' }]);
const state = new IpamState();
const alloc = new Allocator(set, state, '0', 'bench');
const total = Number(capacity(set)); // 65,534 usable addresses, one of them the gateway → 65,533 to hand out
const stamps: number[] = [];
const t0 = process.hrtime.bigint();
for (let i = 0; i < total; i++) {
  alloc.get({ containerID: `c${i}`, ifname: 'eth0' });
  if (i % 1000 === 0) state.pending.length = 0; // the journal ops a store would flush; keep memory flat
  stamps.push(Number(process.hrtime.bigint() - t0) / 1e6);
}
const firstK = stamps[999]!;
const lastK = stamps[total - 1]! - stamps[total - 1001]!;
console.log(
  `allocated ${state.size} addresses of 10.200.0.0/16 (65,534 usable, gateway 10.200.0.1 reserved) in ${stamps[total - 1]!.toFixed(1)} ms`,
);
console.log(`first 1,000: ${firstK.toFixed(2)} ms   last 1,000: ${lastK.toFixed(2)} ms   ratio last/first: ${(lastK / firstK).toFixed(2)}`);
let full = false;
try {
  alloc.get({ containerID: 'one-too-many', ifname: 'eth0' });
} catch {
  full = true;
}
console.log(`one more → ${full ? 'exhausted error, as expected' : 'UNEXPECTED success'}`);

// ── The exec'd plugins, side by side: tsnet-ipam (standalone, and through the store in-process) next to the
// reference host-local, same config shape, ADD then DEL per container, interleaved. Needs root (CNI_NETNS must
// be a network namespace: one is made and removed) and the reference plugins (/usr/lib/cni/host-local).

const ours = fileURLToPath(new URL('../cni/tsnet-ipam', import.meta.url));
const ref = '/usr/lib/cni/host-local';
const rounds = Number(process.argv[2] ?? 40);
if (process.getuid?.() === 0 && existsSync(ours) && existsSync(ref)) {
  const dir = mkdtempSync(join(tmpdir(), 'tsnet-ipam-bench-'));
  const ns = `tsb-ipam-${process.pid}`;
  spawnSync('ip', ['netns', 'add', ns]);
  try {
    const call = (file: string, cmd: string, cid: string, ipam: object) => {
      const t = process.hrtime.bigint();
      const r = spawnSync(file, [], {
        input: JSON.stringify({ cniVersion: '1.0.0', name: 'bench', type: 'bridge', ipam }),
        env: {
          ...process.env,
          CNI_COMMAND: cmd,
          CNI_CONTAINERID: cid,
          CNI_NETNS: `/run/netns/${ns}`,
          CNI_IFNAME: 'eth0',
          CNI_PATH: '/usr/lib/cni',
          TSNET_ROOT: join(dir, 'tsnet'),
        },
        encoding: 'utf8',
      });
      if (r.status !== 0) throw new Error(`${file} ${cmd}: ${r.stdout}${r.stderr}`);
      return Number(process.hrtime.bigint() - t) / 1e6;
    };
    const t: Record<string, number[]> = { refAdd: [], refDel: [], ourAdd: [], ourDel: [], inproc: [] };
    for (let i = 0; i < rounds; i++) {
      t.refAdd!.push(call(ref, 'ADD', `c${i}`, { type: 'host-local', subnet: '10.201.0.0/16', dataDir: join(dir, 'hl') }));
      t.ourAdd!.push(call(ours, 'ADD', `c${i}`, { type: 'tsnet-ipam', subnet: '10.202.0.0/16' }));
      t.refDel!.push(call(ref, 'DEL', `c${i}`, { type: 'host-local', subnet: '10.201.0.0/16', dataDir: join(dir, 'hl') }));
      t.ourDel!.push(call(ours, 'DEL', `c${i}`, { type: 'tsnet-ipam', subnet: '10.202.0.0/16' }));
      const s = process.hrtime.bigint();
      await ipamAdd(
        {
          cniVersion: '1.0.0',
          name: 'inproc',
          type: 'x',
          ipam: { type: 'tsnet-ipam', subnet: '10.203.0.0/16', root: join(dir, 'inproc') },
        },
        { command: 'ADD', containerId: `c${i}`, netns: '', ifname: 'eth0', args: {}, path: [] },
      );
      t.inproc!.push(Number(process.hrtime.bigint() - s) / 1e6);
    }
    const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    console.log(`\nexec'd IPAM plugins, ${rounds} ADD+DEL rounds, medians:`);
    console.log(`  reference host-local   ADD ${med(t.refAdd!).toFixed(1)} ms   DEL ${med(t.refDel!).toFixed(1)} ms`);
    console.log(
      `  tsnet-ipam standalone  ADD ${med(t.ourAdd!).toFixed(1)} ms   DEL ${med(t.ourDel!).toFixed(1)} ms   ratio ADD ${(med(t.ourAdd!) / med(t.refAdd!)).toFixed(2)}×  DEL ${(med(t.ourDel!) / med(t.refDel!)).toFixed(2)}×`,
    );
    console.log(
      `  tsnet-ipam in-process  ADD ${med(t.inproc!).toFixed(2)} ms (what tsnetd and the engine pay)   ratio ${(med(t.inproc!) / med(t.refAdd!)).toFixed(2)}×`,
    );
  } finally {
    spawnSync('ip', ['netns', 'del', ns]);
    rmSync(dir, { recursive: true, force: true });
  }
} else {
  console.log("\n(skipping the exec'd comparison: needs root, dist/cni/tsnet-ipam and /usr/lib/cni/host-local)");
}
