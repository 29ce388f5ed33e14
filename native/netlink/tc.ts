// RTM_*QDISC: struct tcmsg (20 bytes) + TCA_* attributes — the queueing disciplines of `tc qdisc` that
// pipework users set: tbf (a rate limit), netem (delay, loss), prio (priority bands).
import { Attr, AttrMap, bytes, str, u32, nest, NetlinkDecodeError } from './attrs.js';

export const RTM_NEWQDISC = 36;
export const RTM_DELQDISC = 37;
export const RTM_GETQDISC = 38;
const TCA_KIND = 1;
const TCA_OPTIONS = 2;
const TCA_TBF_PARMS = 1;
const TCA_TBF_RATE64 = 4;
const TCA_TBF_BURST = 6;
export const TC_H_ROOT = 0xffffffff;
/** A rate's link layer: Ethernet, so the kernel computes the rate itself (no rate table needed). */
const TC_LINKLAYER_ETHERNET = 1;
/** psched ticks are 64 ns (PSCHED_SHIFT 6). */
const nsToTicks = (ns: number) => Math.min(0xffffffff, Math.floor(ns / 64));

export type QdiscSpec =
  /** rate in bytes/s, burst in bytes, limit in bytes (what may wait in the queue). */
  | { kind: 'tbf'; rate: number; burst: number; limit: number }
  /** delay in µs, loss in % (0–100), limit in packets. */
  | { kind: 'netem'; delayUs: number; jitterUs?: number; lossPercent?: number; limit?: number }
  | { kind: 'prio'; bands?: number };

export interface QdiscEntry {
  index: number;
  kind: string;
  handle: number;
  parent: number;
}

export function tcmsg(index: number, handle: number, parent: number): Buffer {
  const b = Buffer.alloc(20);
  b.writeUInt8(0, 0); // AF_UNSPEC
  b.writeInt32LE(index, 4);
  b.writeUInt32LE(handle >>> 0, 8);
  b.writeUInt32LE(parent >>> 0, 12);
  return b;
}

function ratespec(bytesPerSec: number): Buffer {
  const b = Buffer.alloc(12);
  b.writeUInt8(0, 0); // cell_log
  b.writeUInt8(TC_LINKLAYER_ETHERNET, 1);
  b.writeUInt32LE(Math.min(bytesPerSec, 0xffffffff), 8);
  return b;
}

function options(spec: QdiscSpec): Attr | undefined {
  switch (spec.kind) {
    case 'tbf': {
      const parms = Buffer.alloc(36); // tc_tbf_qopt: rate, peakrate (tc_ratespec each), limit, buffer, mtu
      ratespec(spec.rate).copy(parms, 0);
      parms.writeUInt32LE(spec.limit, 24);
      parms.writeUInt32LE(nsToTicks((spec.burst / spec.rate) * 1e9), 28);
      const attrs: Attr[] = [bytes(TCA_TBF_PARMS, parms), u32(TCA_TBF_BURST, spec.burst)];
      if (spec.rate > 0xffffffff) {
        const r64 = Buffer.alloc(8);
        r64.writeBigUInt64LE(BigInt(spec.rate));
        attrs.push(bytes(TCA_TBF_RATE64, r64));
      }
      return nest(TCA_OPTIONS, attrs);
    }
    case 'netem': {
      // netem's TCA_OPTIONS is a struct tc_netem_qopt, not nested attributes.
      const q = Buffer.alloc(24);
      q.writeUInt32LE(nsToTicks(spec.delayUs * 1000), 0);
      q.writeUInt32LE(spec.limit ?? 1000, 4);
      q.writeUInt32LE(Math.round(((spec.lossPercent ?? 0) / 100) * 0xffffffff) >>> 0, 8);
      q.writeUInt32LE(nsToTicks((spec.jitterUs ?? 0) * 1000), 20);
      return bytes(TCA_OPTIONS, q);
    }
    case 'prio': {
      const q = Buffer.alloc(20); // tc_prio_qopt: bands, priomap[16] (pfifo_fast's)
      q.writeInt32LE(spec.bands ?? 3, 0);
      Buffer.from([1, 2, 2, 2, 1, 2, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1]).copy(q, 4);
      return bytes(TCA_OPTIONS, q);
    }
  }
}

export function encodeQdisc(index: number, spec: QdiscSpec | undefined): { fixed: Buffer; attrs: Attr[] } {
  const attrs: Attr[] = [];
  if (spec) {
    attrs.push(str(TCA_KIND, spec.kind));
    const o = options(spec);
    if (o) attrs.push(o);
  }
  return { fixed: tcmsg(index, 0, TC_H_ROOT), attrs };
}

export function decodeQdisc(payload: Buffer): QdiscEntry {
  if (payload.length < 20) throw new NetlinkDecodeError(`tcmsg needs 20 bytes, got ${payload.length}`);
  const a = AttrMap.parse(payload, 20);
  return {
    index: payload.readInt32LE(4),
    handle: payload.readUInt32LE(8),
    parent: payload.readUInt32LE(12),
    kind: a.str(TCA_KIND) ?? '',
  };
}
