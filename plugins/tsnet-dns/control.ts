// The plugin's side of the resolver's life: start it when the first record appears, tell it about every
// change and wait until it listens where the records say, stop it with the last record and wait until no
// process of it is left. Always called under the names lock (plugins/shared/dns-names.ts), so two plugin
// calls never interleave their starts and stops.
//
// The resolver is two processes of the tsnet-dns executable: `tsnet-dns serve DIR` (the supervisor: holds
// `DIR/supervisor.lock` with flock for its whole life, so "is it running" is a lock test that pid reuse cannot
// fool, and restarts the worker when it dies) and `tsnet-dns serve-worker DIR` (the worker: binds port 53 on
// the gateways and `DIR/control.sock`, and answers). See server.ts.
import { closeSync, existsSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { connect } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { LOCK_EX, LOCK_NB, LOCK_UN, native } from '../../native/addon.js';
import { PluginError } from '../shared/errors.js';
import { childProcess } from '../../common/builtins.js';
import { CniCode } from '../../common/errors.js';
import { sha256Hex } from '../../common/random.js';

/** The worker's answer to a sync or status request. */
export interface ServerStatus {
  ok: boolean;
  pid: number;
  supervisorPid: number;
  generation: number;
  /** Addresses it listens on (UDP and TCP port 53), with their network. */
  listening: { address: string; network: string }[];
  /** Addresses it should listen on but cannot, with the reason. */
  failed: { address: string; network: string; error: string }[];
  /** True when it found no records and is going away. */
  stopping?: boolean;
}

export const SUPERVISOR_LOCK = 'supervisor.lock';
export const SERVER_LOG = 'server.log';

/** How long a start (Node's start-up, twice, on a busy machine) or a stop may take. */
const START_TIMEOUT_MS = 20_000;
const STOP_TIMEOUT_MS = 10_000;

/** The control socket: `DIR/control.sock`, or under /run/tsnet when DIR is too long for a socket address. */
export function controlPath(dir: string): string {
  const p = join(resolve(dir), 'control.sock');
  if (Buffer.byteLength(p) < 100) return p;
  return join('/run/tsnet', `dns-${sha256Hex(resolve(dir)).slice(0, 16)}.sock`);
}

/** True while a supervisor holds DIR/supervisor.lock. */
export function supervisorRunning(dir: string): boolean {
  const path = join(dir, SUPERVISOR_LOCK);
  if (!existsSync(path)) return false;
  const fd = openSync(path, 'r');
  try {
    const addon = native();
    if (!addon.flock(fd, LOCK_EX | LOCK_NB)) return true;
    addon.flock(fd, LOCK_UN);
    return false;
  } finally {
    closeSync(fd);
  }
}

/** One request on the control socket; rejects when nothing listens. */
export function request(dir: string, op: 'sync' | 'status', timeoutMs = 5000): Promise<ServerStatus> {
  return new Promise((resolvePromise, reject) => {
    const sock = connect(controlPath(dir));
    let buf = '';
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`no answer on ${controlPath(dir)} within ${timeoutMs} ms`));
    }, timeoutMs);
    sock.setEncoding('utf8');
    sock.on('connect', () => sock.write(`${JSON.stringify({ op })}\n`));
    sock.on('data', (d: string) => (buf += d));
    sock.on('end', () => {
      clearTimeout(timer);
      try {
        resolvePromise(JSON.parse(buf) as ServerStatus);
      } catch {
        reject(new Error(`bad answer on ${controlPath(dir)}: ${JSON.stringify(buf.slice(0, 200))}`));
      }
    });
    sock.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

let executableOverride: string | undefined;

/** The tsnet-dns bundle sets itself here when it runs as a plugin (its own file is the server). */
export function setServerExecutable(path: string): void {
  executableOverride = path;
}

/** A bundled Node executable (`#!` first), not the fast path's native shim of the same name. */
function isNodeScript(p: string): boolean {
  try {
    if (!statSync(p).isFile()) return false;
    const fd = openSync(p, 'r');
    try {
      const b = Buffer.alloc(2);
      return readSync(fd, b, 0, 2, 0) === 2 && b.toString() === '#!';
    } finally {
      closeSync(fd);
    }
  } catch {
    return false;
  }
}

/**
 * Where the tsnet-dns executable is: the running bundle itself, then next to a `tsnet-dns` on CNI_PATH (the
 * standalone bundle, or ../cni/tsnet-dns beside a fast-path shim), then dist/cni relative to this module
 * (the CLI bundle and tsc's output both sit two levels under dist/).
 */
export function serverCandidates(cniPath: string[] = []): string[] {
  const here = dirname(fileURLToPath(import.meta.url));
  const out: string[] = [];
  if (executableOverride) out.push(executableOverride);
  for (const d of cniPath) out.push(join(d, 'tsnet-dns'), join(d, '..', 'cni', 'tsnet-dns'));
  out.push(join(here, 'tsnet-dns'), join(here, '..', '..', 'cni', 'tsnet-dns'), join(here, '..', '..', '..', 'dist', 'cni', 'tsnet-dns'));
  return [...new Set(out.map((p) => resolve(p)))];
}

export function findServerExecutable(cniPath: string[] = []): string {
  const tried = serverCandidates(cniPath);
  const found = tried.find(isNodeScript);
  if (!found)
    throw new PluginError(
      'tsnet-dns resolver',
      `its executable is not found (tried ${tried.join(', ')})`,
      "build it with 'npm run build:cni', and keep dist/cni/tsnet-dns next to the other tsnet plugins",
      CniCode.IoFailure,
    );
  return found;
}

/** Starts a supervisor, detached from the caller (its own session; output to DIR/server.log). */
export function spawnSupervisor(dir: string, executable: string): void {
  const log = openSync(join(dir, SERVER_LOG), 'a', 0o600);
  try {
    const env = { ...process.env };
    delete env.NODE_EXTRA_CA_CERTS; // read at every Node start; the resolver never speaks TLS
    const child = childProcess().spawn(process.execPath, [executable, 'serve', resolve(dir)], {
      detached: true,
      stdio: ['ignore', log, log],
      env,
    });
    child.unref();
  } finally {
    closeSync(log);
  }
}

/**
 * Makes the resolver serve the records now on disk: starts it if no supervisor runs, asks it to reload, and
 * waits for its answer (it has bound what it could by then). `start: false` (DEL) only tells a running one.
 */
export async function syncServer(dir: string, opts: { start: boolean; cniPath?: string[] }): Promise<ServerStatus | undefined> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  let spawnedAt = 0;
  let lastError: unknown;
  for (;;) {
    const running = supervisorRunning(dir);
    if (!running) {
      if (!opts.start) return undefined;
      if (Date.now() - spawnedAt > 2000) {
        spawnSupervisor(dir, findServerExecutable(opts.cniPath));
        spawnedAt = Date.now();
      }
    }
    try {
      return await request(dir, 'sync');
    } catch (e) {
      lastError = e;
    }
    if (Date.now() > deadline)
      throw new PluginError(
        'tsnet-dns resolver',
        `did not answer within ${START_TIMEOUT_MS / 1000} s (${(lastError as Error)?.message ?? 'no answer'})`,
        `see ${join(dir, SERVER_LOG)}`,
        CniCode.TryAgainLater,
      );
    await sleep(20);
  }
}

/** Stops the resolver (the records are empty): asks it to go, then waits until its supervisor is gone. */
export async function stopServer(dir: string): Promise<void> {
  if (!supervisorRunning(dir)) return;
  let status: ServerStatus | undefined;
  try {
    status = await request(dir, 'sync'); // with no records, a sync is its cue to leave
  } catch {
    /* the worker is between restarts: the supervisor is signalled below */
  }
  const deadline = Date.now() + STOP_TIMEOUT_MS;
  let signalled = false;
  while (supervisorRunning(dir)) {
    if (Date.now() > deadline) {
      throw new PluginError(
        'tsnet-dns resolver',
        `still running ${STOP_TIMEOUT_MS / 1000} s after its last record went`,
        `see ${join(dir, SERVER_LOG)}; stop it with 'fuser -k ${join(dir, SUPERVISOR_LOCK)}'`,
        CniCode.TryAgainLater,
      );
    }
    if (!status?.stopping && !signalled) {
      signalled = true;
      const pid = status?.supervisorPid ?? supervisorPidFromFile(dir);
      if (pid) {
        try {
          process.kill(pid, 'SIGTERM');
        } catch {
          /* gone already */
        }
      }
    }
    await sleep(10);
  }
}

/** The supervisor writes its pid into its lock file. */
function supervisorPidFromFile(dir: string): number | undefined {
  try {
    const n = Number(readFileSync(join(dir, SUPERVISOR_LOCK), 'utf8').trim());
    return Number.isInteger(n) && n > 1 ? n : undefined;
  } catch {
    return undefined;
  }
}
