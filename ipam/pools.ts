// Candidate address pools for the subnet picker, in the spirit of Docker's default-address-pools:
// each pool is a base prefix cut into subnets of `size` bits, tried in order.
import { CidrError, formatPrefix, parsePrefix, type Prefix } from './cidr.js';

export interface PoolSpec {
  /** A base prefix, e.g. "172.17.0.0/16". */
  base: string;
  /** Prefix length of the subnets cut from it, e.g. 16 or 24. */
  size: number;
}

export interface Pool {
  base: Prefix;
  size: number;
}

/**
 * tsnet's defaults: Docker's default-address-pools (172.17.0.0/16 … 172.31.0.0/16 as whole /16s, then
 * 192.168.0.0/16 in /20s), followed by 10.0.0.0/8 in /24s for many small networks.
 */
export const DEFAULT_POOLS: readonly PoolSpec[] = Object.freeze([
  ...Array.from({ length: 15 }, (_, i) => ({ base: `172.${17 + i}.0.0/16`, size: 16 })),
  { base: '192.168.0.0/16', size: 20 },
  { base: '10.0.0.0/8', size: 24 },
]);

export function parsePools(specs: readonly PoolSpec[]): Pool[] {
  if (specs.length === 0) throw new CidrError('the list of address pools is empty: give at least one {base, size}');
  return specs.map((s, i) => {
    let base: Prefix;
    try {
      base = parsePrefix(s.base, { strict: true });
    } catch (e) {
      throw new CidrError(`address pool ${i}: ${(e as Error).message}`);
    }
    const max = base.family === 4 ? 32 : 128;
    if (!Number.isInteger(s.size) || s.size < base.length || s.size > max) {
      throw new CidrError(
        `address pool ${i} (${formatPrefix(base)}): size /${s.size} must be an integer between ${base.length} and ${max}`,
      );
    }
    return { base, size: s.size };
  });
}

export function formatPool(p: Pool): string {
  return p.size === p.base.length ? formatPrefix(p.base) : `${formatPrefix(p.base)} in /${p.size}s`;
}
