// Address ranges and range sets, with host-local's defaults and checks:
// rangeStart defaults to network+1, rangeEnd to the last address (minus the IPv4 broadcast), the gateway to
// network+1. A range set is a list of ranges of one family; one address is handed out per range set.
//
// Like host-local, a subnet needs room for a gateway and a container besides its network address (and the
// IPv4 broadcast): /31 and /32 (IPv6 /127, /128) are refused as too small. RFC 3021 point-to-point /31s are
// not served: the bridge plugin gives every network a gateway address of its own on the bridge, and a /31
// has no address left for it.
import { IpamConfigError } from './errors.js';
import {
  CidrError,
  containsAddr,
  first,
  formatAddr,
  formatPrefix,
  last,
  parseAddr,
  parsePrefix,
  size,
  type Addr,
  type Family,
  type Prefix,
} from './cidr.js';

/** A range as written in config (host-local keys). */
export interface RangeSpec {
  subnet: string;
  rangeStart?: string;
  rangeEnd?: string;
  gateway?: string;
}

export interface Range {
  family: Family;
  subnet: Prefix;
  start: bigint;
  end: bigint;
  gateway?: bigint;
}

export type RangeSet = Range[];

export class RangeConfigError extends IpamConfigError {
  constructor(msg: string, fix?: string) {
    super(msg, fix);
    this.name = 'RangeConfigError';
  }
}

/** The same error with `where` put before its reason (the fix stays the fix). */
function within(where: string, e: unknown): RangeConfigError {
  if (e instanceof RangeConfigError) return new RangeConfigError(`${where}: ${e.reason}`, e.fix);
  return new RangeConfigError(`${where}: ${(e as Error).message}`);
}

function addrIn(what: string, text: string, subnet: Prefix): Addr {
  let a: Addr;
  try {
    a = parseAddr(text);
  } catch (e) {
    throw new RangeConfigError(`${what}: ${(e as Error).message}`);
  }
  if (!containsAddr(subnet, a)) {
    throw new RangeConfigError(`${what} ${text} is not inside subnet ${formatPrefix(subnet)}`);
  }
  return a;
}

export function canonicalizeRange(spec: RangeSpec): Range {
  if (typeof spec?.subnet !== 'string' || spec.subnet === '') {
    throw new RangeConfigError('a range needs "subnet" (CIDR, e.g. "10.22.0.0/16")');
  }
  let subnet: Prefix;
  try {
    subnet = parsePrefix(spec.subnet, { strict: true });
  } catch (e) {
    throw new RangeConfigError(`subnet: ${(e as Error).message}`);
  }
  const family = subnet.family;
  if (size(subnet) <= 2n) {
    const smallest = family === 4 ? '/30' : '/126';
    throw new RangeConfigError(
      `subnet ${formatPrefix(subnet)} is too small to allocate from: its ${size(subnet)} address${size(subnet) === 1n ? '' : 'es'} leave no room for both a gateway and a container`,
      `use a ${smallest} or larger subnet (a ${smallest} holds the gateway and one container)`,
    );
  }
  const gateway = spec.gateway !== undefined && spec.gateway !== '' ? addrIn('gateway', spec.gateway, subnet).value : first(subnet) + 1n;
  const start =
    spec.rangeStart !== undefined && spec.rangeStart !== '' ? addrIn('rangeStart', spec.rangeStart, subnet).value : first(subnet) + 1n;
  const end =
    spec.rangeEnd !== undefined && spec.rangeEnd !== ''
      ? addrIn('rangeEnd', spec.rangeEnd, subnet).value
      : family === 6
        ? last(subnet)
        : last(subnet) - 1n;
  if (start > end) {
    throw new RangeConfigError(
      `rangeStart ${formatAddr({ family, value: start })} is after rangeEnd ${formatAddr({ family, value: end })} in ${formatPrefix(subnet)}`,
    );
  }
  return { family, subnet, start, end, ...(gateway !== undefined ? { gateway } : {}) };
}

export function rangeContains(r: Range, a: Addr): boolean {
  return a.family === r.family && a.value >= r.start && a.value <= r.end;
}

function rangesOverlap(a: Range, b: Range): boolean {
  return a.family === b.family && a.start <= b.end && b.start <= a.end;
}

export function formatRange(r: Range): string {
  return `${formatAddr({ family: r.family, value: r.start })}-${formatAddr({ family: r.family, value: r.end })}`;
}

export function formatRangeSet(s: RangeSet): string {
  return s.map(formatRange).join(',');
}

export function canonicalizeRangeSet(specs: RangeSpec[], idx = 0): RangeSet {
  if (!Array.isArray(specs) || specs.length === 0) throw new RangeConfigError(`range set ${idx} is empty`);
  const set = specs.map((s, j) => {
    try {
      return canonicalizeRange(s);
    } catch (e) {
      throw within(`range set ${idx}, range ${j}`, e);
    }
  });
  for (const r of set) {
    if (r.family !== set[0]!.family) throw new RangeConfigError(`range set ${idx} mixes IPv4 and IPv6 ranges`);
  }
  for (let i = 0; i < set.length; i++) {
    for (let j = i + 1; j < set.length; j++) {
      if (rangesOverlap(set[i]!, set[j]!)) {
        throw new RangeConfigError(`range set ${idx}: ranges ${formatRange(set[i]!)} and ${formatRange(set[j]!)} overlap`);
      }
    }
  }
  return set;
}

/** Validate every range set and that no two sets overlap (host-local's "range set i overlaps with j"). */
export function canonicalizeRangeSets(sets: RangeSpec[][]): RangeSet[] {
  if (!Array.isArray(sets) || sets.length === 0) {
    throw new RangeConfigError('no IP ranges specified: give "subnet" or "ranges" (or "subnet": "auto", or "network")');
  }
  const out = sets.map((s, i) => canonicalizeRangeSet(s, i));
  for (let i = 0; i < out.length; i++) {
    for (let j = i + 1; j < out.length; j++) {
      if (out[i]!.some((a) => out[j]!.some((b) => rangesOverlap(a, b)))) {
        throw new RangeConfigError(`range set ${i} overlaps with range set ${j}`);
      }
    }
  }
  return out;
}

export function rangeForAddr(set: RangeSet, a: Addr): Range | undefined {
  return set.find((r) => rangeContains(r, a));
}

/** How many addresses the set can hand out (gateways inside a range are not handed out). */
export function capacity(set: RangeSet): bigint {
  let n = 0n;
  for (const r of set) {
    n += r.end - r.start + 1n;
    if (r.gateway !== undefined && r.gateway >= r.start && r.gateway <= r.end) n -= 1n;
  }
  return n;
}

export { CidrError };
