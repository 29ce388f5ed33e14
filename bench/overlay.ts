// Benchmark (not a test): the overlay between two "hosts" (namespaces on one underlay switch, etcd in a third).
//  1. cross-host TCP throughput (iperf3) container → container over the overlay, against a bare VXLAN pair
//     between the same two hosts in the same run (goal ≥ 0.95×);
//  2. container start (overlay ADD, exec'd) with the store local (etcd on the switch) and remote: more hosts on
//     the same switch whose store address is a relay (./tcp-delay.ts, in a namespace of its own) that holds
//     every chunk for RTT/2 each way in front of the same etcd — --rtt ms round trip, one host per value.
//   node dist/bench/overlay.js [--seconds 5] [--rounds 3] [--adds 10] [--rtt 10,50]     (root; iperf3, etcd-server)
// Everything is made under the prefix tsbo<id> and removed at the end, also on failure or Ctrl-C.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { startEtcd, type EtcdServer } from '../ipam/cluster/testing/etcd.js';
import { iperf, settle, sh } from './cni-lab.js';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const OVERLAY = join(REPO, 'dist', 'cni', 'overlay');
const CLI = join(REPO, 'dist', 'engine', 'cli', 'main.js');
const RELAY = join(REPO, 'dist', 'bench', 'tcp-delay.js');

function opt(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
}

const ipn = (ns: string, ...a: string[]) => sh('ip', '-n', ns, ...a);

function add(hostNs: string, conf: object, id: string, netns: string): number {
  const t0 = process.hrtime.bigint();
  const r = spawnSync('ip', ['netns', 'exec', hostNs, OVERLAY], {
    input: JSON.stringify(conf),
    encoding: 'utf8',
    env: {
      PATH: process.env.PATH,
      CNI_COMMAND: 'ADD',
      CNI_CONTAINERID: id,
      CNI_NETNS: `/run/netns/${netns}`,
      CNI_IFNAME: 'eth0',
      CNI_PATH: dirname(OVERLAY),
    },
  });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`overlay ADD ${id}: ${r.stdout} ${r.stderr}`);
  return ms;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  const seconds = opt('seconds', 5);
  const rounds = opt('rounds', 3);
  const adds = opt('adds', 10);
  const rttArg = process.argv.indexOf('--rtt');
  const rtts = (rttArg > 0 ? process.argv[rttArg + 1]! : '10,50')
    .split(',')
    .map(Number)
    .sort((a, b) => a - b);
  if (rtts.some((r) => !(r > 0))) throw new Error('--rtt: give round-trip times in ms, comma-separated (e.g. 10,50)');
  const prefix = `tsbo${randomBytes(2).toString('hex')}`;
  const tmp = mkdtempSync(join(tmpdir(), 'tsnet-bench-overlay-'));
  const namespaces: string[] = [];
  const procs: ChildProcess[] = [];
  let etcd: EtcdServer | undefined;
  const ns = (label: string): string => {
    const n = `${prefix}${label}`;
    sh('ip', 'netns', 'add', n);
    namespaces.push(n);
    return n;
  };
  const cleanup = async () => {
    for (const p of procs) p.kill('SIGKILL');
    await etcd?.dispose().catch(() => undefined);
    for (const n of namespaces.reverse()) spawnSync('ip', ['netns', 'del', n]);
    rmSync(tmp, { recursive: true, force: true });
  };
  process.once('SIGINT', () => void cleanup().then(() => process.exit(130)));
  try {
    const sw = ns('sw');
    ipn(sw, 'link', 'add', 'br0', 'type', 'bridge');
    ipn(sw, 'link', 'set', 'br0', 'up');
    let ports = 0;
    const plug = (n: string, addr: string) => {
      const p = `p${ports++}`;
      ipn(sw, 'link', 'add', p, 'type', 'veth', 'peer', 'name', 'u0', 'netns', n);
      ipn(sw, 'link', 'set', p, 'master', 'br0', 'up');
      ipn(n, 'addr', 'add', `${addr}/24`, 'dev', 'u0');
      ipn(n, 'link', 'set', 'u0', 'up');
      ipn(n, 'link', 'set', 'lo', 'up');
    };
    const e = ns('etcd');
    plug(e, '198.18.0.100');
    etcd = await startEtcd({ address: '198.18.0.100', port: 2379, netns: e });
    // a host: its namespace on the switch, its tsnetd (lease, entries) on `store`, its record under its root
    const host = (label: string, addr: string, store: string) => {
      const hn = ns(label);
      plug(hn, addr);
      const root = join(tmp, `root-${label}`);
      procs.push(
        spawn(
          'ip',
          [
            'netns',
            'exec',
            hn,
            process.execPath,
            CLI,
            'daemon',
            '--store',
            store,
            '--host-name',
            label,
            '--socket',
            join(tmp, `${label}.sock`),
          ],
          {
            stdio: 'ignore',
            env: { ...process.env, TSNET_ROOT: root },
          },
        ),
      );
      return { ns: hn, name: label, store, root };
    };
    type Host = ReturnType<typeof host>;
    const h = [host('h1', '198.18.0.1', etcd.url), host('h2', '198.18.0.2', etcd.url)];

    // bare VXLAN pair between the two hosts (another VNI and port), MTU as the overlay's
    for (const [i, hn] of h.entries()) {
      ipn(
        hn.ns,
        'link',
        'add',
        'bvx',
        'type',
        'vxlan',
        'id',
        '999',
        'local',
        `198.18.0.${i + 1}`,
        'remote',
        `198.18.0.${2 - i}`,
        'dstport',
        '4790',
      );
      ipn(hn.ns, 'link', 'set', 'bvx', 'mtu', '1450', 'up');
      ipn(hn.ns, 'addr', 'add', `10.250.0.${i + 1}/24`, 'dev', 'bvx');
    }
    // overlay: one container per host
    const conf = (hs: Host) => ({
      cniVersion: '1.0.0',
      name: 'bench',
      type: 'overlay',
      store: hs.store,
      subnet: '10.251.0.0/16', // a /26 block per host: room for many
      vni: 4500,
      host: hs.name,
      dataDir: join(hs.root, 'cluster'), // the host's record, where its tsnetd keeps it
    });
    const c = [ns('c1'), ns('c2')];
    add(h[0]!.ns, conf(h[0]!), 'c1', c[0]!);
    add(h[1]!.ns, conf(h[1]!), 'c2', c[1]!);
    const target = JSON.parse(ipn(c[1]!, '-j', 'addr', 'show', 'eth0'))[0].addr_info.find((a: { family: string }) => a.family === 'inet')
      .local as string;
    for (let i = 0; i < 100 && spawnSync('ip', ['netns', 'exec', c[0]!, 'ping', '-c1', '-W1', target]).status !== 0; i++) await sleep(100);

    const bare: number[] = [];
    const over: number[] = [];
    for (let r = 0; r < rounds; r++) {
      bare.push(iperf(h[1]!.ns, h[0]!.ns, '10.250.0.2', seconds));
      over.push(iperf(c[1]!, c[0]!, target, seconds));
    }
    console.log(
      `throughput, ${rounds} × ${seconds} s, Gbit/s (median): bare VXLAN ${median(bare).toFixed(2)}, overlay ${median(over).toFixed(2)}`,
    );
    console.log(`  overlay / bare VXLAN = ${(median(over) / median(bare)).toFixed(3)}  (goal ≥ 0.95)`);

    // container start with the store local (h1: etcd on its switch) and RTT ms away (one host per RTT, whose store
    // address is the relay's port for that RTT, it and its tsnetd alike). Two kinds of ADD: one in a block the host
    // holds (answered from the host's record: no store call, so the distance should not show) and a host's first
    // on a network (created, joined, a block claimed, the entries synced: each sequential store call costs an RTT).
    const relayNs = ns('rly');
    plug(relayNs, '198.18.0.50');
    const relay = spawn(
      'ip',
      [
        'netns',
        'exec',
        relayNs,
        process.execPath,
        RELAY,
        ...rtts.flatMap((r, i) => [`198.18.0.50:${2379 + i}`, '198.18.0.100:2379', String(r)]),
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    procs.push(relay);
    await new Promise<void>((resolve, reject) => {
      relay.stdout!.once('data', () => resolve());
      relay.once('exit', (code) => reject(new Error(`the relay exited (${code})`)));
    });
    const remote = rtts.map((r, i) => host(`r${r}`, `198.18.0.${10 + i}`, `etcd://198.18.0.50:${2379 + i}`));
    for (const hs of remote) add(hs.ns, conf(hs), `w${hs.name}`, ns(`w${hs.name}`)); // joins "bench", claims a block
    const setups = [
      { what: 'store local (on the switch)', rtt: 0, hs: h[0]! },
      ...remote.map((hs, i) => ({ what: `store ${rtts[i]} ms away (relay)`, rtt: rtts[i]!, hs })),
    ];
    const times = setups.map(() => ({ held: [] as number[], first: [] as number[] }));
    for (let k = 0; k < adds; k++) {
      // rounds interleave the setups, so the machine's load falls on all of them alike
      // before each ADD the machine settles (≤ 2 s): a first ADD wakes every host's tsnetd (a new network, member
      // and block in the store), and an ADD timed while they sync would carry their work
      for (const [j, { hs }] of setups.entries()) {
        const ctr = ns(`${j}h${k}`);
        settle(2000);
        times[j]!.held.push(add(hs.ns, conf(hs), `${hs.name}h${k}`, ctr));
        const fresh = { ...conf(hs), name: `bj${j}n${k}`, subnet: `10.${200 + j}.${k}.0/24`, vni: 4600 + 100 * j + k };
        const ctr2 = ns(`${j}f${k}`);
        settle(2000);
        times[j]!.first.push(add(hs.ns, fresh, `${hs.name}f${k}`, ctr2));
      }
    }
    const held0 = median(times[0]!.held);
    const first0 = median(times[0]!.first);
    const span = (xs: number[]) => `${Math.min(...xs).toFixed(0)}–${Math.max(...xs).toFixed(0)}`;
    console.log(`overlay ADD (exec'd), median of ${adds} (min–max), rounds interleaved:`);
    for (const [j, { what, rtt }] of setups.entries()) {
      const held = median(times[j]!.held);
      const first = median(times[j]!.first);
      // what the distance adds: the median of the rounds' differences to the local store (a round's ADDs ran
      // seconds apart, so a busy spell of the machine falls on both)
      const more = median(times[j]!.first.map((x, k) => x - times[0]!.first[k]!));
      const extra =
        rtt > 0
          ? `; ×local: held ${(held / held0).toFixed(2)}, first ${(first / first0).toFixed(2)} (+${more.toFixed(0)} ms ≈ ${(more / rtt).toFixed(1)} round trips)`
          : '';
      console.log(
        `  ${what}: in a held block ${held.toFixed(1)} ms (${span(times[j]!.held)}), first on a network (asks etcd) ${first.toFixed(1)} ms (${span(times[j]!.first)})${extra}`,
      );
    }
    // the slope between two distances counts the sequential round trips alone (a constant cost of the remote
    // setups — the relay's own work, say — cancels out)
    for (let j = 2; j < setups.length; j++) {
      const [a, b] = [setups[j - 1]!, setups[j]!];
      const d = median(times[j]!.first.map((x, k) => x - times[j - 1]!.first[k]!));
      console.log(
        `  first on a network, ${a.rtt} → ${b.rtt} ms: +${d.toFixed(0)} ms ≈ ${(d / (b.rtt - a.rtt)).toFixed(1)} sequential round trips`,
      );
    }
  } finally {
    await cleanup();
  }
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
