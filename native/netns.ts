// A handle on one network namespace: where it is, an rtnetlink socket bound inside it (opened lazily, owned
// by the handle), an fd of it for moving links there, and its per-namespace sysctls.
import { CniCode, TsnetError } from '../common/errors.js';
import { close, closeSync, existsSync, openSync, statSync } from 'node:fs';
import { CLONE_NEWNET, isSysError, native } from './addon.js';
import { Rtnl } from './rtnl.js';
import type { SocketOptions } from './netlink/socket.js';

import { NETNS_RUN_DIR } from '../common/paths.js';

/** Closes an fd on a libuv worker (it is this process's own and unused once handed here). */
function closeAsync(fd: number): void {
  close(fd, () => undefined);
}

const NS_TYPES: Record<number, string> = {
  0x00020000: 'mount',
  0x02000000: 'cgroup',
  0x04000000: 'uts',
  0x08000000: 'ipc',
  0x10000000: 'user',
  0x20000000: 'pid',
  0x40000000: 'network',
  0x00000080: 'time',
};

/** Thrown for a namespace reference that is missing, unreadable, or not a network namespace. */
export class NetnsError extends TsnetError {
  constructor(
    readonly ref: string,
    /** Why, without the "network namespace REF:" prefix of the message. */
    reason: string,
    /** True when nothing is there (no such file or process), as opposed to something that is not a netns. */
    readonly missing = false,
  ) {
    super(`network namespace ${ref}`, reason, undefined, { cniCode: missing ? CniCode.UnknownContainer : CniCode.InvalidEnvironment });
    this.name = 'NetnsError';
  }
}

function validName(name: string): boolean {
  return name.length > 0 && name.length < 256 && !name.includes('/') && name !== '.' && name !== '..' && !name.includes('\0');
}

/**
 * Resolves what users write for a namespace — a pid, a /proc/PID/ns/net or /run/netns/NAME path, or a
 * netns name — to the path of its nsfs file, checking that it is a network namespace.
 */
export function resolveNetnsPath(ref: string | number): string {
  let path: string;
  if (typeof ref === 'number' || /^\d+$/.test(ref)) path = `/proc/${ref}/ns/net`;
  else if (ref.startsWith('/')) path = ref;
  else if (validName(ref)) path = `${NETNS_RUN_DIR}/${ref}`;
  else throw new NetnsError(JSON.stringify(ref), 'not a pid, a path, or a valid netns name');
  assertNetnsPath(path, String(ref));
  return path;
}

export function assertNetnsPath(path: string, ref = path): void {
  let type: number;
  try {
    type = native().nsType(path);
  } catch (e) {
    if (isSysError(e, 'ENOENT')) throw new NetnsError(ref, /^\d+$/.test(ref) ? `no process ${ref}` : `${path} does not exist`, true);
    if (isSysError(e, 'ENOTTY') || isSysError(e, 'EINVAL'))
      throw new NetnsError(ref, `${path} is not a namespace file (expected /proc/PID/ns/net or a file under ${NETNS_RUN_DIR})`);
    if (isSysError(e)) throw new NetnsError(ref, `${path}: ${e.message}`);
    throw e;
  }
  if (type !== CLONE_NEWNET) throw new NetnsError(ref, `${path} is a ${NS_TYPES[type] ?? 'different'} namespace, not a network namespace`);
}

/** Identity of a namespace file ("net:[4026531840]", as /proc/PID/ns/net reads) for comparisons. */
export function netnsId(path = '/proc/self/ns/net'): string {
  return `net:[${statSync(path).ino}]`;
}

export interface NetnsOptions extends SocketOptions {}

/** Idle rtnetlink sockets of the current namespace, per options object, for reuse (see Netns.rtnl). */
const CURRENT_IDLE = new WeakMap<NetnsOptions, Rtnl[]>();
const MAX_IDLE = 8;

export class Netns {
  /**
   * Socket options for handles opened without explicit options. One-shot processes (an exec'd CNI plugin)
   * set `{ blocking: true }`: cheaper than a worker hop per reply, and nothing else is waiting on the loop.
   */
  static defaults: NetnsOptions = {};
  private rtnlHandle?: Rtnl;
  private nsFd = -1;
  private closed = false;
  /** /proc/sys/net/<family> of this namespace, opened ahead (prefetchSysctlDir). */
  private sysctlDirFds: Record<string, number> = {};
  /**
   * Directories being opened: the thread's slot (-2 until it has an fd, then the fd or -1), its promise, and
   * whether the fd was taken from the slot (then the promise's fd is the same one, already owned).
   */
  private readonly sysctlDirPending = new Map<string, { slot: Int32Array; done: Promise<void>; taken: boolean }>();

  private constructor(
    /** nsfs path; null = the namespace this process runs in. */
    readonly path: string | null,
    /** For messages: the name or path the user gave. */
    readonly label: string,
    private readonly opts: NetnsOptions,
  ) {}

  /** The namespace this process runs in (the "host" from the process's point of view). */
  static current(opts: NetnsOptions = Netns.defaults): Netns {
    return new Netns(null, 'the current network namespace', opts);
  }

  /** Opens a namespace by pid, path or name; throws NetnsError with the reason when it is not one. */
  static open(ref: string | number, opts: NetnsOptions = Netns.defaults): Netns {
    const path = resolveNetnsPath(ref);
    return new Netns(path, `netns ${typeof ref === 'number' || /^\d+$/.test(ref) ? `of pid ${ref}` : ref}`, opts);
  }

  /** Creates a persistent namespace NAME under dir (like `ip netns add NAME`). */
  static create(name: string, opts: NetnsOptions & { dir?: string } = Netns.defaults): Netns {
    if (!validName(name)) throw new NetnsError(JSON.stringify(name), 'a netns name may not be empty or contain "/"');
    const dir = opts.dir ?? NETNS_RUN_DIR;
    try {
      const path = native().netnsCreate(dir, name);
      return new Netns(path, `netns ${name}`, opts);
    } catch (e) {
      if (isSysError(e, 'EEXIST'))
        throw new NetnsError(name, `${dir}/${name} already exists (remove it with 'ip netns del ${name}' or pick another name)`);
      throw e;
    }
  }

  /** Removes a persistent namespace (like `ip netns del`); processes still in it keep it alive. */
  static remove(nameOrPath: string): void {
    native().netnsDelete(nameOrPath.startsWith('/') ? nameOrPath : `${NETNS_RUN_DIR}/${nameOrPath}`);
  }

  static exists(ref: string | number): boolean {
    try {
      resolveNetnsPath(ref);
      return true;
    } catch {
      return false;
    }
  }

  /**
   * rtnetlink in this namespace; the socket is opened on first use and closed by close(). A handle of the
   * current namespace takes an idle socket left by one closed before, and close() gives it back (up to 8
   * are kept): a daemon does not open one per request, and each handle still has a socket of its own.
   */
  get rtnl(): Rtnl {
    if (this.rtnlHandle) return this.rtnlHandle;
    if (this.path === null) this.rtnlHandle = CURRENT_IDLE.get(this.opts)?.pop();
    this.rtnlHandle ??= new Rtnl(this.path, this.label, this.opts);
    return this.rtnlHandle;
  }

  /** An fd of the namespace file, e.g. for IFLA_NET_NS_FD; owned by this handle. */
  fd(): number {
    if (this.nsFd < 0) {
      if (this.path === null && !existsSync('/proc/self/ns/net')) throw new NetnsError('current', '/proc is not mounted');
      this.nsFd = openSync(this.path ?? '/proc/self/ns/net', 'r');
    }
    return this.nsFd;
  }

  /** "net:[inode]" of this namespace. */
  id(): string {
    return netnsId(this.path ?? '/proc/self/ns/net');
  }

  /** Reads a sysctl of this namespace, e.g. "net/ipv4/ip_forward" (keys with '/', so interface names with '.' survive). */
  sysctl(key: string): string {
    return native().readFileAt(this.path, `/proc/sys/${key}`).trim();
  }

  /** Writes a sysctl of this namespace, e.g. "net/ipv4/conf/eth0/arp_notify". */
  setSysctl(key: string, value: string | number): void {
    this.setSysctls([[key, value]]);
  }

  /** Writes several sysctls in order, entering the namespace once; stops at the first that fails. */
  setSysctls(entries: [key: string, value: string | number][]): void {
    native().writeFilesAt(
      this.path,
      entries.map(([k]) => `/proc/sys/${k}`),
      entries.map(([, v]) => String(v)),
      this.sysctlDirFds,
    );
  }

  /**
   * Looks up /proc/sys/net/<family> of this namespace ahead, on a thread of its own, for the sysctl writes to
   * come (they use it once sysctlsReady() has resolved). The kernel keeps that directory of every namespace
   * in one dentry hash chain, so its first lookup in a namespace costs time proportional to the number of
   * namespaces (bench/README.md) — which this takes off the caller's path. Failures are left
   * to the writes themselves (they look the directory up again).
   */
  prefetchSysctlDir(family: 'ipv4' | 'ipv6'): void {
    if (this.path === null || this.sysctlDirPending.has(family)) return;
    const dir = `/proc/sys/net/${family}`;
    const entry = { slot: new Int32Array([-2]), done: Promise.resolve(), taken: false };
    entry.done = native()
      .openDirAtAsync(this.path, dir, entry.slot)
      .then(
        (fd) => {
          if (entry.taken) return;
          if (this.closed) closeAsync(fd);
          else this.sysctlDirFds[dir] = fd;
        },
        () => undefined,
      );
    this.sysctlDirPending.set(family, entry);
  }

  /**
   * Resolves once the directories asked for with prefetchSysctlDir are open (or failed to). Those the thread
   * has opened already are taken at once, without waiting for a turn of the event loop.
   */
  async sysctlsReady(): Promise<void> {
    const waiting: Promise<void>[] = [];
    for (const [family, entry] of this.sysctlDirPending) {
      const fd = entry.slot[0]!;
      if (fd === -2) waiting.push(entry.done);
      else if (fd >= 0 && !entry.taken && !this.closed) {
        entry.taken = true;
        this.sysctlDirFds[`/proc/sys/net/${family}`] = fd;
      }
    }
    if (waiting.length) await Promise.all(waiting);
  }

  close(): void {
    this.closed = true;
    // Off this thread: a directory from a procfs instance of its own (see openDirAtAsync) takes that
    // instance down with its last fd, which costs the closing thread some time.
    for (const fd of Object.values(this.sysctlDirFds)) closeAsync(fd);
    this.sysctlDirFds = {};
    const idle =
      this.path === null && this.rtnlHandle && !this.rtnlHandle.busy
        ? (CURRENT_IDLE.get(this.opts) ?? CURRENT_IDLE.set(this.opts, []).get(this.opts)!)
        : undefined;
    if (idle && idle.length < MAX_IDLE) idle.push(this.rtnlHandle!);
    else this.rtnlHandle?.close();
    this.rtnlHandle = undefined;
    if (this.nsFd >= 0) {
      closeSync(this.nsFd);
      this.nsFd = -1;
    }
  }
}
