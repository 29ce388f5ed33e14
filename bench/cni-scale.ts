// Benchmark (not a test): N containers (namespaces) attached to ONE bridge, sequentially and 16 at a time,
// for the reference bridge+host-local and for tsnet (fast path, and standalone unless --no-standalone).
// Prints the mean per-ADD cost of the first 100 and the last 100 ADDs and their ratio (growth), the same ratio
// of medians (less swayed by a few slow calls on a shared machine), the wall time, and tsnetd's memory with N
// attachments. Each ADD is spawned by exec-timed (posix_spawn, as a Go runtime execs a plugin), which times
// it; the growth as this Node process sees the calls (its fork adds a constant ~1–2 ms) is printed too. Each run gets a fresh host namespace and starts once the machine is quiet; everything is
// removed after it. --repeat R runs every row R times and prints the median growth of the R runs: runs on a
// 2-core VM differ by more than the growth being measured.
// Target (issue 6): last-100 / first-100 ≤ 1.2 (the reference grows ~11 → 17 ms from N=100 to N=500).
//   node dist/bench/cni-scale.js [N] [--flavors ref,fast,ours] [--modes seq,par] [--repeat R]   (default N=1000; root)
// A bridge holds at most 1023 ports: N is capped there.
import {
  stats,
  callAsync,
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
  type CallResult,
  type Flavor,
} from './cni-lab.js';

const PARALLEL = 16;

interface Arg {
  flavor: Flavor;
  mode: 'seq' | 'par';
  n: number;
  /** With --repeat: each round gets IPAM state of its own (the last round's namespaces went without a DEL). */
  round: number;
}
interface Out {
  /** exec-timed's spawn → exit, per ADD. */
  ms: number[];
  /** The same ADDs as this Node process saw them (spawn of exec-timed → its exit). */
  nodeMs: number[];
  wallS: number;
  daemon?: { hwmMiB: number; rssMiB: number };
}

async function inner(): Promise<void> {
  const { arg, prefix, tmp } = innerContext<Arg>();
  const ctrs = makeContainers(prefix, arg.n);
  const daemon = arg.flavor === 'fast' ? await startDaemon(tmp, `scale-${arg.mode}-${arg.round}`) : undefined;
  try {
    const s = setup(arg.flavor, {
      bridge: `${prefix}br`.slice(0, 15),
      subnet: '10.200.0.0/16',
      tmp,
      tag: `scale-${arg.flavor}-${arg.mode}-${arg.round}`,
      ...(daemon ? { socket: daemon.socket } : {}),
    });
    if (daemon) s.env.TSNET_ROOT = `${tmp}/root-scale-${arg.mode}-${arg.round}`;
    const ms: number[] = new Array(arg.n);
    const nodeMs: number[] = new Array(arg.n);
    const t0 = Date.now();
    if (arg.mode === 'seq') {
      for (let i = 0; i < arg.n; i++) {
        const r = callSync(s, 'ADD', ctrs[i]!, true);
        mustOk(r, `ADD #${i}`);
        ms[i] = r.execMs!;
        nodeMs[i] = r.ms;
      }
    } else {
      // 16 workers; results indexed by completion order, so "last 100" are the last to finish.
      let next = 0;
      let done = 0;
      const worker = async () => {
        while (next < arg.n) {
          const i = next++;
          const r: CallResult = await callAsync(s, 'ADD', ctrs[i]!);
          mustOk(r, `ADD #${i}`);
          ms[done] = r.execMs!;
          nodeMs[done++] = r.ms;
        }
      };
      await Promise.all(Array.from({ length: PARALLEL }, worker));
    }
    const wallS = (Date.now() - t0) / 1000;
    const out: Out = { ms, nodeMs, wallS, ...(daemon ? { daemon: procMem(daemon.pid) } : {}) };
    process.stdout.write(`${JSON.stringify(out)}\n`);
  } finally {
    await daemon?.stop();
  }
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
const median = (xs: number[]) => stats(xs).median;

async function outer(): Promise<void> {
  const argv = process.argv.slice(2);
  const opt = (k: string, d: string) => {
    const i = argv.indexOf(`--${k}`);
    return i >= 0 ? argv[i + 1]! : d;
  };
  // N: the one argument that is neither an option nor an option's value.
  const positional = argv.filter(
    (a, i) => !a.startsWith('--') && !(i > 0 && argv[i - 1]!.startsWith('--') && argv[i - 1] !== '--no-standalone'),
  );
  const n = Math.min(1023, Number(positional[0] ?? 1000));
  if (!Number.isInteger(n) || n < 2) throw new Error(`N must be an integer ≥ 2, got ${positional[0]}`);
  const flavors = opt('flavors', argv.includes('--no-standalone') ? 'ref,fast' : 'ref,fast,ours').split(',') as Flavor[];
  const modes = opt('modes', 'seq,par').split(',') as ('seq' | 'par')[];
  preflight({ ref: flavors.includes('ref'), fast: flavors.includes('fast') });
  const repeat = Number(opt('repeat', '1'));
  if (!Number.isInteger(repeat) || repeat < 1) throw new Error(`--repeat takes a whole number ≥ 1, got ${opt('repeat', '1')}`);
  const o = new Outer(process.argv[1]!);
  const k = Math.min(100, Math.floor(n / 2));
  const rows: string[] = [];
  const growth: Record<string, number[]> = {};
  const label = (flavor: Flavor, mode: string) => `${FLAVOR_LABEL[flavor]}, ${mode === 'seq' ? 'sequential' : `${PARALLEL} parallel`}`;
  const header = `${'run'.padEnd(56)} ${'first'.padStart(8)} ${'last'.padStart(8)} ${'growth'.padStart(8)} ${'median'.padStart(8)} ${'(Node)'.padStart(8)} ${'wall s'.padStart(8)} ${'ADD/s'.padStart(7)}`;
  try {
    console.log(
      `${n} containers on one bridge; per-ADD ms (posix_spawn → exit), mean of the first ${k} vs the last ${k} (growth), the same with medians, and the growth of means as this Node process saw the calls; parallel = ${PARALLEL} at a time on a 2-core machine${repeat > 1 ? `; ${repeat} rounds` : ''}`,
    );
    console.log(header);
    for (let round = 0; round < repeat; round++) {
      for (const mode of modes) {
        for (const flavor of flavors) {
          const r = await o.phase<Out>({ flavor, mode, n, round } satisfies Arg);
          const first = mean(r.ms.slice(0, k));
          const last = mean(r.ms.slice(-k));
          const medianGrowth = median(r.ms.slice(-k)) / median(r.ms.slice(0, k));
          const nodeGrowth = mean(r.nodeMs.slice(-k)) / mean(r.nodeMs.slice(0, k));
          (growth[`${flavor}/${mode}`] ??= []).push(last / first);
          rows.push(
            `${label(flavor, mode).padEnd(56)} ${fmt(first).padStart(8)} ${fmt(last).padStart(8)} ${`${fmt(last / first, 2)}×`.padStart(8)} ${`${fmt(medianGrowth, 2)}×`.padStart(8)} ${`${fmt(nodeGrowth, 2)}×`.padStart(8)} ${fmt(r.wallS).padStart(8)} ${fmt(n / r.wallS, 0).padStart(7)}${r.daemon ? `   tsnetd VmHWM ${fmt(r.daemon.hwmMiB)} MiB, VmRSS ${fmt(r.daemon.rssMiB)} MiB` : ''}`,
          );
          console.log(rows[rows.length - 1]);
        }
      }
    }
    console.log(`\n${header}`);
    for (const r of rows) console.log(r);
    const summary = (xs: number[]) =>
      xs.length > 1 ? `${fmt(median(xs), 2)}× (median of ${xs.length}: ${xs.map((x) => fmt(x, 2)).join(', ')})` : `${fmt(xs[0]!, 2)}×`;
    for (const mode of modes) {
      const ref = growth[`ref/${mode}`];
      for (const f of flavors.filter((x) => x !== 'ref')) {
        const g = growth[`${f}/${mode}`];
        if (g) console.log(`growth ${f} (${mode}): ${summary(g)}${ref ? `; reference ${summary(ref)}` : ''}`);
      }
    }
    console.log('target (issue 6): growth (last/first) ≤ 1.2×');
  } finally {
    o.cleanup();
  }
}

void (INSIDE ? inner() : outer()).catch((e) => {
  console.error(`cni-scale: ${(e as Error).message}`);
  process.exit(1);
});
