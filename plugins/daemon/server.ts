// tsnetd's socket side: a root-only unix socket (file 0600, directory 0700) serving one request per
// connection (protocol.ts), many connections at once on one event loop. Netlink sockets stay non-blocking
// (Netns.defaults is left alone), so a slow kernel call or a held IPAM lock never stalls other requests.
// Connections are accepted and read by the addon's FrameServer, on the event loop's own poll handles (no
// net.Socket per request, whose CPU cost bench/README.md gives); JavaScript gets (fd, request, who is calling as
// the kernel says) and answers with frameReply.
import { chmodSync, existsSync, lstatSync, mkdirSync, unlinkSync } from 'node:fs';
import { createConnection } from 'node:net';
import { dirname } from 'node:path';
import { native } from '../../native/addon.js';
import { DEFAULT_SOCKET_DIR, socketPath } from './endpoint.js';
import { declineReason, ownIdentity, runRequest, type Caller, type DaemonIdentity } from './handle.js';
import { decodeRequest, encodeResponse, MAX_FRAME, type DaemonResponse } from './protocol.js';
import { KeyedQueue } from './queue.js';
import { defaultRegistry, type Registry } from './registry.js';

/** Default bound on one request's answer. */
export const DEFAULT_TIMEOUT_MS = 60_000;
/** A client must send its whole request within this time. */
const READ_TIMEOUT_MS = 10_000;

export class DaemonError extends Error {
  constructor(msg: string) {
    super(msg);
    this.name = 'DaemonError';
  }
}

export interface ServerOptions {
  socket?: string;
  registry?: Registry;
  timeoutMs?: number;
  /** One line per event (start, request errors, shutdown); default: nothing. */
  log?: (line: string) => void;
  /** Tests: pretend to be this identity. */
  identity?: DaemonIdentity;
  /** How long a client has to send its whole request (default 10 s). */
  readTimeoutMs?: number;
  /** Tests: take callers' namespaces from /proc/PID/ns, as on kernels before 6.11, not from their pidfd. */
  peerFromProc?: boolean;
}

export interface DaemonServer {
  readonly socket: string;
  /** Requests being answered now. */
  inflight(): number;
  /** Served requests since start, by outcome. */
  stats(): { served: number; declined: number; failed: number };
  /**
   * Stops accepting (the socket file is removed at once, so new shims fall back to standalone), waits up to
   * `graceMs` for requests in flight, then closes what is left. Resolves when done.
   */
  close(graceMs?: number): Promise<void>;
}

function probe(path: string): Promise<boolean> {
  return new Promise((res) => {
    const c = createConnection(path);
    c.once('connect', () => {
      c.destroy();
      res(true);
    });
    c.once('error', () => res(false));
  });
}

/** Makes the socket directory (0700 when we create it, or when it is the default one) and clears a stale socket. */
async function prepare(path: string): Promise<void> {
  const dir = dirname(path);
  if (!existsSync(dir)) mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (dir === DEFAULT_SOCKET_DIR) chmodSync(dir, 0o700);
  let st;
  try {
    st = lstatSync(path);
  } catch {
    return;
  }
  if (!st.isSocket())
    throw new DaemonError(
      `tsnetd socket ${path}: a ${st.isDirectory() ? 'directory' : 'file'} that is not a socket is in the way; remove it or set TSNET_SOCKET to another path`,
    );
  if (await probe(path))
    throw new DaemonError(
      `tsnetd socket ${path}: another tsnetd is already answering there; stop it first, or set TSNET_SOCKET to another path`,
    );
  unlinkSync(path); // stale: left by a daemon that died
}

export async function startServer(opts: ServerOptions = {}): Promise<DaemonServer> {
  const path = opts.socket ?? socketPath();
  const registry = opts.registry ?? defaultRegistry();
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const me = opts.identity ?? ownIdentity();
  const log = opts.log ?? (() => {});
  /** Connections handed over by the FrameServer and not answered yet. */
  const conns = new Set<number>();
  const counts = { served: 0, declined: 0, failed: 0 };
  const queue = new KeyedQueue();
  let running = 0;
  let closing = false;
  let drained: (() => void) | undefined;

  const finish = (fd: number, res: DaemonResponse) => {
    const data = encodeResponse(res); // may throw (an answer over the frame limit): serve() then drops fd
    if (!conns.delete(fd)) return; // dropped at shutdown
    native().frameReply(fd, data);
  };
  const drop = (fd: number) => {
    if (conns.delete(fd)) native().frameDrop(fd);
  };
  const serve = async (fd: number, body: Buffer, caller: Caller) => {
    running++;
    try {
      const req = decodeRequest(body);
      const why = closing ? 'tsnetd is shutting down' : declineReason(req, caller, me, registry);
      if (why) {
        counts.declined++;
        finish(fd, { kind: 'fallback', reason: why });
        return;
      }
      const res = await runRequest(req, registry, timeoutMs, queue);
      finish(fd, res);
      counts.served++;
    } catch (e) {
      counts.failed++;
      log(`request failed: ${(e as Error).message}`);
      drop(fd);
    } finally {
      running--;
      if (running === 0) drained?.();
    }
  };

  await prepare(path);
  const listenFd = native().frameListen(path, 511);
  chmodSync(path, 0o600);
  const server = new (native().FrameServer)(
    listenFd,
    (fd, body, caller) => {
      conns.add(fd);
      void serve(fd, body, caller);
    },
    (message) => log(message),
    MAX_FRAME,
    opts.readTimeoutMs ?? READ_TIMEOUT_MS,
    opts.peerFromProc ?? false,
  );
  log(`listening on ${path} (pid ${process.pid}, state root ${me.root}, plugins: ${[...registry.keys()].join(', ')})`);

  return {
    socket: path,
    inflight: () => running,
    stats: () => ({ ...counts }),
    async close(graceMs = timeoutMs) {
      if (closing) return;
      closing = true;
      server.close();
      try {
        unlinkSync(path);
      } catch {
        /* already gone */
      }
      if (running > 0) {
        await new Promise<void>((res) => {
          drained = res;
          setTimeout(res, graceMs).unref();
        });
      }
      server.dropReading();
      for (const fd of [...conns]) drop(fd);
    },
  };
}
