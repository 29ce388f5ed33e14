// RTM_*ROUTE: struct rtmsg (12 bytes) + RTA_* attributes.
import { Attr, AttrMap, bytes, nest, u32, NetlinkDecodeError } from './attrs.js';
import * as C from './constants.js';
import { bytesToIp, ipToBytes, parsePrefix } from './wire-values.js';

export function rtmsg(f: {
  family: number;
  dstLen: number;
  srcLen?: number;
  tos?: number;
  table: number;
  protocol: number;
  scope: number;
  type: number;
  flags?: number;
}): Buffer {
  const b = Buffer.alloc(12);
  b.writeUInt8(f.family, 0);
  b.writeUInt8(f.dstLen, 1);
  b.writeUInt8(f.srcLen ?? 0, 2);
  b.writeUInt8(f.tos ?? 0, 3);
  b.writeUInt8(f.table < 256 ? f.table : C.RT_TABLE_UNSPEC, 4);
  b.writeUInt8(f.protocol, 5);
  b.writeUInt8(f.scope, 6);
  b.writeUInt8(f.type, 7);
  b.writeUInt32LE(f.flags ?? 0, 8);
  return b;
}

/** A route as the kernel reports it. */
export interface RouteEntry {
  family: number;
  /** "10.0.0.0/24", or "default" for a zero-length destination. */
  dst: string;
  gateway?: string;
  oif?: number;
  prefsrc?: string;
  table: number;
  protocol: number;
  scope: number;
  type: number;
  /** The metric (RTA_PRIORITY). */
  priority?: number;
  flags: number;
  mtu?: number;
  advmss?: number;
  /** The paths of a multipath route (RTA_MULTIPATH), which then has no oif or gateway of its own. */
  nexthops?: RouteNexthop[];
}

/** One path of a multipath route: struct rtnexthop and its RTA_GATEWAY. */
export interface RouteNexthop {
  oif: number;
  gateway?: string;
  /** rtnh_hops + 1, as `ip route` prints it. */
  weight: number;
  flags: number;
}

/** RTA_MULTIPATH: a run of struct rtnexthop { u16 len; u8 flags; u8 hops; s32 ifindex } each with attributes. */
function decodeNexthops(buf: Buffer): RouteNexthop[] {
  const out: RouteNexthop[] = [];
  let off = 0;
  while (off + 8 <= buf.length) {
    const len = buf.readUInt16LE(off);
    if (len < 8 || off + len > buf.length) throw new NetlinkDecodeError(`rtnexthop length ${len} at offset ${off} overruns ${buf.length}`);
    const nh: RouteNexthop = { oif: buf.readInt32LE(off + 4), weight: buf.readUInt8(off + 3) + 1, flags: buf.readUInt8(off + 2) };
    const gw = AttrMap.parse(buf, off + 8, off + len).raw(C.RTA_GATEWAY);
    if (gw) nh.gateway = bytesToIp(gw);
    out.push(nh);
    off += (len + 3) & ~3;
  }
  return out;
}

export function decodeRoute(payload: Buffer): RouteEntry {
  if (payload.length < 12) throw new NetlinkDecodeError(`rtmsg needs 12 bytes, got ${payload.length}`);
  const family = payload.readUInt8(0);
  const dstLen = payload.readUInt8(1);
  const a = AttrMap.parse(payload, 12);
  const dstRaw = a.raw(C.RTA_DST);
  const r: RouteEntry = {
    family,
    dst: dstLen === 0 && !dstRaw ? 'default' : `${dstRaw ? bytesToIp(dstRaw) : family === C.AF_INET6 ? '::' : '0.0.0.0'}/${dstLen}`,
    table: a.u32(C.RTA_TABLE) ?? payload.readUInt8(4),
    protocol: payload.readUInt8(5),
    scope: payload.readUInt8(6),
    type: payload.readUInt8(7),
    flags: payload.readUInt32LE(8),
  };
  const gw = a.raw(C.RTA_GATEWAY);
  if (gw) r.gateway = bytesToIp(gw);
  const oif = a.u32(C.RTA_OIF);
  if (oif !== undefined) r.oif = oif;
  const src = a.raw(C.RTA_PREFSRC);
  if (src) r.prefsrc = bytesToIp(src);
  const prio = a.u32(C.RTA_PRIORITY);
  if (prio !== undefined) r.priority = prio;
  const metrics = a.nested(C.RTA_METRICS);
  if (metrics) {
    const mtu = metrics.u32(C.RTAX_MTU);
    if (mtu !== undefined) r.mtu = mtu;
    const advmss = metrics.u32(C.RTAX_ADVMSS);
    if (advmss !== undefined) r.advmss = advmss;
  }
  const multipath = a.raw(C.RTA_MULTIPATH);
  if (multipath) r.nexthops = decodeNexthops(multipath);
  return r;
}

export interface RouteSpec {
  /** "192.168.0.0/16", "10.0.0.1/32", "default" (IPv4) or "default6"/"::/0" (IPv6). */
  dst: string;
  gateway?: string;
  /** Output interface index. */
  oif?: number;
  prefsrc?: string;
  /** Default: main (254). */
  table?: number;
  /** Default: static (RTPROT_STATIC=4) like `ip route add`; the kernel's is boot (3). */
  protocol?: number;
  /** Default: link scope without a gateway, universe with one. */
  scope?: number;
  /** Default: unicast. */
  type?: number;
  /** Metric. */
  priority?: number;
  /** Treat the gateway as directly reachable on oif even if no prefix covers it. */
  onlink?: boolean;
  mtu?: number;
  advmss?: number;
}

export function routeDst(dst: string, gatewayHint?: string): { family: number; bytes: Buffer | null; len: number } {
  if (dst === 'default' || dst === 'default6') {
    const v6 = dst === 'default6' || (gatewayHint !== undefined && gatewayHint.includes(':'));
    return { family: v6 ? C.AF_INET6 : C.AF_INET, bytes: null, len: 0 };
  }
  const p = dst.includes('/') ? parsePrefix(dst) : parsePrefix(`${dst}/${dst.includes(':') ? 128 : 32}`);
  return { family: p.family, bytes: p.prefixLen === 0 ? null : p.bytes, len: p.prefixLen };
}

export function encodeRoute(spec: RouteSpec, forDelete = false): { fixed: Buffer; attrs: Attr[] } {
  const d = routeDst(spec.dst, spec.gateway);
  const table = spec.table ?? C.RT_TABLE_MAIN;
  const attrs: Attr[] = [];
  if (d.bytes) attrs.push(bytes(C.RTA_DST, d.bytes));
  if (spec.gateway) {
    const g = ipToBytes(spec.gateway);
    if (g.family !== d.family) throw new TypeError(`gateway ${spec.gateway} is not of the same family as destination ${spec.dst}`);
    attrs.push(bytes(C.RTA_GATEWAY, g.bytes));
  }
  if (spec.oif !== undefined) attrs.push(u32(C.RTA_OIF, spec.oif));
  if (spec.prefsrc) attrs.push(bytes(C.RTA_PREFSRC, ipToBytes(spec.prefsrc).bytes));
  if (spec.priority !== undefined) attrs.push(u32(C.RTA_PRIORITY, spec.priority));
  if (table >= 256) attrs.push(u32(C.RTA_TABLE, table));
  const metrics: Attr[] = [];
  if (spec.mtu !== undefined) metrics.push(u32(C.RTAX_MTU, spec.mtu));
  if (spec.advmss !== undefined) metrics.push(u32(C.RTAX_ADVMSS, spec.advmss));
  if (metrics.length) attrs.push(nest(C.RTA_METRICS, metrics));
  const scope = forDelete ? (spec.scope ?? C.RT_SCOPE_NOWHERE) : (spec.scope ?? (spec.gateway ? C.RT_SCOPE_UNIVERSE : C.RT_SCOPE_LINK));
  const fixed = rtmsg({
    family: d.family,
    dstLen: d.len,
    table,
    protocol: forDelete ? (spec.protocol ?? C.RTPROT_UNSPEC) : (spec.protocol ?? C.RTPROT_STATIC),
    scope,
    type: spec.type ?? C.RTN_UNICAST,
    flags: spec.onlink ? C.RTNH_F_ONLINK : 0,
  });
  return { fixed, attrs };
}
