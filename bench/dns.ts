// Benchmark (not a test): tsnet's container resolver (tsnet-dns) next to the two resolvers podman uses —
// dnsmasq as the dnsname CNI plugin configures it, and aardvark-dns (netavark's) — serving the same N
// container names, in the same run, in a namespace of its own (all traffic on its loopback: ours on
// 127.0.0.2, dnsmasq on 127.0.0.3, aardvark-dns on 127.0.0.4, the client on 127.0.0.1, registered as a
// container so that aardvark-dns answers it). Two measurements, rounds interleaved between the servers:
//   latency   one query at a time from this process (A, a random container name): median and p99 round trip
//   qps       dnsperf (apt-get install dnsperf) with 100 queries outstanding for --seconds; without dnsperf,
//             this process with 64 in flight (then the client may be what saturates first)
// Every server is first checked to answer a name right. Run as root after `npm ci`:
//   node dist/bench/dns.js [--names 200] [--queries 2000] [--seconds 5] [--rounds 3]
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import dnsPacket from 'dns-packet';

const args = process.argv.slice(2);
const opt = (k: string, d: string) => (args.includes(k) ? args[args.indexOf(k) + 1]! : d);
const N = Number(opt('--names', '200'));
const QUERIES = Number(opt('--queries', '2000'));
const SECONDS = Number(opt('--seconds', '5'));
const ROUNDS = Number(opt('--rounds', '3'));
const SERVER = fileURLToPath(new URL('../cni/tsnet-dns', import.meta.url));
const AARDVARK = ['/usr/lib/podman/aardvark-dns', '/usr/libexec/podman/aardvark-dns'].find(existsSync);
const DNSMASQ = ['/usr/sbin/dnsmasq'].find(existsSync);
const DNSPERF = spawnSync('dnsperf', ['-h']).error ? undefined : 'dnsperf';

const isClient = args.includes('--client');
const id = Math.random().toString(16).slice(2, 8);
const ns = `tsb${id}dns`;
const dir = isClient ? opt('--dir', '') : mkdtempSync(join(tmpdir(), 'tsnet-bench-dns-'));
const children: ChildProcess[] = [];

function cleanup(): void {
  for (const c of children) c.kill('SIGTERM');
  spawnSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' })
    .stdout?.split('\n')
    .filter(Boolean)
    .forEach((p) => spawnSync('kill', ['-9', p]));
  spawnSync('ip', ['netns', 'del', ns]);
  rmSync(dir, { recursive: true, force: true });
}
process.on('SIGINT', () => {
  cleanup();
  process.exit(130);
});

const ipOf = (i: number) => `10.123.${Math.floor(i / 250)}.${(i % 250) + 2}`;
const names = Array.from({ length: N }, (_, i) => `ctr-${i}`);

interface Server {
  name: string;
  address: string;
}

async function waitAnswer(s: Server): Promise<void> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const r = await query(s.address, names[0]!, 500).catch(() => undefined);
    const a = r && (dnsPacket.decode(r).answers ?? []).map((x) => (x as { data: string }).data);
    if (a && a.includes(ipOf(0))) return;
    if (Date.now() > deadline) throw new Error(`${s.name} on ${s.address} does not answer ${names[0]} with ${ipOf(0)}`);
    await new Promise((res) => setTimeout(res, 50));
  }
}

/** This benchmark runs its queries from inside the namespace: it re-executes itself there as the client. */
function query(address: string, name: string, timeoutMs = 2000): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const sock = createSocket('udp4');
    const timer = setTimeout(() => {
      sock.close();
      reject(new Error('timeout'));
    }, timeoutMs);
    sock.on('message', (m) => {
      clearTimeout(timer);
      sock.close();
      resolve(m);
    });
    sock.bind(0, '127.0.0.1', () =>
      sock.send(
        dnsPacket.encode({ type: 'query', id: 1, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type: 'A', name }] }),
        53,
        address,
      ),
    );
  });
}

/** Sequential round trips from one socket; returns the sorted times in µs. */
async function latency(address: string, count: number): Promise<number[]> {
  const sock = createSocket('udp4');
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
  const out: number[] = [];
  let pending: ((m: Buffer) => void) | undefined;
  sock.on('message', (m) => pending?.(m));
  for (let i = 0; i < count; i++) {
    const q = dnsPacket.encode({ type: 'query', id: i & 0xffff, questions: [{ type: 'A', name: names[(i * 7919) % N]! }] });
    const t0 = process.hrtime.bigint();
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no answer from ${address}`)), 2000);
      pending = () => {
        clearTimeout(timer);
        resolve();
      };
      sock.send(q, 53, address);
    });
    out.push(Number(process.hrtime.bigint() - t0) / 1000);
  }
  sock.close();
  return out.sort((a, b) => a - b);
}

/** Queries per second with `inflight` outstanding, from this process, for `seconds`. */
async function nodeQps(address: string, seconds: number, inflight = 64): Promise<number> {
  const sock = createSocket('udp4');
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
  let answered = 0;
  let i = 0;
  const end = Date.now() + seconds * 1000;
  const send = () =>
    sock.send(dnsPacket.encode({ type: 'query', id: i++ & 0xffff, questions: [{ type: 'A', name: names[i % N]! }] }), 53, address);
  await new Promise<void>((resolve) => {
    sock.on('message', () => {
      answered++;
      if (Date.now() < end) send();
      else resolve();
    });
    for (let k = 0; k < inflight; k++) send();
    setTimeout(resolve, seconds * 1000 + 2000);
  });
  sock.close();
  return answered / seconds;
}

function dnsperfQps(address: string, seconds: number): number {
  const qfile = join(dir, 'queries.txt');
  const r = spawnSync(DNSPERF!, ['-s', address, '-d', qfile, '-l', String(seconds), '-q', '100', '-c', '1', '-T', '1'], {
    encoding: 'utf8',
  });
  const m = /Queries per second:\s+([\d.]+)/.exec(r.stdout);
  const lost = /Queries lost:\s+(\d+)/.exec(r.stdout);
  if (!m) throw new Error(`dnsperf against ${address}: ${r.stdout}${r.stderr}`);
  if (lost && Number(lost[1]) > 0) console.log(`  (dnsperf: ${lost[1]} queries lost against ${address})`);
  return Number(m[1]);
}

const pct = (s: number[], p: number) => s[Math.min(s.length - 1, Math.floor((s.length * p) / 100))]!;

async function client(servers: Server[]): Promise<void> {
  for (const s of servers) await waitAnswer(s);
  const lat = new Map<string, number[]>(servers.map((s) => [s.name, []]));
  const qps = new Map<string, number[]>(servers.map((s) => [s.name, []]));
  for (const s of servers) await latency(s.address, 200); // warm-up (JIT, caches)
  for (let r = 0; r < ROUNDS; r++) {
    for (const s of servers) lat.get(s.name)!.push(...(await latency(s.address, Math.ceil(QUERIES / ROUNDS))));
    for (const s of servers) qps.get(s.name)!.push(DNSPERF ? dnsperfQps(s.address, SECONDS) : await nodeQps(s.address, SECONDS));
  }
  const ref = servers.find((s) => s.name !== 'tsnet-dns');
  const ours = servers.find((s) => s.name === 'tsnet-dns')!;
  const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  console.log(
    `\n${N} container names, A queries for random names; latency: ${QUERIES} sequential queries per server; ` +
      `qps: ${DNSPERF ? 'dnsperf, 100 outstanding' : 'this process, 64 in flight'}, ${SECONDS} s × ${ROUNDS} rounds (median)\n`,
  );
  console.log('| server | latency median | p99 | queries/s | latency ×ref | qps ×ref |');
  console.log('|---|---|---|---|---|---|');
  for (const s of servers) {
    const l = lat.get(s.name)!.sort((a, b) => a - b);
    const q = med(qps.get(s.name)!);
    const refs = servers.filter((x) => x !== ours);
    const ratio = (v: number, f: (x: Server) => number) => refs.map((x) => `${(v / f(x)).toFixed(2)}× ${x.name}`).join(', ');
    const lm = (x: Server) =>
      pct(
        lat.get(x.name)!.sort((a, b) => a - b),
        50,
      );
    const qm = (x: Server) => med(qps.get(x.name)!);
    console.log(
      `| ${s.name} | ${pct(l, 50).toFixed(0)} µs | ${pct(l, 99).toFixed(0)} µs | ${q.toFixed(0)} | ${s === ours && ref ? ratio(pct(l, 50), lm) : ''} | ${s === ours && ref ? ratio(q, qm) : ''} |`,
    );
  }
}

async function main(): Promise<void> {
  if (isClient) {
    const servers = JSON.parse(opt('--client', '[]')) as Server[];
    await client(servers);
    return;
  }
  if (process.getuid?.() !== 0) throw new Error('run as root (a network namespace of its own)');
  if (!existsSync(SERVER)) throw new Error(`${SERVER} is missing: npm run build:cni`);
  spawnSync('ip', ['netns', 'add', ns]);
  spawnSync('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
  const inNs = (cmd: string, a: string[]) => {
    const c = spawn('ip', ['netns', 'exec', ns, cmd, ...a], { stdio: ['ignore', 'ignore', 'inherit'] });
    children.push(c);
    return c;
  };
  const servers: Server[] = [];
  // tsnet-dns: the records file as the plugin writes it, the resolver as the plugin starts it.
  const ours = join(dir, 'tsnet-dns');
  mkdirSync(ours, { mode: 0o700 });
  const entries = names.map((n, i) => ({ containerId: `c${i}`, ifname: 'eth0', name: n, aliases: [], ips: [ipOf(i)] }));
  entries.push({ containerId: 'client', ifname: 'eth0', name: 'bench-client', aliases: [], ips: ['127.0.0.1'] });
  writeFileSync(
    join(ours, 'names.json'),
    JSON.stringify({ generation: 1, networks: { bench: { resolvers: ['127.0.0.2'], domain: 'dns.tsnet', entries } } }),
  );
  inNs(process.execPath, [SERVER, 'serve', ours]);
  servers.push({ name: 'tsnet-dns', address: '127.0.0.2' });
  if (DNSMASQ) {
    // As the dnsname plugin configures it (local=/domain/, domain, expand-hosts, addn-hosts), less forwarding.
    writeFileSync(join(dir, 'hosts'), names.map((n, i) => `${ipOf(i)}\t${n}\n`).join(''));
    inNs(DNSMASQ, [
      '--keep-in-foreground',
      '--conf-file=/dev/null',
      '--no-resolv',
      '--no-hosts',
      '--strict-order',
      '--local=/dns.tsnet/',
      '--domain=dns.tsnet',
      '--expand-hosts',
      `--addn-hosts=${join(dir, 'hosts')}`,
      '--listen-address=127.0.0.3',
      '--bind-interfaces',
      '--user=root',
      '--pid-file=',
    ]);
    servers.push({ name: 'dnsmasq (dnsname)', address: '127.0.0.3' });
  } else console.log('dnsmasq not installed (apt-get install dnsmasq-base): no dnsmasq measurement');
  if (AARDVARK) {
    mkdirSync(join(dir, 'aardvark'));
    const lines = ['127.0.0.4', ...names.map((n, i) => `c${i} ${ipOf(i)}  ${n}`), 'client 127.0.0.1  bench-client'];
    writeFileSync(join(dir, 'aardvark', 'bench'), `${lines.join('\n')}\n`);
    // `run` forks a daemon: in a pid namespace of its own, whose end (unshare killed) takes it along, reaped.
    inNs('unshare', [
      '--pid',
      '--fork',
      '--kill-child',
      'sh',
      '-c',
      `${AARDVARK} --config ${join(dir, 'aardvark')} -p 53 run && exec sleep 100000`,
    ]);
    servers.push({ name: 'aardvark-dns', address: '127.0.0.4' });
  } else console.log('aardvark-dns not installed (apt-get install aardvark-dns): no aardvark-dns measurement');
  if (DNSPERF) writeFileSync(join(dir, 'queries.txt'), names.map((n) => `${n} A\n`).join(''));
  // The client runs inside the namespace: this same script, re-executed there.
  const r = spawnSync(
    'ip',
    ['netns', 'exec', ns, process.execPath, fileURLToPath(import.meta.url), ...args, '--dir', dir, '--client', JSON.stringify(servers)],
    {
      stdio: 'inherit',
    },
  );
  if (r.status !== 0) throw new Error(`the client failed (${r.status})`);
}

main()
  .catch((e) => {
    console.error(`bench failed: ${(e as Error).message}`);
    process.exitCode = 1;
  })
  .finally(() => {
    if (!isClient) cleanup();
  });
