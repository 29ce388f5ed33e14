// Benchmark (not a test): ADD and DEL per call, exec'd as a runtime does, side by side in one run:
//   reference bridge+host-local | tsnet standalone bridge+tsnet-ipam | tsnet fast path (shim+tsnetd) |
//   tsnet shim with no daemon (falls back to standalone).
// Same config shape for all (bridge, isGateway, one /16 subnet). Rounds interleave the flavours; each round
// times every flavour's ADD and DEL twice: as spawned by this Node process (fork+exec: includes the bench's
// own spawn cost, printed as "exec of /bin/true") and as spawned by exec-timed (posix_spawn, the way Go's
// os/exec in podman/containerd — and the reference bridge execing host-local — starts a process).
// Also: peak RSS (maxrss) of one ADD per flavour, via /usr/bin/time.
// Targets (issue 6): fast path ≤ 0.5× reference, standalone ≤ 6×.
//   node dist/bench/cni-addel.js [--runs N]        (default 40; needs root)
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import {
  callSync,
  FLAVOR_LABEL,
  fmt,
  innerContext,
  INSIDE,
  makeContainers,
  mustOk,
  Outer,
  preflight,
  procMem,
  setup,
  startDaemon,
  stats,
  type Flavor,
  type Setup,
} from './cni-lab.js';

const FLAVORS: Flavor[] = ['ref', 'ours', 'fast', 'shim-fallback'];

interface PhaseOut {
  add: Record<string, number[]>;
  del: Record<string, number[]>;
  /** The same calls spawned by exec-timed (posix_spawn → exit). */
  addExec: Record<string, number[]>;
  delExec: Record<string, number[]>;
  trueMs: number[];
  trueExecMs: number[];
  maxrssKiB: Record<string, number>;
  daemon?: { hwmMiB: number; rssMiB: number };
}

async function inner(): Promise<void> {
  const { arg, prefix, tmp } = innerContext<{ runs: number }>();
  const daemon = await startDaemon(tmp, 'addel');
  try {
    const setups: Setup[] = FLAVORS.map((f, i) =>
      setup(f, { bridge: `${prefix}b${i}`.slice(0, 15), subnet: `10.${100 + i}.0.0/16`, tmp, tag: `addel-${f}`, socket: daemon.socket }),
    );
    // The fast path's daemon has its own root: point the setup at it.
    const fast = setups.find((s) => s.flavor === 'fast')!;
    fast.env.TSNET_ROOT = `${tmp}/root-addel`;
    const ctrs = new Map(setups.map((s, i) => [s.flavor, makeContainers(`${prefix}f${i}`, 4)]));
    const add: Record<string, number[]> = {};
    const del: Record<string, number[]> = {};
    const addExec: Record<string, number[]> = {};
    const delExec: Record<string, number[]> = {};
    const trueMs: number[] = [];
    const trueExecMs: number[] = [];
    const warmup = 3;
    for (let r = 0; r < arg.runs + warmup; r++) {
      const order = [...setups].sort(() => Math.random() - 0.5);
      for (const s of order) {
        const c = ctrs.get(s.flavor)![r % 4]!;
        // Both ways in a random order each round: neither always runs right after the other on warm caches.
        const node = () => {
          const add = callSync(s, 'ADD', c);
          mustOk(add, `${s.flavor} ADD`);
          const del = callSync(s, 'DEL', c);
          mustOk(del, `${s.flavor} DEL`);
          return [add, del] as const;
        };
        const exec = () => {
          const add = callSync(s, 'ADD', c, true);
          mustOk(add, `${s.flavor} ADD (exec-timed)`);
          const del = callSync(s, 'DEL', c, true);
          mustOk(del, `${s.flavor} DEL (exec-timed)`);
          return [add, del] as const;
        };
        let a, d, ax, dx;
        if (Math.random() < 0.5) {
          [a, d] = node();
          [ax, dx] = exec();
        } else {
          [ax, dx] = exec();
          [a, d] = node();
        }
        if (r >= warmup) {
          (add[s.flavor] ??= []).push(a.ms);
          (del[s.flavor] ??= []).push(d.ms);
          (addExec[s.flavor] ??= []).push(ax.execMs!);
          (delExec[s.flavor] ??= []).push(dx.execMs!);
        }
      }
      const t0 = process.hrtime.bigint();
      spawnSync('/bin/true');
      if (r >= warmup) trueMs.push(Number(process.hrtime.bigint() - t0) / 1e6);
      const tx = callSync({ flavor: 'ref', file: '/bin/true', env: {}, conf: '' }, 'VERSION', 'none', true);
      if (r >= warmup && tx.execMs !== undefined) trueExecMs.push(tx.execMs);
    }
    const maxrssKiB: Record<string, number> = {};
    if (existsSync('/usr/bin/time')) {
      for (const s of setups) {
        const c = ctrs.get(s.flavor)![0]!;
        const r = spawnSync('/usr/bin/time', ['-f', 'MAXRSS=%M', s.file], {
          env: { ...s.env, CNI_COMMAND: 'ADD', CNI_CONTAINERID: c, CNI_NETNS: `/run/netns/${c}`, CNI_IFNAME: 'eth0' },
          input: s.conf,
          encoding: 'utf8',
        });
        maxrssKiB[s.flavor] = Number(/MAXRSS=(\d+)/.exec(r.stderr)?.[1] ?? NaN);
        mustOk(callSync(s, 'DEL', c), `${s.flavor} DEL`);
      }
    }
    const out: PhaseOut = { add, del, addExec, delExec, trueMs, trueExecMs, maxrssKiB, daemon: procMem(daemon.pid) };
    process.stdout.write(`${JSON.stringify(out)}\n`);
  } finally {
    await daemon.stop();
  }
}

async function outer(): Promise<void> {
  const runsIdx = process.argv.indexOf('--runs');
  const runs = runsIdx > 0 ? Number(process.argv[runsIdx + 1]) : 40;
  preflight({ ref: true, fast: true });
  const o = new Outer(process.argv[1]!);
  try {
    console.log(`ADD/DEL per call, ${runs} rounds (+3 warm-up), flavours interleaved, 2-core machine; times in ms (spawn → exit)`);
    const r = await o.phase<PhaseOut>({ runs });
    const table = (title: string, add: Record<string, number[]>, del: Record<string, number[]>, trueMs: number[]) => {
      const ref = { add: stats(add.ref!).median, del: stats(del.ref!).median };
      console.log(`\n${title}`);
      console.log(
        `${'flavour'.padEnd(40)} ${'ADD med'.padStart(8)} ${'p90'.padStart(7)} ${'DEL med'.padStart(8)} ${'p90'.padStart(7)} ${'ADD ×ref'.padStart(9)} ${'DEL ×ref'.padStart(9)} ${'maxrss'.padStart(9)}`,
      );
      for (const f of FLAVORS) {
        const a = stats(add[f]!);
        const d = stats(del[f]!);
        const rss = r.maxrssKiB[f];
        console.log(
          `${FLAVOR_LABEL[f].padEnd(40)} ${fmt(a.median).padStart(8)} ${fmt(a.p90).padStart(7)} ${fmt(d.median).padStart(8)} ${fmt(d.p90).padStart(7)} ${`${fmt(a.median / ref.add, 2)}×`.padStart(9)} ${`${fmt(d.median / ref.del, 2)}×`.padStart(9)} ${(rss ? `${fmt(rss / 1024)} MiB` : '-').padStart(9)}`,
        );
      }
      console.log(`exec of /bin/true (included in every number above): median ${fmt(stats(trueMs).median, 2)} ms`);
    };
    table('spawned by this Node process (fork + exec):', r.add, r.del, r.trueMs);
    table('spawned with posix_spawn by exec-timed (as Go os/exec — podman, containerd — does):', r.addExec, r.delExec, r.trueExecMs);
    console.log('');
    if (r.daemon)
      console.log(
        `tsnetd after the run: VmHWM ${fmt(r.daemon.hwmMiB)} MiB, VmRSS ${fmt(r.daemon.rssMiB)} MiB (the shim's maxrss above excludes the daemon's work)`,
      );
    console.log('targets (issue 6): fast path ≤ 0.5× reference, standalone ≤ 6×');
  } finally {
    o.cleanup();
  }
}

void (INSIDE ? inner() : outer()).catch((e) => {
  console.error(`cni-addel: ${(e as Error).message}`);
  process.exit(1);
});
