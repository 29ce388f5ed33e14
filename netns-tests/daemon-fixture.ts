// Fixtures for tsnetd tests: a daemon as a child process inside a namespace that plays the host, a plugin
// (shim or standalone) exec'd as a runtime does, and raw clients of the socket that say what they like.
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { OUR_CNI, REF_CNI, REPO } from './cni-exec.js';
import type { World } from './harness.js';

export const FAST = join(REPO, 'dist', 'cni-fast');
export const TSNETD = join(REPO, 'dist', 'plugins', 'daemon', 'tsnetd-main.js');
export const SHIM = join(REPO, 'native', 'build', 'Release', 'tsnet-cni-shim');

let laidOut: Promise<void> | undefined;
/** dist/cni-fast from the current shim and dist/cni (idempotent, atomic per file). */
export function ensureLayout(): Promise<void> {
  laidOut ??= (async () => {
    const mod = (await import(pathToFileURL(join(REPO, 'plugins', 'cni', 'build.mjs')).href)) as { layoutFastPath: () => unknown };
    mod.layoutFastPath();
  })();
  return laidOut;
}

export interface Daemon {
  proc: ChildProcess;
  socket: string;
  log: () => string;
  exited: Promise<number | null>;
  kill(sig?: NodeJS.Signals): Promise<number | null>;
}

/** Starts tsnetd in `hostNs`; resolves once it listens. Killed (SIGKILL) at the end of the test. */
export async function startDaemon(
  w: World,
  hostNs: string,
  root: string,
  socket: string,
  extraEnv: Record<string, string> = {},
): Promise<Daemon> {
  const proc = spawn('ip', ['netns', 'exec', hostNs, process.execPath, TSNETD], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', TSNET_SOCKET: socket, TSNET_ROOT: root, ...extraEnv },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  proc.stderr!.setEncoding('utf8');
  const exited = new Promise<number | null>((res) => proc.once('exit', (code) => res(code)));
  w.defer(async () => {
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill('SIGKILL');
      await exited;
    }
  });
  await new Promise<void>((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`tsnetd did not start within 10 s: ${log}`)), 10_000);
    proc.stderr!.on('data', (d: string) => {
      log += d;
      if (log.includes('listening on')) {
        clearTimeout(timer);
        res();
      }
    });
    proc.once('exit', (code) => {
      clearTimeout(timer);
      rej(new Error(`tsnetd exited with ${code}: ${log}`));
    });
  });
  return {
    proc,
    socket,
    log: () => log,
    exited,
    async kill(sig: NodeJS.Signals = 'SIGTERM') {
      proc.kill(sig);
      return exited;
    },
  };
}

export interface Call {
  hostNs: string;
  file: string;
  command: string;
  conf: unknown;
  containerId?: string;
  netns?: string;
  ifname?: string;
  env?: Record<string, string>;
}

export interface Outcome {
  status: number | null;
  stdout: string;
  stderr: string;
  json: any;
}

/** Execs a plugin (shim or standalone) inside `hostNs`, asynchronously, as a runtime would. '\0unset' unsets a variable. */
export function exec(c: Call): Promise<Outcome> {
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin',
    CNI_COMMAND: c.command,
    CNI_CONTAINERID: c.containerId ?? 'ctr1',
    CNI_NETNS: c.netns ?? '',
    CNI_IFNAME: c.ifname ?? 'eth0',
    CNI_ARGS: '',
    CNI_PATH: `${OUR_CNI}:${REF_CNI}`,
    ...c.env,
  };
  for (const [k, v] of Object.entries(env)) if (v === '\0unset') delete env[k];
  return new Promise((res) => {
    const p = spawn('ip', ['netns', 'exec', c.hostNs, c.file], { env });
    let stdout = '';
    let stderr = '';
    p.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    p.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    p.stdin.on('error', () => {}); // a plugin that exits without reading all of stdin
    p.stdin.end(typeof c.conf === 'string' ? c.conf : JSON.stringify(c.conf));
    p.on('close', (status) => {
      let json: any;
      try {
        json = stdout.trim() ? JSON.parse(stdout) : undefined;
      } catch {
        json = undefined;
      }
      res({ status, stdout, stderr, json });
    });
  });
}

/** Output with the random parts (MACs, host veth names) masked. */
export function norm(s: string): string {
  return s.replace(/\b([0-9a-f]{2}:){5}[0-9a-f]{2}\b/g, 'MAC').replace(/veth[0-9a-f]{8}/g, 'VETH');
}

/**
 * A request frame built by hand, saying whatever a client likes: "TSN1", the NUL-terminated entries, an
 * empty entry, stdin (plugins/daemon/protocol.ts), behind its u32 length.
 */
export function rawRequest(entries: string[], stdin: string | Buffer = ''): Buffer {
  const body = Buffer.concat([Buffer.from('TSN1'), Buffer.from(entries.map((e) => `${e}\0`).join('') + '\0'), Buffer.from(stdin)]);
  const head = Buffer.alloc(4);
  head.writeUInt32BE(body.length);
  return Buffer.concat([head, body]);
}

/** A client of the socket as a separate process: sends `frame`, half-closes, prints the answer (base64). */
const RAW_CLIENT = `
  const c = require('node:net').createConnection(process.argv[1]);
  const got = [];
  c.on('connect', () => c.end(Buffer.from(process.argv[2], 'base64')));
  c.on('data', (d) => got.push(d));
  c.on('error', (e) => { process.stderr.write(String(e.code || e.message)); process.exitCode = 3; });
  c.on('close', () => process.stdout.write(Buffer.concat(got).toString('base64')));`;

/**
 * Sends a raw frame from a process of its own — inside `netns` (by name) when given, as `uid` when given —
 * and resolves the answer's bytes (empty when the daemon closed without one).
 */
export function rawCall(socket: string, frame: Buffer, opts: { netns?: string; uid?: number } = {}): Promise<Buffer> {
  const argv = [
    ...(opts.netns ? ['ip', 'netns', 'exec', opts.netns] : []),
    ...(opts.uid !== undefined ? ['setpriv', `--reuid=${opts.uid}`, `--regid=${opts.uid}`, '--clear-groups'] : []),
    process.execPath,
    '-e',
    RAW_CLIENT,
    socket,
    frame.toString('base64'),
  ];
  return new Promise((res, rej) => {
    const p = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    p.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    p.on('close', (code) => (code === 0 ? res(Buffer.from(out, 'base64')) : rej(new Error(`raw client exited ${code}: ${err}`))));
  });
}
