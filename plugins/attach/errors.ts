// The error attach, detach and route raise: a TsnetError (the CLI prints "tsnet: <thing>: <reason> (<fix>)")
// that also carries the CNI code the plugins report it with.
import { TsnetError } from '../../engine/errors.js';
import { CniError, ErrorCode } from '../cni/types.js';
import { ContainerRefError } from '../shared/container-ref.js';

/** Plugin-specific CNI codes (the spec reserves 100+ for plugins), shared by attach and route. */
export const AttachErrorCode = {
  /** A bad address, prefix, gateway, MAC, VLAN or route argument. */
  BadArgument: 100,
  /** The container already has an interface by that name. */
  InterfaceExists: 101,
  /** The host interface is neither a bridge nor an Ethernet NIC. */
  NotBridgeOrNic: 102,
  /** The kernel or tsnet lacks what the request needs (macvlan, 8021q, bridge VLAN filtering). */
  Unsupported: 103,
  /** A kernel operation failed. */
  Kernel: 104,
  /** No DHCP client, or it got no lease. */
  Dhcp: 105,
} as const;

export class AttachError extends TsnetError {
  constructor(
    thing: string,
    reason: string,
    fix: string | undefined,
    readonly cniCode: number = AttachErrorCode.BadArgument,
    exitCode = 1,
  ) {
    super(thing, reason, fix, exitCode);
    this.name = 'AttachError';
  }
}

/** Maps what attach/route throw to the CNI error a plugin prints. */
export function toCni(e: unknown): unknown {
  if (e instanceof CniError) return e;
  if (e instanceof AttachError) return new CniError(e.cniCode, `${e.thing}: ${e.reason}`, e.fix ?? '');
  if (e instanceof ContainerRefError) return new CniError(e.unknown ? ErrorCode.UnknownContainer : ErrorCode.InvalidEnvironment, `container ${JSON.stringify(e.ref)}: ${e.reason}`, e.fix);
  if (e instanceof TsnetError) return new CniError(ErrorCode.Internal, `${e.thing}: ${e.reason}`, e.fix ?? '');
  return e;
}

/** Maps a ContainerRefError to the CLI's error type; anything else passes through. */
export function toCli(e: unknown): unknown {
  if (e instanceof ContainerRefError) return new TsnetError(`container ${JSON.stringify(e.ref)}`, e.reason, e.fix, 1);
  return e;
}
