// tsnetd's socket side: a root-only unix socket (file 0600, directory 0700) serving one request per
// connection (protocol.ts), many connections at once on one event loop. Netlink sockets stay non-blocking
// (Netns.defaults is left alone), so a slow kernel call or a held IPAM lock never stalls other requests.
// Connections are accepted and read by the addon's FrameServer, on the event loop's own poll handles (no
// net.Socket per request, whose CPU cost bench/README.md gives), within the limits below; JavaScript gets
// (fd, request, who is calling as the kernel says) and answers with server.reply.
import { chmodSync, existsSync, lstatSync, mkdirSync, unlinkSync } from 'node:fs';
import { createConnection } from 'node:net';
import { dirname } from 'node:path';
import { native, type FrameLimits } from '../../native/addon.js';
import { DEFAULT_SOCKET_DIR, socketPath } from './endpoint.js';
import { declineReason, ownIdentity, runRequest, type Caller, type DaemonIdentity } from './handle.js';
import { decodeRequest, encodeResponse, MAX_FRAME, ProtocolError, type DaemonResponse } from './protocol.js';
import { KeyedQueue } from './queue.js';
import { defaultRegistry, type Registry } from './registry.js';

/** Default bound on one request's answer. */
export const DEFAULT_TIMEOUT_MS = 60_000;

/** What a client can make tsnetd hold at once, and for how long. */
export interface Limits {
  /** Connections open at once (being read, run, or answered); one more is told to run standalone. */
  maxConnections: number;
  /** Largest request (a CNI config is a few KiB); a longer one is told to run standalone. */
  maxRequestBytes: number;
  /** Bytes of requests held at once, from their header until answered; a request past it runs standalone. */
  maxBufferedBytes: number;
  /** A client must send its whole request within this time from connecting, or is dropped. */
  readTimeoutMs: number;
}

export const DEFAULT_LIMITS: Readonly<Limits> = {
  maxConnections: 128,
  maxRequestBytes: 1024 * 1024,
  maxBufferedBytes: 16 * 1024 * 1024,
  readTimeoutMs: 10_000,
};

/** The environment variable that sets each limit (README.md, "The fast path", lists them). */
export const LIMIT_ENV: Readonly<Record<keyof Limits, string>> = {
  maxConnections: 'TSNETD_MAX_CONNECTIONS',
  maxRequestBytes: 'TSNETD_MAX_REQUEST_BYTES',
  maxBufferedBytes: 'TSNETD_MAX_BUFFERED_BYTES',
  readTimeoutMs: 'TSNETD_READ_TIMEOUT_MS',
};

/** The limits set in `env`; throws DaemonError for a value that is not a positive integer. */
export function limitsFromEnv(env: NodeJS.ProcessEnv = process.env): Partial<Limits> {
  const out: Partial<Limits> = {};
  for (const [key, name] of Object.entries(LIMIT_ENV) as [keyof Limits, string][]) {
    const raw = env[name];
    if (raw === undefined || raw === '') continue;
    const n = Number(raw);
    if (!Number.isSafeInteger(n) || n < 1)
      throw new DaemonError(`${name}=${raw} is not a positive whole number; set a count (or unset it for ${DEFAULT_LIMITS[key]})`);
    out[key] = n;
  }
  return out;
}

function checkLimits(l: Limits): Limits {
  if (l.maxRequestBytes > MAX_FRAME)
    throw new DaemonError(
      `${LIMIT_ENV.maxRequestBytes}=${l.maxRequestBytes} is above the protocol's ${MAX_FRAME}-byte frame limit; give at most that`,
    );
  if (l.maxRequestBytes + 4 > l.maxBufferedBytes)
    throw new DaemonError(
      `${LIMIT_ENV.maxBufferedBytes}=${l.maxBufferedBytes} cannot hold even one request of ${LIMIT_ENV.maxRequestBytes}=${l.maxRequestBytes} bytes; raise it or lower the other`,
    );
  return l;
}

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
  /** Bounds on what clients can make the daemon hold (DEFAULT_LIMITS for what is not given). */
  limits?: Partial<Limits>;
  /** How long a client has to send its whole request (default 10 s); the same as limits.readTimeoutMs. */
  readTimeoutMs?: number;
  /** Tests: take callers' namespaces from /proc/PID/ns, as on kernels before 6.11, not from their pidfd. */
  peerFromProc?: boolean;
}

export interface DaemonServer {
  readonly socket: string;
  /** Requests being answered now. */
  inflight(): number;
  /** Requests since start, by outcome: answered, declined (told to run standalone), malformed, failed. */
  stats(): { served: number; declined: number; malformed: number; failed: number };
  /** What clients hold now: connections open and being read, bytes reserved; connections refused since start. */
  usage(): { open: number; reading: number; buffered: number; refused: number };
  readonly limits: Readonly<Limits>;
  /**
   * Stops accepting (the socket file is removed at once, so new shims fall back to standalone), waits up to
   * `graceMs` for requests in flight, then closes what is left. Resolves when done.
   */
  close(graceMs?: number): Promise<void>;
}

/** Logs a line of each kind at most once a minute, with a count of those left unsaid (as the FrameServer does). */
function quietly(log: (line: string) => void, windowMs = 60_000): (kind: string, line: string) => void {
  const last = new Map<string, { at: number; unsaid: number }>();
  return (kind, line) => {
    const now = Date.now();
    const q = last.get(kind);
    if (q && now - q.at < windowMs) {
      q.unsaid++;
      return;
    }
    log(q?.unsaid ? `${line} (and ${q.unsaid} more like it in the ${Math.round((now - q.at) / 1000)} s before, not logged)` : line);
    last.set(kind, { at: now, unsaid: 0 });
  };
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
  const limits = checkLimits({
    ...DEFAULT_LIMITS,
    ...(opts.readTimeoutMs ? { readTimeoutMs: opts.readTimeoutMs } : {}),
    ...opts.limits,
  });
  /** Connections handed over by the FrameServer and not answered yet. */
  const conns = new Set<number>();
  const counts = { served: 0, declined: 0, malformed: 0, failed: 0 };
  const quiet = quietly(log);
  const queue = new KeyedQueue();
  let running = 0;
  let closing = false;
  let drained: (() => void) | undefined;

  const finish = (fd: number, res: DaemonResponse) => {
    const data = encodeResponse(res); // may throw (an answer over the frame limit): serve() then drops fd
    if (!conns.delete(fd)) return; // dropped at shutdown
    server.reply(fd, data);
  };
  const drop = (fd: number) => {
    if (conns.delete(fd)) server.drop(fd);
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
      // A client's malformed request, or (a bug) an error of tsnetd's own: the connection is dropped either way.
      const malformed = e instanceof ProtocolError;
      counts[malformed ? 'malformed' : 'failed']++;
      quiet(malformed ? 'malformed' : 'failed', `request failed: ${(e as Error).message}`);
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
    {
      maxFrame: limits.maxRequestBytes,
      readTimeoutMs: limits.readTimeoutMs,
      maxConnections: limits.maxConnections,
      maxBuffered: limits.maxBufferedBytes,
      peerFromProc: opts.peerFromProc ?? false,
    } satisfies FrameLimits,
  );
  log(
    `listening on ${path} (pid ${process.pid}, state root ${me.root}, plugins: ${[...registry.keys()].join(', ')}; ` +
      `limits: ${limits.maxConnections} connections, ${limits.maxRequestBytes} bytes a request, ` +
      `${limits.maxBufferedBytes} bytes in all, ${limits.readTimeoutMs} ms to send one)`,
  );

  return {
    socket: path,
    limits,
    inflight: () => running,
    stats: () => ({ ...counts }),
    usage: () => ({ open: server.open, reading: server.reading, buffered: server.buffered, refused: server.refused }),
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
