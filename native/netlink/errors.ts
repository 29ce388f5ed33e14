// Typed netlink errors: errno, its name, and the kernel's own words (extended ACK) when it gave them.
import { TsnetError } from '../../common/errors.js';
import { getSystemErrorMap } from 'node:util';
import { native } from '../addon.js';

export function errnoInfo(errno: number): { code: string; text: string } {
  try {
    const r = native().strerror(errno);
    return { code: r.code, text: r.message };
  } catch {
    // No addon: libuv's table (its texts differ a little from glibc's strerror).
    const f = getSystemErrorMap().get(-errno);
    return f ? { code: f[0], text: f[1] } : { code: `E${errno}`, text: `errno ${errno}` };
  }
}

/** A request the kernel refused. `message` is the kernel's extack text when present, else strerror. */
export class NetlinkError extends TsnetError {
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
    super(operation, `${extack ?? text} (${code})`);
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
