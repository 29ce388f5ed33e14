// Next-fit allocation over one range set, with host-local's semantics: start after the last address
// reserved for this range set (or at rangeStart of the first range), walk forward through the ranges of the
// set, wrap around, skip the gateway, stop when back at the start. Each probe is one Map lookup, so
// filling a range in order costs O(1) per allocation no matter how many are held.
//
// Deviation from host-local: a second ADD for an owner that already holds an address in this range set
// returns that address (idempotent; e.g. a retry after the runtime lost our reply) instead of failing
// with "duplicate allocation is not allowed".
import { IpamError, IpamErrorCode } from './errors.js';
import { formatAddr, formatAddrInPrefix, parseAddr, type Addr } from './cidr.js';
import { capacity, formatRangeSet, rangeContains, rangeForAddr, type Range, type RangeSet } from './ranges.js';
import { formatOwner, type IpamState, type Owner } from './state.js';

export interface Allocation {
  /** "10.22.0.5/16": the address with its subnet's prefix length. */
  address: string;
  gateway?: string;
  addr: Addr;
  range: Range;
}

/** The range set has no free address. */
export class ExhaustedError extends IpamError {
  constructor(
    readonly network: string,
    readonly rangeId: string,
    readonly rangeSet: string,
    readonly held: number,
    readonly capacity: bigint,
  ) {
    super(
      `network "${network}": no free address in range set ${rangeId} (${rangeSet}): ${held} of ${capacity} addresses are held. ` +
        `Fix: release addresses (CNI DEL, or GC of stale attachments), or use a larger subnet / wider rangeStart-rangeEnd.`,
      'release addresses no container uses (DEL, or GC with the valid attachments), or give the network a wider range',
      IpamErrorCode.Exhausted,
    );
    this.name = 'ExhaustedError';
  }
}

/** A requested (static) address cannot be given. */
export class RequestedAddressError extends IpamError {
  constructor(msg: string) {
    super(
      msg,
      "request a free address inside the network's ranges (see 'tsnet network inspect'), or leave it out to get one assigned",
      IpamErrorCode.RequestedUnavailable,
    );
    this.name = 'RequestedAddressError';
  }
}

/** host-local's RangeIter: yields candidates in next-fit order, each at most once. */
export class RangeIter {
  private idx = 0;
  private cur: bigint | undefined;
  private startIP: bigint | undefined;

  constructor(
    private readonly set: RangeSet,
    lastReserved: Addr | undefined,
  ) {
    const i = lastReserved ? set.findIndex((r) => rangeContains(r, lastReserved)) : -1;
    if (i >= 0) {
      this.idx = i;
      this.cur = lastReserved!.value; // the first next() returns lastReserved + 1
    } else {
      this.startIP = set[0]!.start;
    }
  }

  next(): { value: bigint; range: Range } | undefined {
    for (;;) {
      let r = this.set[this.idx]!;
      if (this.cur === undefined) {
        this.cur = r.start;
        this.startIP = this.cur;
        if (this.cur === r.gateway) continue;
        return { value: this.cur, range: r };
      }
      if (this.cur === r.end) {
        this.idx = (this.idx + 1) % this.set.length;
        r = this.set[this.idx]!;
        this.cur = r.start;
      } else {
        this.cur += 1n;
      }
      if (this.startIP === undefined) this.startIP = this.cur;
      else if (this.cur === this.startIP) return undefined;
      if (this.cur === r.gateway) continue;
      return { value: this.cur, range: r };
    }
  }
}

export class Allocator {
  constructor(
    private readonly set: RangeSet,
    private readonly state: IpamState,
    private readonly rangeId: string,
    private readonly network = '',
  ) {}

  private result(a: Addr, r: Range): Allocation {
    return {
      address: formatAddrInPrefix(a, r.subnet),
      ...(r.gateway !== undefined ? { gateway: formatAddr({ family: r.family, value: r.gateway }) } : {}),
      addr: a,
      range: r,
    };
  }

  contains(a: Addr): boolean {
    return rangeForAddr(this.set, a) !== undefined;
  }

  /** Allocate for `owner`: the requested address, or the next free one after the last reserved. */
  get(owner: Owner, requested?: Addr | string): Allocation {
    if (requested !== undefined) return this.getRequested(owner, typeof requested === 'string' ? parseAddr(requested) : requested);

    for (const held of this.state.ownedBy(owner)) {
      const a = { family: held.family, value: held.value };
      const r = rangeForAddr(this.set, a);
      if (r) return this.result(a, r);
    }

    const it = new RangeIter(this.set, this.state.lastReserved(this.rangeId));
    for (let c = it.next(); c; c = it.next()) {
      const a = { family: c.range.family, value: c.value };
      if (this.state.reserve(a, owner, this.rangeId)) return this.result(a, c.range);
    }
    throw new ExhaustedError(this.network, this.rangeId, formatRangeSet(this.set), this.countHeld(), capacity(this.set));
  }

  private getRequested(owner: Owner, a: Addr): Allocation {
    const text = formatAddr(a);
    const r = rangeForAddr(this.set, a);
    if (!r) throw new RequestedAddressError(`requested IP ${text} is not in range set ${this.rangeId} (${formatRangeSet(this.set)})`);
    if (a.value === r.gateway) throw new RequestedAddressError(`requested IP ${text} is the gateway of ${formatRangeSet([r])}`);
    const held = this.state.get(a);
    if (held) {
      if (held.containerID === owner.containerID && held.ifname === owner.ifname) return this.result(a, r);
      throw new RequestedAddressError(
        `requested IP ${text} is not available in range set ${this.rangeId} (${formatRangeSet(this.set)}): held by ${formatOwner(held)}`,
      );
    }
    this.state.reserve(a, owner, this.rangeId);
    return this.result(a, r);
  }

  /** Addresses of this range set currently held (O(held); used for messages and inspect). */
  countHeld(): number {
    let n = 0;
    for (const r of this.state.all()) if (rangeForAddr(this.set, r)) n++;
    return n;
  }

  /** Release everything the owner holds in the network (idempotent). */
  release(owner: Owner): number {
    return this.state.releaseOwner(owner).length;
  }
}
