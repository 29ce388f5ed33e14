// The tsnetd wire protocol: one request and one response per connection, each a length-prefixed frame.
// Binary on purpose so the C shim (native/shim/tsnet-cni-shim.c) needs no JSON code and stdin bytes pass
// through untouched.
//
//   frame    = u32 big-endian length of body, body
//   request  = "TSN1", then NUL-terminated "KEY=VALUE" entries, then one empty entry (a lone NUL),
//              then the plugin's stdin bytes (the rest of the body).
//              Keys: the plugin type as "@type", then the CNI_* variables and TSNET_ROOT (when set) exactly
//              as the caller had them. Other "@" keys are ignored (shims before tsnetd took the caller's
//              namespaces from the kernel sent "@netns"/"@pidns"), and so is any other key; at most
//              MAX_ENTRIES entries.
//   response = "TSN1", then one kind byte:
//              'R' result:  i32 BE exit code, u32 BE stdout length, stdout bytes, stderr bytes (the rest)
//              'F' fallback: UTF-8 reason (the rest); the caller runs the standalone plugin instead.
//              (native/src/frame-server.cc writes 'F' itself when it refuses a connection over a limit.)

export const MAGIC = Buffer.from('TSN1');
/** Largest body either side accepts; a network config is a few KiB. (tsnetd's own limit may be lower.) */
export const MAX_FRAME = 16 * 1024 * 1024;
/** Most entries a request header may have (a CNI call has about ten). */
export const MAX_ENTRIES = 256;

export interface DaemonRequest {
  /** Plugin type (the executable's name). */
  type: string;
  /** The CNI_* variables (and TSNET_ROOT) of the invocation. */
  env: Record<string, string>;
  stdin: Buffer;
}

export type DaemonResponse = { kind: 'result'; exitCode: number; stdout: Buffer; stderr: Buffer } | { kind: 'fallback'; reason: string };

export class ProtocolError extends Error {
  constructor(msg: string) {
    super(`tsnetd protocol: ${msg}`);
    this.name = 'ProtocolError';
  }
}

function frame(body: Buffer): Buffer {
  if (body.length > MAX_FRAME) throw new ProtocolError(`frame of ${body.length} bytes exceeds the ${MAX_FRAME}-byte limit`);
  const head = Buffer.alloc(4);
  head.writeUInt32BE(body.length, 0);
  return Buffer.concat([head, body]);
}

/** The variables a request carries: CNI_* and TSNET_ROOT. */
export function forwarded(key: string): boolean {
  return key.startsWith('CNI_') || key === 'TSNET_ROOT';
}

export function encodeRequest(req: DaemonRequest): Buffer {
  const entries = [`@type=${req.type}`, ...Object.entries(req.env).map(([k, v]) => `${k}=${v}`)];
  if (entries.length > MAX_ENTRIES) throw new ProtocolError(`${entries.length} entries exceed the limit of ${MAX_ENTRIES}`);
  for (const e of entries) if (e.includes('\0')) throw new ProtocolError(`entry ${JSON.stringify(e.slice(0, 40))} contains a NUL byte`);
  const head = Buffer.from(`${entries.join('\0')}\0\0`);
  return frame(Buffer.concat([MAGIC, head, req.stdin]));
}

export function decodeRequest(body: Buffer): DaemonRequest {
  if (body.length < 5 || !body.subarray(0, 4).equals(MAGIC))
    throw new ProtocolError('request does not start with TSN1 (a client of another version?)');
  const env: Record<string, string> = {};
  let type = '';
  let off = 4;
  for (let n = 0; ; n++) {
    const end = body.indexOf(0, off);
    if (end < 0) throw new ProtocolError('request header is not terminated by an empty entry');
    if (end === off) {
      off = end + 1;
      break;
    }
    if (n === MAX_ENTRIES) throw new ProtocolError(`request header has more than ${MAX_ENTRIES} entries`);
    const entry = body.toString('utf8', off, end);
    off = end + 1;
    const eq = entry.indexOf('=');
    if (eq <= 0) throw new ProtocolError(`request entry ${JSON.stringify(entry.slice(0, 40))} is not KEY=VALUE`);
    const k = entry.slice(0, eq);
    const v = entry.slice(eq + 1);
    if (k === '@type') type = v;
    else if (forwarded(k)) env[k] = v;
  }
  if (!type) throw new ProtocolError('request names no plugin type (@type)');
  return { type, env, stdin: body.subarray(off) };
}

export function encodeResponse(res: DaemonResponse): Buffer {
  if (res.kind === 'fallback') return frame(Buffer.concat([MAGIC, Buffer.from('F'), Buffer.from(res.reason)]));
  const head = Buffer.alloc(9);
  head.write('R', 0);
  head.writeInt32BE(res.exitCode, 1);
  head.writeUInt32BE(res.stdout.length, 5);
  return frame(Buffer.concat([MAGIC, head, res.stdout, res.stderr]));
}

export function decodeResponse(body: Buffer): DaemonResponse {
  if (body.length < 5 || !body.subarray(0, 4).equals(MAGIC)) throw new ProtocolError('response does not start with TSN1');
  const kind = String.fromCharCode(body[4]!);
  if (kind === 'F') return { kind: 'fallback', reason: body.toString('utf8', 5) };
  if (kind !== 'R' || body.length < 13) throw new ProtocolError(`unknown or short response kind ${JSON.stringify(kind)}`);
  const exitCode = body.readInt32BE(5);
  const n = body.readUInt32BE(9);
  if (13 + n > body.length) throw new ProtocolError(`stdout length ${n} runs past the end of the response`);
  return { kind: 'result', exitCode, stdout: body.subarray(13, 13 + n), stderr: body.subarray(13 + n) };
}

/**
 * Accumulates socket data into one frame. `push` returns the body once complete (extra bytes are an error:
 * one frame per direction per connection).
 */
export class FrameReader {
  private chunks: Buffer[] = [];
  private have = 0;
  private want = -1;

  push(chunk: Buffer): Buffer | undefined {
    this.chunks.push(chunk);
    this.have += chunk.length;
    if (this.want < 0 && this.have >= 4) {
      const all = Buffer.concat(this.chunks);
      this.chunks = [all];
      this.want = all.readUInt32BE(0);
      if (this.want > MAX_FRAME) throw new ProtocolError(`frame of ${this.want} bytes exceeds the ${MAX_FRAME}-byte limit`);
    }
    if (this.want >= 0 && this.have >= 4 + this.want) {
      const all = Buffer.concat(this.chunks);
      if (all.length > 4 + this.want) throw new ProtocolError('extra bytes after the frame');
      return all.subarray(4, 4 + this.want);
    }
    return undefined;
  }
}
