// RTM_*NEIGH: struct ndmsg (12 bytes) + NDA_* attributes.
import { Attr, AttrMap, bytes, NetlinkDecodeError } from './attrs.js';
import * as C from './constants.js';
import { bytesToIp, bytesToMac, ipToBytes, macToBytes } from './wire-values.js';

export function ndmsg(family: number, index: number, state: number, flags = 0, type = 0): Buffer {
  const b = Buffer.alloc(12);
  b.writeUInt8(family, 0);
  b.writeInt32LE(index, 4);
  b.writeUInt16LE(state, 8);
  b.writeUInt8(flags, 10);
  b.writeUInt8(type, 11);
  return b;
}

export interface Neighbour {
  family: number;
  index: number;
  ip?: string;
  mac?: string;
  state: number;
  flags: number;
}

export function decodeNeighbour(payload: Buffer): Neighbour {
  if (payload.length < 12) throw new NetlinkDecodeError(`ndmsg needs 12 bytes, got ${payload.length}`);
  const a = AttrMap.parse(payload, 12);
  const n: Neighbour = {
    family: payload.readUInt8(0),
    index: payload.readInt32LE(4),
    state: payload.readUInt16LE(8),
    flags: payload.readUInt8(10),
  };
  const dst = a.raw(C.NDA_DST);
  if (dst && (dst.length === 4 || dst.length === 16)) n.ip = bytesToIp(dst);
  const ll = a.raw(C.NDA_LLADDR);
  if (ll && ll.length === 6) n.mac = bytesToMac(ll);
  return n;
}

export interface NeighbourSpec {
  index: number;
  ip: string;
  mac: string;
  /** Default NUD_PERMANENT. */
  state?: number;
}

export function encodeNeighbour(spec: NeighbourSpec): { fixed: Buffer; attrs: Attr[] } {
  const ip = ipToBytes(spec.ip);
  return {
    fixed: ndmsg(ip.family, spec.index, spec.state ?? C.NUD_PERMANENT),
    attrs: [bytes(C.NDA_DST, ip.bytes), bytes(C.NDA_LLADDR, macToBytes(spec.mac))],
  };
}

/** A forwarding-database entry of a device (a vxlan's: MAC → remote VTEP), like `bridge fdb append MAC dev D dst IP self`. */
export interface FdbSpec {
  index: number;
  mac: string;
  /** The remote VTEP (underlay address). */
  dst: string;
}

export function encodeFdb(spec: FdbSpec): { fixed: Buffer; attrs: Attr[] } {
  const ip = ipToBytes(spec.dst);
  return {
    fixed: ndmsg(C.AF_BRIDGE, spec.index, C.NUD_PERMANENT, C.NTF_SELF),
    attrs: [bytes(C.NDA_LLADDR, macToBytes(spec.mac)), bytes(C.NDA_DST, ip.bytes)],
  };
}
