// CIDR maths for IPv4 and IPv6: parsing and formatting go through ipaddr.js (plain dotted quads directly);
// arithmetic is on bigint.
// An address is { family, value }; a prefix is always normalised to its network address.
import { IpamConfigError } from './errors.js';
import ipaddr from 'ipaddr.js';

export type Family = 4 | 6;

export interface Addr {
  readonly family: Family;
  readonly value: bigint;
}

export interface Prefix {
  readonly family: Family;
  /** The network address (host bits cleared). */
  readonly network: bigint;
  readonly length: number;
}

/** A CIDR as written: the address given (host bits may be set) and the prefix it belongs to. */
export interface ParsedCidr {
  readonly addr: Addr;
  readonly prefix: Prefix;
}

export class CidrError extends IpamConfigError {
  constructor(msg: string) {
    super(msg);
    this.name = 'CidrError';
  }
}

export function bits(family: Family): number {
  return family === 4 ? 32 : 128;
}

function maskOf(family: Family, length: number): bigint {
  const b = BigInt(bits(family));
  const all = (1n << b) - 1n;
  return all ^ ((1n << (b - BigInt(length))) - 1n);
}

function fromIpaddr(ip: ipaddr.IPv4 | ipaddr.IPv6): Addr {
  const bytes = ip.toByteArray();
  let v = 0n;
  for (const byte of bytes) v = (v << 8n) | BigInt(byte);
  return { family: ip.kind() === 'ipv4' ? 4 : 6, value: v };
}

function toIpaddr(a: Addr): ipaddr.IPv4 | ipaddr.IPv6 {
  const n = a.family === 4 ? 4 : 16;
  const bytes = new Array<number>(n);
  let v = a.value;
  for (let i = n - 1; i >= 0; i--) {
    bytes[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return ipaddr.fromByteArray(bytes);
}

/**
 * Parse an IP address. IPv4 must be dotted-quad (ipaddr.js would also take "10" or hex forms, which no
 * config means); IPv4-mapped IPv6 (::ffff:a.b.c.d) becomes IPv4, like Go's net.IP.To4 in host-local.
 */
export function parseAddr(s: string): Addr {
  const text = String(s).trim();
  const quad = parseDottedQuad(text);
  if (quad !== undefined) return { family: 4, value: BigInt(quad) };
  if (ipaddr.IPv4.isValid(text)) {
    if (!ipaddr.IPv4.isValidFourPartDecimal(text)) throw new CidrError(`"${s}" is not an IPv4 address in dotted-quad form (a.b.c.d)`);
    return fromIpaddr(ipaddr.IPv4.parse(text));
  }
  if (ipaddr.IPv6.isValid(text)) {
    const v6 = ipaddr.IPv6.parse(text);
    if (v6.zoneId) throw new CidrError(`"${s}": zone ids (%${v6.zoneId}) are not allowed in an address here`);
    return fromIpaddr(v6.isIPv4MappedAddress() ? v6.toIPv4Address() : v6);
  }
  throw new CidrError(`"${s}" is not an IPv4 or IPv6 address`);
}

// The common case without ipaddr.js (whose validation is regex-heavy: a journal replay parses thousands):
// exactly four decimal parts 0-255 without leading zeros, which ipaddr.js parses to the same value.
// Anything else, valid or not, goes the general way. Returns the address as a 32-bit number.
const DOTTED_QUAD = /^(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})$/;
function parseDottedQuad(text: string): number | undefined {
  const m = DOTTED_QUAD.exec(text);
  if (!m) return undefined;
  let v = 0;
  for (let i = 1; i <= 4; i++) {
    const part = Number(m[i]);
    if (part > 255) return undefined;
    v = v * 256 + part;
  }
  return v;
}

export function tryParseAddr(s: string): Addr | undefined {
  try {
    return parseAddr(s);
  } catch {
    return undefined;
  }
}

export function formatAddr(a: Addr): string {
  if (a.family === 4) {
    const v = Number(a.value);
    return `${v >>> 24}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`;
  }
  return toIpaddr(a).toString();
}

/** Parse "a.b.c.d/len" or "v6/len", keeping the address as written and the normalised prefix. */
export function parseCidr(s: string): ParsedCidr {
  const text = String(s).trim();
  const slash = text.lastIndexOf('/');
  if (slash < 0) throw new CidrError(`"${s}" is not in CIDR notation (address/prefix-length, e.g. 10.1.0.0/24)`);
  const addrText = text.slice(0, slash);
  const lenText = text.slice(slash + 1);
  const v6Mapped =
    parseDottedQuad(addrText) === undefined && ipaddr.IPv6.isValid(addrText) && ipaddr.IPv6.parse(addrText).isIPv4MappedAddress();
  const addr = parseAddr(addrText);
  if (!/^\d{1,3}$/.test(lenText)) throw new CidrError(`"${s}": prefix length "${lenText}" is not a number`);
  let length = Number(lenText);
  if (v6Mapped) {
    if (length < 96) throw new CidrError(`"${s}": an IPv4-mapped prefix needs a length of at least 96`);
    length -= 96;
  }
  if (length > bits(addr.family)) {
    throw new CidrError(`"${s}": prefix length ${length} is longer than ${bits(addr.family)} bits of IPv${addr.family}`);
  }
  return { addr, prefix: { family: addr.family, network: addr.value & maskOf(addr.family, length), length } };
}

/** Parse a prefix; with `strict`, host bits must be zero (host-local's "Network has host bits set"). */
export function parsePrefix(s: string, opts: { strict?: boolean } = {}): Prefix {
  const { addr, prefix } = parseCidr(s);
  if (opts.strict && addr.value !== prefix.network) {
    throw new CidrError(`"${s}" has host bits set: for a /${prefix.length} the network address is ${formatPrefix(prefix)}`);
  }
  return prefix;
}

export function formatPrefix(p: Prefix): string {
  return `${formatAddr({ family: p.family, value: p.network })}/${p.length}`;
}

/** "10.1.0.5/24" for an address inside a prefix (the form CNI results use). */
export function formatAddrInPrefix(a: Addr, p: Prefix): string {
  return `${formatAddr(a)}/${p.length}`;
}

export function makePrefix(family: Family, network: bigint, length: number): Prefix {
  return { family, network: network & maskOf(family, length), length };
}

/** Number of addresses in a prefix (2^(bits-length)). */
export function size(p: Prefix): bigint {
  return 1n << BigInt(bits(p.family) - p.length);
}

export function first(p: Prefix): bigint {
  return p.network;
}

/** Last address of the prefix: the IPv4 broadcast address, or the all-ones IPv6 address. */
export function last(p: Prefix): bigint {
  return p.network + size(p) - 1n;
}

export const networkAddress = (p: Prefix): Addr => ({ family: p.family, value: first(p) });
export const broadcastAddress = (p: Prefix): Addr => ({ family: p.family, value: last(p) });

/** The n-th address of a prefix (0 = network address; negative counts from the end, -1 = last). */
export function nth(p: Prefix, n: bigint | number): Addr {
  const i = BigInt(n);
  const idx = i < 0n ? size(p) + i : i;
  if (idx < 0n || idx >= size(p)) throw new CidrError(`${formatPrefix(p)} has no address number ${n}`);
  return { family: p.family, value: p.network + idx };
}

export function containsAddr(p: Prefix, a: Addr): boolean {
  return p.family === a.family && a.value >= first(p) && a.value <= last(p);
}

/** Does `outer` contain all of `inner`? */
export function containsPrefix(outer: Prefix, inner: Prefix): boolean {
  return outer.family === inner.family && outer.length <= inner.length && first(inner) >= first(outer) && last(inner) <= last(outer);
}

export function overlaps(a: Prefix, b: Prefix): boolean {
  return a.family === b.family && first(a) <= last(b) && first(b) <= last(a);
}

export function equalPrefix(a: Prefix, b: Prefix): boolean {
  return a.family === b.family && a.network === b.network && a.length === b.length;
}

/** Every address of a prefix, in order (lazy; a /64 is fine as long as you stop). */
export function* addresses(p: Prefix): Generator<Addr> {
  const end = last(p);
  for (let v = first(p); v <= end; v++) yield { family: p.family, value: v };
}

/** Cut `p` into sub-prefixes of `length`, in order (lazy). */
export function* subnets(p: Prefix, length: number): Generator<Prefix> {
  if (length < p.length || length > bits(p.family)) {
    throw new CidrError(`cannot cut ${formatPrefix(p)} into /${length}s`);
  }
  const step = 1n << BigInt(bits(p.family) - length);
  const end = last(p);
  for (let v = first(p); v <= end; v += step) yield { family: p.family, network: v, length };
}

/** Smallest prefix of `length` starting at or after `value` (aligned up). */
export function alignUp(family: Family, value: bigint, length: number): bigint {
  const step = 1n << BigInt(bits(family) - length);
  return ((value + step - 1n) / step) * step;
}

export function compareAddr(a: Addr, b: Addr): number {
  if (a.family !== b.family) return a.family - b.family;
  return a.value < b.value ? -1 : a.value > b.value ? 1 : 0;
}

export function sameAddr(a: Addr, b: Addr): boolean {
  return a.family === b.family && a.value === b.value;
}
