// What the allocator reports, as the one error model (common/errors.ts): each error carries its CNI code, so
// the tsnet-ipam plugin and the CLI need no table of their own.
import { CniCode, TsnetError } from '../common/errors.js';

/** tsnet-ipam's own CNI codes (the spec leaves 100 and up to plugins). */
export const IpamErrorCode = {
  /** A range set has no free address. */
  Exhausted: 100,
  /** A requested (static) address is outside the ranges, the gateway, or held by someone else. */
  RequestedUnavailable: 101,
  /** "subnet": "auto" found no free subnet in any pool. */
  NoFreeSubnet: 102,
} as const;

/** An IPAM error whose whole text is one message (the thing is named inside it). */
export abstract class IpamError extends TsnetError {
  constructor(msg: string, fix: string | undefined, cniCode: number) {
    super('', msg, fix, { cniCode });
  }
}

/** A bad CIDR, address, range or name in a configuration. */
export class IpamConfigError extends IpamError {
  constructor(msg: string, fix?: string) {
    super(msg, fix, CniCode.InvalidNetworkConfig);
  }
}

export { CniCode };
