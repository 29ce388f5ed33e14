// Benchmark (not a test): container-to-container TCP throughput with iperf3 between two namespaces on one
// bridge, over tsnet's bridge plugin vs the reference bridge plugin (same config shape, default MTU), in the
// same run, rounds alternating. Traffic only between the bench's own namespaces.
// Needs iperf3: apt-get install -y iperf3.  Target (issue 6): ≥ 0.98× the reference.
//   node dist/bench/cni-iperf.js [--seconds S] [--rounds R]     (default 5 s × 3 rounds; root)
import { spawnSync } from 'node:child_process';
import {
  callSync,
  FLAVOR_LABEL,
  fmt,
  innerContext,
  INSIDE,
  iperf,
  makeContainers,
  mustOk,
  Outer,
  preflight,
  setup,
  stats,
  type Flavor,
} from './cni-lab.js';

const FLAVORS: Flavor[] = ['ref', 'ours'];

interface Out {
  gbps: Record<string, number[]>;
  mtu: Record<string, number>;
}

async function inner(): Promise<void> {
  const { arg, prefix, tmp } = innerContext<{ seconds: number; rounds: number }>();
  const pairs = new Map<Flavor, { ctrs: string[]; addr: string }>();
  const mtu: Record<string, number> = {};
  FLAVORS.forEach((f, i) => {
    const s = setup(f, { bridge: `${prefix}b${i}`.slice(0, 15), subnet: `10.${110 + i}.0.0/24`, tmp, tag: `iperf-${f}` });
    const ctrs = makeContainers(`${prefix}f${i}`, 2);
    const results = ctrs.map((c) => {
      const r = callSync(s, 'ADD', c);
      mustOk(r, `${f} ADD`);
      return JSON.parse(r.stdout);
    });
    for (const c of ctrs) spawnSync('ip', ['-n', c, 'link', 'set', 'lo', 'up']);
    pairs.set(f, { ctrs, addr: results[0].ips[0].address.split('/')[0] });
    mtu[f] = JSON.parse(spawnSync('ip', ['-n', ctrs[0]!, '-j', 'link', 'show', 'dev', 'eth0'], { encoding: 'utf8' }).stdout)[0].mtu;
  });
  const gbps: Record<string, number[]> = {};
  for (let r = 0; r < arg.rounds; r++) {
    for (const f of r % 2 ? [...FLAVORS].reverse() : FLAVORS) {
      const p = pairs.get(f)!;
      (gbps[f] ??= []).push(iperf(p.ctrs[0]!, p.ctrs[1]!, p.addr, arg.seconds));
    }
  }
  process.stdout.write(`${JSON.stringify({ gbps, mtu } satisfies Out)}\n`);
}

async function outer(): Promise<void> {
  const argv = process.argv.slice(2);
  const opt = (k: string, d: number) => {
    const i = argv.indexOf(`--${k}`);
    return i >= 0 ? Number(argv[i + 1]) : d;
  };
  preflight({ ref: true, iperf: true });
  const o = new Outer(process.argv[1]!);
  try {
    const seconds = opt('seconds', 5);
    const rounds = opt('rounds', 3);
    console.log(`iperf3 TCP, one stream, ${seconds} s × ${rounds} rounds per flavour, container → container on one bridge`);
    const r = await o.phase<Out>({ seconds, rounds });
    const ref = stats(r.gbps.ref!).median;
    for (const f of FLAVORS) {
      const s = stats(r.gbps[f]!);
      console.log(
        `${FLAVOR_LABEL[f].padEnd(40)} median ${fmt(s.median, 2)} Gbit/s (runs: ${r.gbps[f]!.map((x) => fmt(x, 2)).join(', ')}), eth0 mtu ${r.mtu[f]}  ${fmt(s.median / ref, 3)}× reference`,
      );
    }
    console.log('target (issue 6): ≥ 0.98× the reference');
  } finally {
    o.cleanup();
  }
}

void (INSIDE ? inner() : outer()).catch((e) => {
  console.error(`cni-iperf: ${(e as Error).message}`);
  process.exit(1);
});
