// The in-memory reservation table of one IPAM network: address → owner, owner → addresses, and the last
// address reserved per range set (for next-fit). Every change is also recorded as a journal op so the store
// can persist exactly what changed. Lookups and changes are O(1): nothing here scans all reservations
// except the explicit whole-table queries (all(), countIn()).
import { formatAddr, parseAddr, type Addr, type Family } from './cidr.js';

export interface Owner {
  containerID: string;
  ifname: string;
}

export interface Reservation {
  family: Family;
  value: bigint;
  containerID: string;
  ifname: string;
  /** Which range set of the config it was taken for ("0", "1", …): host-local's rangeID. */
  rangeId: string;
}

/** A journal op: reserve (sets last-reserved of its range set) or release. Addresses as text. */
export type Op = { o: '+'; a: string; c: string; i: string; r: string } | { o: '-'; a: string };

export interface Snapshot {
  version: 1;
  seq: number;
  last: Record<string, string>;
  /** [address, containerID, ifname, rangeId] */
  reservations: [string, string, string, string][];
}

export const ownerKey = (o: Owner): string => `${o.containerID}\u0000${o.ifname}`;
export const formatOwner = (o: Owner): string => `${o.containerID}/${o.ifname}`;

export class IpamState {
  private readonly byAddr: Record<Family, Map<bigint, Reservation>> = { 4: new Map(), 6: new Map() };
  private readonly byOwner = new Map<string, Set<Reservation>>();
  private readonly last = new Map<string, Addr>();
  /** Changes since load, in order: what the store appends to its journal. */
  pending: Op[] = [];
  /** Problems met while replaying (a reservation of an address already held by someone else). */
  readonly conflicts: string[] = [];

  get size(): number {
    return this.byAddr[4].size + this.byAddr[6].size;
  }

  get(a: Addr): Reservation | undefined {
    return this.byAddr[a.family].get(a.value);
  }

  isHeld(a: Addr): boolean {
    return this.byAddr[a.family].has(a.value);
  }

  ownedBy(o: Owner): Reservation[] {
    return [...(this.byOwner.get(ownerKey(o)) ?? [])];
  }

  owners(): Owner[] {
    const out: Owner[] = [];
    for (const set of this.byOwner.values()) {
      const r = set.values().next().value as Reservation | undefined;
      if (r) out.push({ containerID: r.containerID, ifname: r.ifname });
    }
    return out;
  }

  lastReserved(rangeId: string): Addr | undefined {
    return this.last.get(rangeId);
  }

  *all(): Generator<Reservation> {
    yield* this.byAddr[4].values();
    yield* this.byAddr[6].values();
  }

  /** Reserve `a` for `owner`; false if it is already held (by anyone). Records last-reserved for `rangeId`. */
  reserve(a: Addr, owner: Owner, rangeId: string): boolean {
    if (this.isHeld(a)) return false;
    this.put({ family: a.family, value: a.value, containerID: owner.containerID, ifname: owner.ifname, rangeId });
    this.pending.push({ o: '+', a: formatAddr(a), c: owner.containerID, i: owner.ifname, r: rangeId });
    return true;
  }

  /** Release one address; returns what was held there, if anything. */
  releaseAddr(a: Addr): Reservation | undefined {
    const r = this.byAddr[a.family].get(a.value);
    if (!r) return undefined;
    this.drop(r);
    this.pending.push({ o: '-', a: formatAddr(a) });
    return r;
  }

  /** Release everything `owner` holds (idempotent: nothing held → []). */
  releaseOwner(o: Owner): Reservation[] {
    const held = this.ownedBy(o);
    for (const r of held) this.releaseAddr(r);
    return held;
  }

  private put(r: Reservation): void {
    this.byAddr[r.family].set(r.value, r);
    const k = ownerKey(r);
    let set = this.byOwner.get(k);
    if (!set) this.byOwner.set(k, (set = new Set()));
    set.add(r);
    this.last.set(r.rangeId, { family: r.family, value: r.value });
  }

  private drop(r: Reservation): void {
    this.byAddr[r.family].delete(r.value);
    const k = ownerKey(r);
    const set = this.byOwner.get(k);
    if (set) {
      set.delete(r);
      if (set.size === 0) this.byOwner.delete(k);
    }
  }

  /** Replay one journal op (no new pending op). Reserving a held address is recorded as a conflict. */
  replay(op: Op): void {
    const a = parseAddr(op.a);
    if (op.o === '+') {
      const held = this.get(a);
      if (held) {
        if (held.containerID !== op.c || held.ifname !== op.i) {
          this.conflicts.push(`${op.a} reserved for ${op.c}/${op.i} while held by ${held.containerID}/${held.ifname}`);
        }
        return;
      }
      this.put({ family: a.family, value: a.value, containerID: op.c, ifname: op.i, rangeId: op.r });
    } else {
      const r = this.get(a);
      if (r) this.drop(r);
    }
  }

  toSnapshot(seq: number): Snapshot {
    const last: Record<string, string> = {};
    for (const [k, a] of this.last) last[k] = formatAddr(a);
    const reservations: Snapshot['reservations'] = [];
    for (const r of this.all()) reservations.push([formatAddr(r), r.containerID, r.ifname, r.rangeId]);
    return { version: 1, seq, last, reservations };
  }

  static fromSnapshot(s: Snapshot): IpamState {
    const st = new IpamState();
    for (const [a, c, i, r] of s.reservations) st.replay({ o: '+', a, c, i, r });
    st.last.clear();
    for (const [k, a] of Object.entries(s.last)) st.last.set(k, parseAddr(a));
    return st;
  }
}
