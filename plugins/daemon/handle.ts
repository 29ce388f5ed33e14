// One request, in-process: decide whether this daemon may answer it (a caller that is root in tsnetd's user
// namespace, in its network and pid namespaces as the kernel says, with its state root; a plugin it has; a
// config it can parse at a bounded cost), then run the plugin through skel's `dispatch` — the very code the
// standalone executable runs — and render stdout/stderr/exit code exactly as `runPlugin` would.
import { dispatch, type Outcome } from '../cni/skel.js';
import { CniError, ErrorCode, SUPPORTED_VERSIONS } from '../cni/types.js';
import { errorJson } from '../cni/errors.js';
import { LATEST } from '../cni/version.js';
import { stateRoot } from '../../common/paths.js';
import type { FramePeer } from '../../native/addon.js';
import { nsId } from './endpoint.js';
import type { DaemonRequest, DaemonResponse } from './protocol.js';
import type { KeyedQueue } from './queue.js';
import type { Registry } from './registry.js';

/** What the daemon compares a caller against: its own namespaces ("dev:ino", as FramePeer gives a caller's). */
export interface DaemonIdentity {
  netns: string;
  pidns: string;
  userns: string;
  /** Resolved state root. */
  root: string;
}

/** Who is calling, as the kernel says (SO_PEERCRED, the caller's pidfd or /proc/PID/ns). */
export type Caller = FramePeer;

/** A CNI config nests some 6 levels and holds tens of objects and arrays. */
export const MAX_JSON_DEPTH = 64;
export const MAX_JSON_CONTAINERS = 10_000;

export function rootOf(env: Record<string, string | undefined>): string {
  return stateRoot(env.TSNET_ROOT);
}

export function ownIdentity(): DaemonIdentity {
  return { netns: nsId('net'), pidns: nsId('pid'), userns: nsId('user'), root: rootOf(process.env) };
}

/**
 * Why parsing `stdin` as JSON could cost far more memory and time than its bytes (V8 spends ~60 bytes on
 * each `[`: 2 MB of them take ~120 MB and half a second), or undefined. A scan of the bytes, no parse.
 */
export function costlyJson(stdin: Buffer): string | undefined {
  let depth = 0;
  let containers = 0;
  let inString = false;
  for (let i = 0; i < stdin.length; i++) {
    const c = stdin[i];
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: the next byte is escaped
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > MAX_JSON_DEPTH) return `the config nests deeper than ${MAX_JSON_DEPTH} levels`;
      if (++containers > MAX_JSON_CONTAINERS) return `the config holds more than ${MAX_JSON_CONTAINERS} objects and arrays`;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return undefined;
}

/**
 * Why this daemon must not answer `req` from `caller` (who then runs the standalone plugin, with its own
 * rights and in its own namespaces), or undefined. Nothing the request says about its sender is believed.
 */
export function declineReason(req: DaemonRequest, caller: Caller, me: DaemonIdentity, registry: Registry): string | undefined {
  // tsnetd acts as root on the host: it serves only callers that could do the same themselves.
  if (caller.uid !== 0)
    return caller.uid < 0
      ? 'tsnetd cannot tell which user is calling'
      : `caller runs as uid ${caller.uid}, not as root in tsnetd's user namespace; tsnetd serves only root`;
  if (!caller.userns || caller.userns !== me.userns)
    return caller.userns
      ? `caller is in user namespace ${caller.userns}, tsnetd in ${me.userns}`
      : "tsnetd cannot tell the caller's user namespace";
  if (!registry.has(req.type)) return `plugin type "${req.type}" is not served by tsnetd`;
  // The plugin treats "the current network namespace" as the host, and CNI_NETNS may be /proc/PID/...:
  // only a caller in the daemon's own network and pid namespaces sees the same host.
  if (caller.netns !== me.netns || !caller.netns)
    return caller.netns
      ? `caller is in network namespace ${caller.netns}, tsnetd in ${me.netns}`
      : `tsnetd cannot tell which network namespace the caller (pid ${caller.pid}) is in`;
  if (caller.pidns !== me.pidns || !caller.pidns)
    return caller.pidns
      ? `caller is in pid namespace ${caller.pidns}, tsnetd in ${me.pidns}`
      : `tsnetd cannot tell which pid namespace the caller (pid ${caller.pid}) is in`;
  const root = rootOf(req.env);
  if (root !== me.root) return `caller's TSNET_ROOT is ${root}, tsnetd's is ${me.root}`;
  const costly = costlyJson(req.stdin);
  if (costly) return `${costly}; tsnetd leaves configs that costly to parse to the standalone plugin`;
  return undefined;
}

function render(out: Outcome): { exitCode: number; stdout: Buffer } {
  return { exitCode: out.exitCode, stdout: Buffer.from(out.stdout === undefined ? '' : `${JSON.stringify(out.stdout, null, 2)}\n`) };
}

function peek(stdin: string): { cniVersion?: unknown; name?: unknown } {
  try {
    const v = JSON.parse(stdin) as unknown;
    return typeof v === 'object' && v !== null ? (v as { cniVersion?: unknown; name?: unknown }) : {};
  } catch {
    return {};
  }
}

/** The cniVersion to answer an error in, as skel would: the config's when it is readable. */
function configVersion(stdin: string): string {
  const v = peek(stdin).cniVersion;
  return typeof v === 'string' && v ? v : LATEST;
}

/** Requests on one network run one at a time (see queue.ts); VERSION and unreadable configs are not queued. */
function queueKey(env: Record<string, string>, stdin: string): string | undefined {
  if (env.CNI_COMMAND === 'VERSION') return undefined;
  const name = peek(stdin).name;
  return typeof name === 'string' ? `net:${name}` : undefined;
}

export class RequestTimeout extends Error {}

/**
 * Runs an accepted request; never throws. `timeoutMs` bounds the answer, queue wait included: a request
 * still queued at its deadline is dropped unrun; one already running may still finish later.
 */
export async function runRequest(
  req: DaemonRequest,
  registry: Registry,
  timeoutMs: number,
  queue?: KeyedQueue,
): Promise<DaemonResponse & { kind: 'result' }> {
  const entry = registry.get(req.type)!;
  const stdin = req.stdin.toString('utf8');
  const stderr =
    !req.env.CNI_COMMAND && entry.opts.about
      ? `${entry.opts.about}\nCNI protocol versions supported: ${(entry.opts.supportedVersions ?? SUPPORTED_VERSIONS).join(', ')}\n`
      : '';
  let timer: NodeJS.Timeout | undefined;
  let expired = false;
  const call = () => (expired ? Promise.resolve<Outcome>({ exitCode: 1 }) : dispatch(entry.plugin, entry.opts, req.env, stdin));
  const work = queue ? queue.run(queueKey(req.env, stdin), call) : call();
  const deadline = new Promise<Outcome>((res) => {
    timer = setTimeout(() => {
      expired = true;
      const what = `${req.env.CNI_COMMAND ?? '?'} of ${req.type} for container ${req.env.CNI_CONTAINERID ?? '?'}`;
      const err = new CniError(
        ErrorCode.TryAgainLater,
        `tsnetd: ${what} did not finish within ${timeoutMs} ms`,
        'the operation may still complete in the daemon; DEL the attachment and retry, and check the daemon log (a stuck lock or kernel call)',
      );
      res({ exitCode: 1, stdout: errorJson(err, configVersion(stdin)), error: err });
    }, timeoutMs);
  });
  try {
    const out = await Promise.race([work, deadline]);
    return { kind: 'result', ...render(out), stderr: Buffer.from(stderr) };
  } finally {
    clearTimeout(timer);
  }
}
