// The subnet picker: walk the candidate pools in order and take the first subnet that overlaps nothing in use.
//
// Default routes (0.0.0.0/0, ::/0) never block a candidate: every host with an uplink has one, and it means
// "everything not routed more specifically", not "this range is in use". Docker behaves the same way (its
// overlap check skips routes without a destination). Any other prefix, however broad, does block: a VPN
// that installs 0.0.0.0/1 + 128.0.0.0/1 really does capture every candidate, so we say so instead of
// silently handing out an unreachable subnet; pass an explicit subnet or other pools in that case.
import { IpamError, IpamErrorCode } from './errors.js';
import { alignUp, bits, CidrError, first, formatPrefix, last, overlaps, parseCidr, type Family, type Prefix } from './cidr.js';
import { DEFAULT_POOLS, formatPool, parsePools, type Pool, type PoolSpec } from './pools.js';

/** Something that already uses addresses: a host route, a host interface address, another tsnet network. */
export interface Occupied {
  /** CIDR; an interface address may keep its host bits ("10.0.0.1/24"). */
  prefix: string;
  /** Human description, e.g. "route 172.17.0.0/16 dev docker0", "address 10.0.0.1/24 on eth0", "tsnet network foo". */
  what: string;
}

export interface PickRequest {
  /** Cut every pool into subnets of this length instead of the pool's own size. */
  prefixLength?: number;
  pools?: readonly PoolSpec[];
  occupied: readonly Occupied[];
}

export interface Pick {
  subnet: Prefix;
  /** Same, as text: "172.19.0.0/16". */
  cidr: string;
  pool: Pool;
}

/** No pool had a free subnet; `message` names each pool and what blocks it. */
export class NoFreeSubnetError extends IpamError {
  constructor(
    msg: string,
    readonly report: { pool: string; reason: string }[],
  ) {
    super(msg, 'give a subnet explicitly, or add pools with room left', IpamErrorCode.NoFreeSubnet);
    this.name = 'NoFreeSubnetError';
  }
}

interface Blocker {
  prefix: Prefix;
  what: string;
}

function parseOccupied(occupied: readonly Occupied[]): Blocker[] {
  const out: Blocker[] = [];
  for (const o of occupied) {
    let prefix: Prefix;
    try {
      prefix = parseCidr(o.prefix).prefix;
    } catch (e) {
      throw new CidrError(`occupied entry "${o.what}": ${(e as Error).message}`);
    }
    if (prefix.length === 0) continue; // default route: see the note at the top of this file
    out.push({ prefix, what: o.what });
  }
  return out;
}

function summarise(blockers: Blocker[], max = 3): string {
  const names = [...new Set(blockers.map((b) => b.what))];
  const shown = names.slice(0, max).join(', ');
  return names.length > max ? `${shown} and ${names.length - max} more` : shown;
}

/** Pick the first free subnet; throws NoFreeSubnetError explaining every pool when none is free. */
export function pickSubnet(req: PickRequest): Pick {
  const pools = parsePools(req.pools ?? DEFAULT_POOLS);
  const blockers = parseOccupied(req.occupied);
  const report: { pool: string; reason: string }[] = [];

  for (const pool of pools) {
    const length = req.prefixLength ?? pool.size;
    const poolText = req.prefixLength === undefined ? formatPool(pool) : formatPool({ base: pool.base, size: length });
    if (!Number.isInteger(length) || length < pool.base.length || length > bits(pool.base.family)) {
      report.push({ pool: poolText, reason: `cannot hold a /${length} (the pool itself is a /${pool.base.length})` });
      continue;
    }
    const inPool = blockers
      .filter((b) => overlaps(b.prefix, pool.base))
      .sort((a, b) => (first(a.prefix) < first(b.prefix) ? -1 : first(a.prefix) > first(b.prefix) ? 1 : 0));
    const found = firstFree(pool.base, length, inPool);
    if (found) return { subnet: found, cidr: formatPrefix(found), pool };
    report.push({ pool: poolText, reason: `every subnet overlaps something in use: ${summarise(inPool)}` });
  }

  const lines = report.map((r) => `  ${r.pool}: ${r.reason}`).join('\n');
  const want = req.prefixLength === undefined ? 'subnet' : `/${req.prefixLength} subnet`;
  throw new NoFreeSubnetError(
    `no free ${want} in any address pool:\n${lines}\n` +
      `Fix: give an explicit subnet (--subnet CIDR / "subnet" in the config), a different prefix length, ` +
      `or other address pools; or remove unused networks (tsnet network rm).`,
    report,
  );
}

/** First /length inside `base` overlapping no blocker; blockers sorted by start. Tries at most blockers+1 candidates. */
function firstFree(base: Prefix, length: number, blockers: Blocker[]): Prefix | undefined {
  const family: Family = base.family;
  const step = 1n << BigInt(bits(family) - length);
  const end = last(base);
  let cursor = first(base);
  while (cursor <= end) {
    const candLast = cursor + step - 1n;
    let blockedTo = -1n;
    for (const b of blockers) {
      if (first(b.prefix) > candLast) break;
      if (last(b.prefix) >= cursor && last(b.prefix) > blockedTo) blockedTo = last(b.prefix);
    }
    if (blockedTo < 0n) return { family, network: cursor, length };
    cursor = alignUp(family, blockedTo + 1n, length);
  }
  return undefined;
}
