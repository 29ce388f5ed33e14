// RTM_*ADDR: struct ifaddrmsg (8 bytes) + IFA_* attributes.
import { Attr, AttrMap, bytes, str, u32, NetlinkDecodeError } from './attrs.js';
import * as C from './constants.js';
import { bytesToIp, parsePrefix } from './wire-values.js';

export function ifaddrmsg(family: number, prefixLen: number, flags: number, scope: number, index: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeUInt8(family, 0);
  b.writeUInt8(prefixLen, 1);
  b.writeUInt8(flags & 0xff, 2);
  b.writeUInt8(scope, 3);
  b.writeUInt32LE(index, 4);
  return b;
}

/** An address as the kernel reports it. */
export interface Address {
  index: number;
  family: number;
  /** "10.0.0.5" */
  address: string;
  prefixLen: number;
  /** "10.0.0.5/24" */
  cidr: string;
  /** IFA_ADDRESS: for point-to-point links the peer; otherwise equal to address. */
  peer?: string;
  broadcast?: string;
  label?: string;
  scope: number;
  flags: number;
}

export function decodeAddress(payload: Buffer): Address {
  if (payload.length < 8) throw new NetlinkDecodeError(`ifaddrmsg needs 8 bytes, got ${payload.length}`);
  const family = payload.readUInt8(0);
  const prefixLen = payload.readUInt8(1);
  const scope = payload.readUInt8(3);
  const index = payload.readUInt32LE(4);
  const a = AttrMap.parse(payload, 8);
  const local = a.raw(C.IFA_LOCAL);
  const addr = a.raw(C.IFA_ADDRESS);
  const main = local ?? addr;
  if (!main) throw new NetlinkDecodeError('address message without IFA_LOCAL or IFA_ADDRESS');
  const address = bytesToIp(main);
  const out: Address = {
    index,
    family,
    address,
    prefixLen,
    cidr: `${address}/${prefixLen}`,
    scope,
    flags: a.u32(C.IFA_FLAGS) ?? payload.readUInt8(2),
  };
  if (addr && local && !addr.equals(local)) out.peer = bytesToIp(addr);
  const brd = a.raw(C.IFA_BROADCAST);
  if (brd) out.broadcast = bytesToIp(brd);
  const label = a.str(C.IFA_LABEL);
  if (label) out.label = label;
  return out;
}

export interface AddressSpec {
  index: number;
  /** "10.0.0.5/24" or "fd00::5/64" */
  cidr: string;
  /** IPv4 broadcast; default: computed from the prefix (as `ip addr add … brd +`), none for /31 and /32. */
  broadcast?: string | null;
  label?: string;
  scope?: number;
  /** Skip duplicate address detection (IPv6). */
  noDad?: boolean;
  /** Do not add the prefix route the kernel adds for the subnet. */
  noPrefixRoute?: boolean;
  /** Valid lifetime in seconds (IFA_CACHEINFO; a DHCP lease's time): the kernel removes the address when it runs out. Default forever. */
  validLft?: number;
  /** Preferred lifetime in seconds (default: validLft). */
  preferredLft?: number;
}

function ipv4Broadcast(bytesIn: Buffer, prefixLen: number): Buffer {
  const v = bytesIn.readUInt32BE(0);
  const mask = prefixLen === 0 ? 0 : (0xffffffff << (32 - prefixLen)) >>> 0;
  const b = Buffer.alloc(4);
  b.writeUInt32BE(((v & mask) | (~mask >>> 0)) >>> 0);
  return b;
}

export function encodeAddress(spec: AddressSpec): { fixed: Buffer; attrs: Attr[] } {
  const p = parsePrefix(spec.cidr);
  let flags = 0;
  if (spec.noDad) flags |= C.IFA_F_NODAD;
  if (spec.noPrefixRoute) flags |= C.IFA_F_NOPREFIXROUTE;
  const attrs: Attr[] = [bytes(C.IFA_LOCAL, p.bytes), bytes(C.IFA_ADDRESS, p.bytes)];
  if (p.family === C.AF_INET) {
    if (spec.broadcast) attrs.push(bytes(C.IFA_BROADCAST, parsePrefix(`${spec.broadcast}/32`).bytes));
    else if (spec.broadcast === undefined && p.prefixLen < 31) attrs.push(bytes(C.IFA_BROADCAST, ipv4Broadcast(p.bytes, p.prefixLen)));
  }
  if (spec.label) attrs.push(str(C.IFA_LABEL, spec.label));
  if (flags) attrs.push(u32(C.IFA_FLAGS, flags));
  if (spec.validLft !== undefined) {
    // struct ifa_cacheinfo { ifa_prefered, ifa_valid, cstamp, tstamp } (the kernel ignores the stamps)
    const ci = Buffer.alloc(16);
    const valid = Math.min(Math.max(0, Math.floor(spec.validLft)), 0xffffffff);
    ci.writeUInt32LE(Math.min(Math.max(0, Math.floor(spec.preferredLft ?? valid)), valid), 0);
    ci.writeUInt32LE(valid, 4);
    attrs.push(bytes(C.IFA_CACHEINFO, ci));
  }
  return { fixed: ifaddrmsg(p.family, p.prefixLen, flags, spec.scope ?? C.RT_SCOPE_UNIVERSE, spec.index), attrs };
}
