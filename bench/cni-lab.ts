// Shared scaffolding for the CNI benchmarks (not tests): every phase runs in a fresh namespace that plays the
// host (the bench re-execs itself there), containers are namespaces named tsb<id>…, and the outer process
// removes all of them, the temp dir and any daemon it started — on success, failure or Ctrl-C.
// Only traffic between the bench's own namespaces; nothing on the real host is touched.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const OUR_CNI = join(REPO, 'dist', 'cni');
export const FAST_CNI = join(REPO, 'dist', 'cni-fast');
export const REF_CNI = '/usr/lib/cni';
export const TSNETD = join(REPO, 'dist', 'plugins', 'daemon', 'tsnetd-main.js');

export type Flavor = 'ref' | 'ours' | 'fast' | 'shim-fallback';
export const FLAVOR_LABEL: Record<Flavor, string> = {
  ref: 'reference bridge+host-local',
  ours: 'tsnet standalone (bridge+tsnet-ipam)',
  fast: 'tsnet fast path (shim+tsnetd)',
  'shim-fallback': 'tsnet shim, no daemon (→ standalone)',
};

export const INSIDE = process.env.TSNET_BENCH_INSIDE === '1';

export function sh(cmd: string, ...args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr || r.stdout}`);
  return r.stdout;
}

/** Runs `ip -force -batch` with the given lines (netns add/del, link …). */
export function ipBatch(lines: string[]): void {
  if (!lines.length) return;
  const f = join(tmpdir(), `tsnet-bench-batch-${process.pid}-${randomBytes(3).toString('hex')}`);
  writeFileSync(f, `${lines.join('\n')}\n`);
  try {
    spawnSync('ip', ['-force', '-batch', f], { stdio: 'ignore' });
  } finally {
    rmSync(f, { force: true });
  }
}

export function preflight(needs: { ref?: boolean; fast?: boolean; iperf?: boolean } = {}): void {
  if (process.getuid?.() !== 0) throw new Error('the CNI benchmarks need root (they create network namespaces)');
  if (!existsSync(join(OUR_CNI, 'bridge'))) throw new Error(`${OUR_CNI}/bridge missing: run 'node plugins/cni/build.mjs'`);
  if (needs.fast && !existsSync(join(FAST_CNI, 'bridge')))
    throw new Error(`${FAST_CNI}/bridge missing: run 'npm run build:native && npm run build:cni-fast'`);
  if (!existsSync(EXEC_TIMED)) throw new Error(`${EXEC_TIMED} missing: run 'npm run build:native'`);
  if (needs.fast && !existsSync(TSNETD)) throw new Error(`${TSNETD} missing: run 'npx tsc -p tsconfig.json'`);
  if (needs.ref && !existsSync(join(REF_CNI, 'bridge')))
    throw new Error(`${REF_CNI}/bridge missing: apt-get install containernetworking-plugins`);
  if (needs.iperf && spawnSync('iperf3', ['--version']).status !== 0) throw new Error('iperf3 missing: apt-get install -y iperf3');
}

/**
 * The outer side: runs `phase` (a JSON-able argument) in a fresh host namespace by re-executing this script
 * there, returns what the phase printed as its last stdout line (JSON). Cleans everything up after.
 */
export class Outer {
  readonly id = randomBytes(3).toString('hex');
  readonly prefix = `tsb${this.id}`;
  readonly tmp = mkdtempSync(join(tmpdir(), `tsnet-bench-${this.id}-`));
  private n = 0;
  private child?: ChildProcess;

  constructor(private readonly script: string) {
    const bail = (sig: string) => {
      process.stderr.write(`\n${sig}: cleaning up\n`);
      this.child?.kill('SIGKILL');
      this.cleanup();
      process.exit(130);
    };
    process.once('SIGINT', () => bail('SIGINT'));
    process.once('SIGTERM', () => bail('SIGTERM'));
  }

  async phase<T>(arg: unknown): Promise<T> {
    settle(); // e.g. the kernel still tearing down the previous phase's namespaces
    const host = `${this.prefix}h${this.n++}`;
    sh('ip', 'netns', 'add', host);
    try {
      const out = await new Promise<string>((res, rej) => {
        const p = spawn('ip', ['netns', 'exec', host, process.execPath, this.script, JSON.stringify(arg)], {
          env: { ...process.env, TSNET_BENCH_INSIDE: '1', TSNET_BENCH_PREFIX: `${this.prefix}${this.n}`, TSNET_BENCH_TMP: this.tmp },
          stdio: ['ignore', 'pipe', 'inherit'],
        });
        this.child = p;
        let stdout = '';
        p.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
        p.on('close', (code) =>
          code === 0 ? res(stdout) : rej(new Error(`bench phase ${JSON.stringify(arg)} failed with exit code ${code}`)),
        );
      });
      const last = out.trim().split('\n').pop() ?? '';
      return JSON.parse(last) as T;
    } finally {
      this.child = undefined;
      this.killDaemons();
      this.deleteNamespaces();
    }
  }

  private killDaemons(): void {
    for (const f of existsSync(this.tmp) ? readdirSync(this.tmp) : []) {
      if (!f.endsWith('.pid')) continue;
      const pid = Number(readFileSync(join(this.tmp, f), 'utf8'));
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
      rmSync(join(this.tmp, f), { force: true });
    }
  }

  /** Removes every namespace this bench made (the kernel then frees veths and bridges in the background). */
  deleteNamespaces(): number {
    const names = existsSync('/run/netns') ? readdirSync('/run/netns').filter((n) => n.startsWith(this.prefix)) : [];
    ipBatch(names.map((n) => `netns del ${n}`));
    return names.length;
  }

  cleanup(): void {
    this.killDaemons();
    this.deleteNamespaces();
    rmSync(this.tmp, { recursive: true, force: true });
  }
}

function cpuTimes(): { idle: number; total: number } {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  return { idle: f[3]! + (f[4] ?? 0), total: f.reduce((a, b) => a + b, 0) };
}

/**
 * Waits until the machine is quiet again (≥ 90% idle over 250 ms, at most 60 s): deleting namespaces returns
 * at once, but the kernel tears them down afterwards in a worker — seconds of CPU for 1,000 of them — and a
 * phase started meanwhile would be measured against that.
 */
export function settle(maxMs = 60_000): void {
  const t0 = Date.now();
  while (Date.now() - t0 < maxMs) {
    const a = cpuTimes();
    spawnSync('sleep', ['0.25']);
    const b = cpuTimes();
    if ((b.idle - a.idle) / Math.max(1, b.total - a.total) >= 0.9) return;
  }
}

/** The inner side: the phase argument, a name prefix and the shared temp dir. */
export function innerContext<T>(): { arg: T; prefix: string; tmp: string } {
  return { arg: JSON.parse(process.argv[2] ?? '{}') as T, prefix: process.env.TSNET_BENCH_PREFIX!, tmp: process.env.TSNET_BENCH_TMP! };
}

/** Creates container namespaces `${prefix}c0..n-1` (one ip -batch). */
export function makeContainers(prefix: string, n: number, from = 0): string[] {
  const names = Array.from({ length: n }, (_, i) => `${prefix}c${from + i}`);
  ipBatch(names.map((c) => `netns add ${c}`));
  for (const c of names) if (!existsSync(`/run/netns/${c}`)) throw new Error(`could not create netns ${c}`);
  return names;
}

/** One flavor's executable, env and config on a given bridge/subnet. */
export interface Setup {
  flavor: Flavor;
  file: string;
  env: Record<string, string>;
  conf: string;
}

export function setup(flavor: Flavor, opts: { bridge: string; subnet: string; tmp: string; tag: string; socket?: string }): Setup {
  const base = { cniVersion: '1.0.0', name: `bench${opts.tag}`, type: 'bridge', bridge: opts.bridge, isGateway: true };
  const env: Record<string, string> = { PATH: process.env.PATH ?? '/usr/bin:/bin' };
  if (flavor === 'ref') {
    const dataDir = join(opts.tmp, `host-local-${opts.tag}`);
    mkdirSync(dataDir, { recursive: true });
    return {
      flavor,
      file: join(REF_CNI, 'bridge'),
      env: { ...env, CNI_PATH: REF_CNI },
      conf: JSON.stringify({ ...base, ipam: { type: 'host-local', subnet: opts.subnet, dataDir } }),
    };
  }
  const root = join(opts.tmp, `root-${opts.tag}`);
  mkdirSync(root, { recursive: true });
  const conf = JSON.stringify({ ...base, ipam: { type: 'tsnet-ipam', subnet: opts.subnet } });
  const ourEnv = { ...env, CNI_PATH: `${OUR_CNI}:${REF_CNI}`, TSNET_ROOT: root };
  if (flavor === 'ours') return { flavor, file: join(OUR_CNI, 'bridge'), env: ourEnv, conf };
  if (flavor === 'shim-fallback')
    return { flavor, file: join(FAST_CNI, 'bridge'), env: { ...ourEnv, TSNET_SOCKET: join(opts.tmp, 'no-daemon.sock') }, conf };
  return { flavor, file: join(FAST_CNI, 'bridge'), env: { ...ourEnv, TSNET_SOCKET: opts.socket! }, conf };
}

export interface CallResult {
  /** Spawn → exit as this (Node) process sees it. */
  ms: number;
  /** Spawn → exit as measured by exec-timed (posix_spawn, as a Go runtime execs): set by timed calls. */
  execMs?: number;
  status: number | null;
  stdout: string;
  stderr: string;
}

/** bench/exec-timed.c, built with the addon: execs a plugin with posix_spawn and reports the time on fd 3. */
export const EXEC_TIMED = join(REPO, 'native', 'build', 'Release', 'tsnet-bench-exec');

function execMsOf(out: string, what: string): number {
  const ms = Number(out.trim());
  if (!out.trim() || !Number.isFinite(ms)) throw new Error(`${what}: exec-timed reported no time (${JSON.stringify(out)})`);
  return ms;
}

function callEnv(s: Setup, command: string, ctr: string): Record<string, string> {
  return { ...s.env, CNI_COMMAND: command, CNI_CONTAINERID: ctr, CNI_NETNS: `/run/netns/${ctr}`, CNI_IFNAME: 'eth0', CNI_ARGS: '' };
}

/**
 * Execs one call synchronously, timed from spawn to exit as this process sees it (`ms`); with `timed`,
 * through exec-timed, which also reports the time a runtime's posix_spawn → wait would see (`execMs`).
 */
export function callSync(s: Setup, command: string, ctr: string, timed = false): CallResult {
  const t0 = process.hrtime.bigint();
  const opts = { env: callEnv(s, command, ctr), input: s.conf, encoding: 'utf8' as const };
  const r = timed ? spawnSync(EXEC_TIMED, [s.file], { ...opts, stdio: ['pipe', 'pipe', 'pipe', 'pipe'] }) : spawnSync(s.file, [], opts);
  const out: CallResult = {
    ms: Number(process.hrtime.bigint() - t0) / 1e6,
    status: r.status,
    stdout: r.stdout ?? '',
    stderr: r.stderr ?? '',
  };
  if (timed && r.status === 0) out.execMs = execMsOf(r.output[3] ?? '', `${s.flavor} ${command}`);
  return out;
}

/** Execs one call asynchronously (for parallel runs) through exec-timed: `ms` as this process sees it, and `execMs`. */
export function callAsync(s: Setup, command: string, ctr: string): Promise<CallResult> {
  return new Promise((res) => {
    const t0 = process.hrtime.bigint();
    const p = spawn(EXEC_TIMED, [s.file], { env: callEnv(s, command, ctr), stdio: ['pipe', 'pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let timing = '';
    p.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    p.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    (p.stdio[3] as NodeJS.ReadableStream).setEncoding('utf8').on('data', (d: string) => (timing += d));
    p.stdin!.end(s.conf);
    p.on('close', (status) => {
      const out: CallResult = { ms: Number(process.hrtime.bigint() - t0) / 1e6, status, stdout, stderr };
      if (status === 0) out.execMs = execMsOf(timing, `${s.flavor} ${command}`);
      res(out);
    });
  });
}

export function mustOk(r: CallResult, what: string): void {
  if (r.status !== 0) throw new Error(`${what} failed (${r.status}): ${r.stdout}${r.stderr}`);
}

/** Starts tsnetd in this (host) namespace; its pid is recorded so the outer process can kill it. */
export async function startDaemon(tmp: string, tag: string): Promise<{ socket: string; pid: number; stop(): Promise<void> }> {
  const socket = join(tmp, `tsnetd-${tag}.sock`);
  const root = join(tmp, `root-${tag}`);
  mkdirSync(root, { recursive: true });
  const p = spawn(process.execPath, [TSNETD], {
    env: { ...process.env, TSNET_SOCKET: socket, TSNET_ROOT: root },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  writeFileSync(join(tmp, `tsnetd-${tag}.pid`), String(p.pid));
  let log = '';
  await new Promise<void>((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`tsnetd did not start: ${log}`)), 10_000);
    p.stderr!.setEncoding('utf8').on('data', (d: string) => {
      log += d;
      if (log.includes('listening on')) {
        clearTimeout(timer);
        res();
      }
    });
    p.once('exit', (c) => rej(new Error(`tsnetd exited (${c}): ${log}`)));
  });
  return {
    socket,
    pid: p.pid!,
    stop: () =>
      new Promise((res) => {
        p.once('exit', () => res());
        p.kill('SIGTERM');
      }),
  };
}

/** VmHWM / VmRSS of a pid, in MiB. */
export function procMem(pid: number): { hwmMiB: number; rssMiB: number } {
  const st = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(st)?.[1] ?? NaN);
  return { hwmMiB: kb('VmHWM') / 1024, rssMiB: kb('VmRSS') / 1024 };
}

export function stats(xs: number[]): { n: number; median: number; mean: number; p90: number; min: number } {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p: number) => s[Math.min(s.length - 1, Math.floor(p * s.length))]!;
  // An even count's median is the mean of the two middle values (with 2 rounds: their mean, not the larger).
  const median = s.length % 2 === 0 && s.length > 0 ? (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2 : q(0.5);
  return { n: s.length, median, mean: s.reduce((a, b) => a + b, 0) / Math.max(1, s.length), p90: q(0.9), min: s[0] ?? NaN };
}

export const fmt = (x: number, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : '-');

/** TCP throughput in Gbit/s from `client` to an iperf3 server bound to `addr` in `server` (namespaces), retried until the server listens. */
export function iperf(server: string, client: string, addr: string, seconds: number): number {
  const srv = spawn('ip', ['netns', 'exec', server, 'iperf3', '-s', '-1', '-B', addr], { stdio: 'ignore' });
  try {
    for (let i = 0; i < 50; i++) {
      const r = spawnSync('ip', ['netns', 'exec', client, 'iperf3', '-c', addr, '-t', String(seconds), '-J'], { encoding: 'utf8' });
      let j: { error?: string; end?: { sum_received?: { bits_per_second?: number } } } = {};
      try {
        j = JSON.parse(r.stdout);
      } catch {
        /* not started yet */
      }
      const bps = j.end?.sum_received?.bits_per_second;
      if (!j.error && bps) return bps / 1e9;
      spawnSync('sleep', ['0.1']); // server not listening yet
    }
    throw new Error(`iperf3 from ${client} to ${addr} kept failing`);
  } finally {
    srv.kill('SIGKILL');
  }
}
