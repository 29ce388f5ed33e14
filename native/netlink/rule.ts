// RTM_*RULE: struct fib_rule_hdr (12 bytes) + FRA_* attributes — policy routing rules, the verbs of `ip rule`.
import { Attr, AttrMap, bytes, str, u32, u8, NetlinkDecodeError } from './attrs.js';
import { bytesToIp, parsePrefix } from './wire-values.js';

export const RTM_NEWRULE = 32;
export const RTM_DELRULE = 33;
export const RTM_GETRULE = 34;
const FRA_DST = 1;
const FRA_SRC = 2;
const FRA_IIFNAME = 3;
const FRA_PRIORITY = 6;
const FRA_FWMARK = 10;
const FRA_TABLE = 15;
const FRA_FWMASK = 16;
const FRA_OIFNAME = 17;
const FRA_PROTOCOL = 21;
/** fib_rule_hdr.action */
export const FR_ACT_TO_TBL = 1;
export const FR_ACT_BLACKHOLE = 6;
export const FR_ACT_UNREACHABLE = 7;
export const FR_ACT_PROHIBIT = 8;
/** RTPROT_STATIC: what `ip rule add` writes as the rule's protocol. */
const RTPROT_STATIC = 4;

export interface RuleSpec {
  family: number;
  /** "10.0.0.0/8" */
  from?: string;
  to?: string;
  iif?: string;
  oif?: string;
  fwmark?: number;
  fwmask?: number;
  table?: number;
  priority?: number;
  action?: number;
}

export interface RuleEntry extends RuleSpec {
  table: number;
  action: number;
}

function fibRuleHdr(family: number, dstLen: number, srcLen: number, table: number, action: number): Buffer {
  const b = Buffer.alloc(12);
  b.writeUInt8(family, 0);
  b.writeUInt8(dstLen, 1);
  b.writeUInt8(srcLen, 2);
  b.writeUInt8(0, 3); // tos
  b.writeUInt8(table < 256 ? table : 0, 4);
  b.writeUInt8(action, 7);
  return b;
}

/** The message for a rule; `forDelete` leaves out what the kernel does not need to match. */
export function encodeRule(spec: RuleSpec, forDelete = false): { fixed: Buffer; attrs: Attr[] } {
  const attrs: Attr[] = [];
  const from = spec.from ? parsePrefix(spec.from) : undefined;
  const to = spec.to ? parsePrefix(spec.to) : undefined;
  if (from) attrs.push(bytes(FRA_SRC, from.bytes));
  if (to) attrs.push(bytes(FRA_DST, to.bytes));
  if (spec.iif) attrs.push(str(FRA_IIFNAME, spec.iif));
  if (spec.oif) attrs.push(str(FRA_OIFNAME, spec.oif));
  if (spec.fwmark !== undefined) attrs.push(u32(FRA_FWMARK, spec.fwmark));
  if (spec.fwmask !== undefined) attrs.push(u32(FRA_FWMASK, spec.fwmask));
  if (spec.priority !== undefined) attrs.push(u32(FRA_PRIORITY, spec.priority));
  const action = spec.action ?? FR_ACT_TO_TBL;
  if (spec.table !== undefined) attrs.push(u32(FRA_TABLE, spec.table));
  if (!forDelete) attrs.push(u8(FRA_PROTOCOL, RTPROT_STATIC));
  return { fixed: fibRuleHdr(spec.family, to?.prefixLen ?? 0, from?.prefixLen ?? 0, spec.table ?? 0, action), attrs };
}

export function decodeRule(payload: Buffer): RuleEntry {
  if (payload.length < 12) throw new NetlinkDecodeError(`fib_rule_hdr needs 12 bytes, got ${payload.length}`);
  const family = payload.readUInt8(0);
  const dstLen = payload.readUInt8(1);
  const srcLen = payload.readUInt8(2);
  const a = AttrMap.parse(payload, 12);
  const src = a.raw(FRA_SRC);
  const dst = a.raw(FRA_DST);
  const out: RuleEntry = {
    family,
    table: a.u32(FRA_TABLE) ?? payload.readUInt8(4),
    action: payload.readUInt8(7),
  };
  if (src) out.from = `${bytesToIp(src)}/${srcLen}`;
  if (dst) out.to = `${bytesToIp(dst)}/${dstLen}`;
  const iif = a.str(FRA_IIFNAME);
  if (iif) out.iif = iif;
  const oif = a.str(FRA_OIFNAME);
  if (oif) out.oif = oif;
  const mark = a.u32(FRA_FWMARK);
  if (mark !== undefined) out.fwmark = mark;
  const mask = a.u32(FRA_FWMASK);
  if (mask !== undefined) out.fwmask = mask;
  const prio = a.u32(FRA_PRIORITY);
  if (prio !== undefined) out.priority = prio;
  return out;
}
