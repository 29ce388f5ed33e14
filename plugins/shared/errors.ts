// Errors of tsnet's own plugins, over the one model (common/errors.ts): PluginError is a TsnetError with a
// plugin code and the CLI's exit status 1; kernelError wraps what the kernel refused so that the message
// names the step that failed (and says so plainly when the kernel lacks a link kind).
import { TsnetError } from '../../common/errors.js';
import { isNetlinkError } from '../../native/netlink/errors.js';

/** Codes of attach and route (the spec reserves 100 and up for plugins). */
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

export class PluginError extends TsnetError {
  constructor(thing: string, reason: string, fix?: string, cniCode: number = AttachErrorCode.BadArgument, exitCode = 1) {
    super(thing, reason, fix, { cniCode, exitCode });
    this.name = 'PluginError';
  }
}

const KIND_FIX: Record<string, string> = {
  macvlan: 'use --take-uplink to make a bridge (br0) that holds the NIC — its addresses and routes move onto the bridge',
  vlan: 'drop @VLAN, or run on a kernel with 802.1Q VLAN support',
};

/**
 * Rethrows an error of a kernel step as a PluginError naming the step (`what`) with the plugin's code for
 * kernel failures; a link kind the kernel lacks gets `codes.unsupported`. An error already classified (a
 * TsnetError with a CNI code: the plugin's own, an IPAM refusal) passes through unchanged.
 */
export function kernelError(e: unknown, what: string, codes: { kernel: number; unsupported: number }): never {
  if (e instanceof TsnetError && e.cniCode !== undefined) throw e;
  if (isNetlinkError(e) && e.unsupportedKind) {
    const kind = e.unsupportedKind;
    throw new PluginError(
      what,
      `this kernel has no ${kind} support (${kind === 'vlan' ? '8021q' : kind} driver not built or module not loadable)`,
      KIND_FIX[kind] ?? 'use a kernel that has it',
      codes.unsupported,
    );
  }
  throw new PluginError(what, (e as Error).message, undefined, codes.kernel);
}
