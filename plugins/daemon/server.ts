// tsnetd's socket side: a root-only unix socket (file 0600, directory 0700) serving one request per
// connection (protocol.ts), many connections at once on one event loop. Netlink sockets stay non-blocking
// (Netns.defaults is left alone), so a slow kernel call or a held IPAM lock never stalls other requests.
import { chmodSync, existsSync, lstatSync, mkdirSync, unlinkSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { dirname } from 'node:path';
import { DEFAULT_SOCKET_DIR, socketPath } from './endpoint.js';
import { declineReason, ownIdentity, runRequest, type DaemonIdentity } from './handle.js';
import { decodeRequest, encodeResponse, FrameReader, type DaemonResponse } from './protocol.js';
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
  if (!st.isSocket()) throw new DaemonError(`tsnetd socket ${path}: a ${st.isDirectory() ? 'directory' : 'file'} that is not a socket is in the way; remove it or set TSNET_SOCKET to another path`);
  if (await probe(path)) throw new DaemonError(`tsnetd socket ${path}: another tsnetd is already answering there; stop it first, or set TSNET_SOCKET to another path`);
  unlinkSync(path); // stale: left by a daemon that died
}

function listen(server: Server, path: string): Promise<void> {
  return new Promise((res, rej) => {
    const old = process.umask(0o177); // the socket file is born 0600: no window where others could connect
    server.once('error', rej);
    server.listen(path, () => {
      server.off('error', rej);
      res();
    });
    process.umask(old);
  });
}

export async function startServer(opts: ServerOptions = {}): Promise<DaemonServer> {
  const path = opts.socket ?? socketPath();
  const registry = opts.registry ?? defaultRegistry();
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const me = opts.identity ?? ownIdentity();
  const log = opts.log ?? (() => {});
  const conns = new Set<Socket>();
  const counts = { served: 0, declined: 0, failed: 0 };
  const queue = new KeyedQueue();
  let running = 0;
  let closing = false;
  let drained: (() => void) | undefined;

  const finish = (sock: Socket, res: DaemonResponse) => {
    if (!sock.destroyed) sock.end(encodeResponse(res));
  };

  const serve = async (sock: Socket, body: Buffer) => {
    running++;
    try {
      const req = decodeRequest(body);
      const why = closing ? 'tsnetd is shutting down' : declineReason(req, me, registry);
      if (why) {
        counts.declined++;
        finish(sock, { kind: 'fallback', reason: why });
        return;
      }
      const res = await runRequest(req, registry, timeoutMs, queue);
      counts.served++;
      finish(sock, res);
    } catch (e) {
      counts.failed++;
      log(`request failed: ${(e as Error).message}`);
      sock.destroy();
    } finally {
      running--;
      if (running === 0) drained?.();
    }
  };

  const server = createServer({ allowHalfOpen: true }, (sock) => {
    conns.add(sock);
    sock.on('close', () => conns.delete(sock));
    sock.on('error', () => sock.destroy());
    sock.setTimeout(READ_TIMEOUT_MS, () => {
      log('client sent no complete request in time; dropped');
      sock.destroy();
    });
    const reader = new FrameReader();
    const onData = (chunk: Buffer) => {
      let body: Buffer | undefined;
      try {
        body = reader.push(chunk);
      } catch (e) {
        log((e as Error).message);
        sock.destroy();
        return;
      }
      if (!body) return;
      sock.off('data', onData);
      sock.setTimeout(0);
      void serve(sock, body);
    };
    sock.on('data', onData);
  });

  await prepare(path);
  await listen(server, path);
  chmodSync(path, 0o600);
  log(`listening on ${path} (pid ${process.pid}, state root ${me.root}, plugins: ${[...registry.keys()].join(', ')})`);

  return {
    socket: path,
    inflight: () => running,
    stats: () => ({ ...counts }),
    async close(graceMs = timeoutMs) {
      if (closing) return;
      closing = true;
      const stopped = new Promise<void>((res) => server.close(() => res()));
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
      for (const c of conns) c.destroy();
      await stopped;
    },
  };
}
