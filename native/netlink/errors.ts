// Typed netlink errors: errno, its name, and the kernel's own words (extended ACK) when it gave them.
import { native } from '../addon.js';

const ERRNO_FALLBACK: Record<number, [string, string]> = {
  1: ['EPERM', 'Operation not permitted'],
  2: ['ENOENT', 'No such file or directory'],
  3: ['ESRCH', 'No such process'],
  16: ['EBUSY', 'Device or resource busy'],
  17: ['EEXIST', 'File exists'],
  19: ['ENODEV', 'No such device'],
  22: ['EINVAL', 'Invalid argument'],
  34: ['ERANGE', 'Numerical result out of range'],
  95: ['EOPNOTSUPP', 'Operation not supported'],
  99: ['EADDRNOTAVAIL', 'Cannot assign requested address'],
  101: ['ENETUNREACH', 'Network is unreachable'],
};

export function errnoInfo(errno: number): { code: string; text: string } {
  try {
    const r = native().strerror(errno);
    return { code: r.code, text: r.message };
  } catch {
    const f = ERRNO_FALLBACK[errno];
    return f ? { code: f[0], text: f[1] } : { code: `E${errno}`, text: `errno ${errno}` };
  }
}

/** A request the kernel refused. `message` is the kernel's extack text when present, else strerror. */
export class NetlinkError extends Error {
  readonly errno: number;
  readonly code: string;
  /** The kernel's extended ACK message, if any. */
  readonly extack?: string;
  /** What we asked for, e.g. "create link veth0". */
  readonly operation: string;
  /** Set when the kernel has no driver for a link kind we asked to create ('macvlan', 'vlan' …). */
  unsupportedKind?: string;

  constructor(errno: number, operation: string, extack?: string) {
    const { code, text } = errnoInfo(errno);
    super(`${operation}: ${extack ?? text} (${code})`);
    this.name = 'NetlinkError';
    this.errno = errno;
    this.code = code;
    this.operation = operation;
    if (extack) this.extack = extack;
  }
}

export function isNetlinkError(e: unknown, code?: string): e is NetlinkError {
  return e instanceof NetlinkError && (code === undefined || e.code === code);
}
