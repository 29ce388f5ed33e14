// Benchmark (not a test): the overlay between two "hosts" (namespaces on one underlay switch, etcd in a third).
//  1. cross-host TCP throughput (iperf3) container → container over the overlay, against a bare VXLAN pair
//     between the same two hosts in the same run (goal ≥ 0.95×);
//  2. container start (overlay ADD, exec'd) with the store local (no delay) and remote (netem delay on etcd's
//     link: --rtt ms round trip).
//   node dist/bench/overlay.js [--seconds 5] [--rounds 3] [--adds 10] [--rtt 10]     (root; iperf3, etcd-server)
// Everything is made under the prefix tsbo<id> and removed at the end, also on failure or Ctrl-C.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { startEtcd, type EtcdServer } from '../ipam/cluster/testing/etcd.js';
import { iperf, sh } from './cni-lab.js';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const OVERLAY = join(REPO, 'dist', 'cni', 'overlay');
const CLI = join(REPO, 'dist', 'engine', 'cli', 'main.js');

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
  const rtt = opt('rtt', 10);
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
    const plug = (n: string, i: number, addr: string) => {
      ipn(sw, 'link', 'add', `p${i}`, 'type', 'veth', 'peer', 'name', 'u0', 'netns', n);
      ipn(sw, 'link', 'set', `p${i}`, 'master', 'br0', 'up');
      ipn(n, 'addr', 'add', `${addr}/24`, 'dev', 'u0');
      ipn(n, 'link', 'set', 'u0', 'up');
      ipn(n, 'link', 'set', 'lo', 'up');
    };
    const e = ns('etcd');
    plug(e, 0, '198.18.0.100');
    const h = [ns('h1'), ns('h2')];
    plug(h[0]!, 1, '198.18.0.1');
    plug(h[1]!, 2, '198.18.0.2');
    etcd = await startEtcd({ address: '198.18.0.100', port: 2379, netns: e });
    for (const [i, hn] of h.entries()) {
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
            etcd.url,
            '--host-name',
            `h${i + 1}`,
            '--socket',
            join(tmp, `h${i}.sock`),
          ],
          {
            stdio: 'ignore',
            env: { ...process.env, TSNET_ROOT: join(tmp, `root${i}`) },
          },
        ),
      );
    }

    // bare VXLAN pair between the two hosts (another VNI and port), MTU as the overlay's
    for (const [i, hn] of h.entries()) {
      ipn(
        hn,
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
      ipn(hn, 'link', 'set', 'bvx', 'mtu', '1450', 'up');
      ipn(hn, 'addr', 'add', `10.250.0.${i + 1}/24`, 'dev', 'bvx');
    }
    // overlay: one container per host
    const conf = (i: number) => ({
      cniVersion: '1.0.0',
      name: 'bench',
      type: 'overlay',
      store: etcd!.url,
      subnet: '10.251.0.0/24',
      vni: 4500,
      host: `h${i}`,
      dataDir: join(tmp, `root${i - 1}`, 'cluster'), // the host's record, where its tsnetd keeps it
    });
    const c = [ns('c1'), ns('c2')];
    add(h[0]!, conf(1), 'c1', c[0]!);
    add(h[1]!, conf(2), 'c2', c[1]!);
    const target = JSON.parse(ipn(c[1]!, '-j', 'addr', 'show', 'eth0'))[0].addr_info.find((a: { family: string }) => a.family === 'inet')
      .local as string;
    for (let i = 0; i < 100 && spawnSync('ip', ['netns', 'exec', c[0]!, 'ping', '-c1', '-W1', target]).status !== 0; i++) await sleep(100);

    const bare: number[] = [];
    const over: number[] = [];
    for (let r = 0; r < rounds; r++) {
      bare.push(iperf(h[1]!, h[0]!, '10.250.0.2', seconds));
      over.push(iperf(c[1]!, c[0]!, target, seconds));
    }
    console.log(
      `throughput, ${rounds} × ${seconds} s, Gbit/s (median): bare VXLAN ${median(bare).toFixed(2)}, overlay ${median(over).toFixed(2)}`,
    );
    console.log(`  overlay / bare VXLAN = ${(median(over) / median(bare)).toFixed(3)}  (goal ≥ 0.95)`);

    // container start: one in a block the host holds (answered from the host's record, no etcd) and one that
    // asks etcd (the host's first on a new network: created, joined, a block claimed, the entries synced), each
    // with the store local and --rtt ms away (netem on etcd's link)
    const join_ = (tag: string, k: number) => ({
      ...conf(1),
      name: `bj${tag}${k}`,
      subnet: `10.${tag === 'l' ? 252 : 253}.${k}.0/24`,
      vni: 4600 + (tag === 'l' ? 0 : 100) + k,
    });
    const time = (tag: string): { held: number[]; first: number[] } => ({
      held: Array.from({ length: adds }, (_, k) => add(h[0]!, conf(1), `${tag}${k}`, ns(`${tag}${k}`))),
      first: Array.from({ length: adds }, (_, k) => add(h[0]!, join_(tag, k), `${tag}f${k}`, ns(`${tag}f${k}`))),
    });
    const local = time('l');
    const line = (what: string, r: { held: number[]; first: number[] }) =>
      `${what}: in a held block ${median(r.held).toFixed(1)} ms, first on a network (asks etcd) ${median(r.first).toFixed(1)} ms`;
    const tc = spawnSync('tc', ['-n', e, 'qdisc', 'add', 'dev', 'u0', 'root', 'netem', 'delay', `${rtt}ms`], { encoding: 'utf8' });
    if (tc.status !== 0) {
      console.log(
        `overlay ADD (exec'd), median of ${adds}; ${line('store local', local)}; remote not measured (netem: ${tc.stderr.trim()})`,
      );
      return;
    }
    const remote = time('r');
    console.log(`overlay ADD (exec'd), median of ${adds}; ${line('store local', local)}; ${line(`store ${rtt} ms away`, remote)}`);
  } finally {
    await cleanup();
  }
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
