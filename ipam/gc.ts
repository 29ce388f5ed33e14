// Garbage collection (CNI 1.1 GC): release every reservation whose owner is not a valid attachment.
import type { IpamState, Owner, Reservation } from './state.js';
import { ownerKey } from './state.js';

export function gcState(state: IpamState, valid: readonly Owner[]): Reservation[] {
  const keep = new Set(valid.map(ownerKey));
  const released: Reservation[] = [];
  for (const owner of state.owners()) {
    if (!keep.has(ownerKey(owner))) released.push(...state.releaseOwner(owner));
  }
  return released;
}
