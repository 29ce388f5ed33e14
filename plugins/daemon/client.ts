// A Node client for tsnetd: what the C shim does, for callers already in Node (the engine, tests).
// Returns the daemon's answer, or `undefined` when no daemon answers or it declines — the caller then runs
// the plugin some other way (in-process `dispatch`, or the standalone executable). Who is calling (uid,
// namespaces) is not said: tsnetd asks the kernel.
import { createConnection } from 'node:net';
import { decodeResponse, encodeRequest, forwarded, FrameReader, type DaemonResponse } from './protocol.js';
import { socketPath } from './endpoint.js';

export interface DaemonCall {
  type: string;
  /** CNI_* variables (others are ignored except TSNET_ROOT). */
  env: NodeJS.ProcessEnv;
  stdin: string | Buffer;
  socket?: string;
}

export class DaemonConnectionLost extends Error {
  constructor(socket: string) {
    super(
      `tsnetd at ${socket} closed the connection before answering (it exited or was killed); the operation may be partly done: DEL the attachment, then retry`,
    );
    this.name = 'DaemonConnectionLost';
  }
}

/** The subset of an environment that travels to the daemon. */
export function forwardedEnv(env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined && forwarded(k)) out[k] = v;
  return out;
}

/**
 * Sends one request. Resolves the daemon's response ('fallback' when it declines), `undefined` when nothing
 * listens (ENOENT/ECONNREFUSED); rejects with DaemonConnectionLost when the daemon dies mid-request.
 */
export function callDaemon(call: DaemonCall): Promise<DaemonResponse | undefined> {
  const path = call.socket ?? socketPath();
  const frame = encodeRequest({
    type: call.type,
    env: forwardedEnv(call.env),
    stdin: typeof call.stdin === 'string' ? Buffer.from(call.stdin) : call.stdin,
  });
  return new Promise((res, rej) => {
    const sock = createConnection(path);
    const reader = new FrameReader();
    let connected = false;
    let done = false;
    sock.on('connect', () => {
      connected = true;
      sock.end(frame);
    });
    sock.on('data', (chunk: Buffer) => {
      try {
        const body = reader.push(chunk);
        if (body) {
          done = true;
          res(decodeResponse(body));
          sock.destroy();
        }
      } catch (e) {
        done = true;
        rej(e);
        sock.destroy();
      }
    });
    sock.on('error', (e: NodeJS.ErrnoException) => {
      if (done) return;
      done = true;
      if (!connected && (e.code === 'ENOENT' || e.code === 'ECONNREFUSED')) res(undefined);
      else rej(connected ? new DaemonConnectionLost(path) : e);
    });
    sock.on('close', () => {
      if (done) return;
      done = true;
      rej(new DaemonConnectionLost(path));
    });
  });
}
