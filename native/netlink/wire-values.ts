// Conversions between the strings users write (10.0.0.1, fe80::1, 02:42:ac:11:00:02, 10.0.0.0/24) and the
// bytes netlink carries.
import ipaddr from 'ipaddr.js';
import { AF_INET, AF_INET6 } from './constants.js';

export interface IpBytes {
  family: typeof AF_INET | typeof AF_INET6;
  bytes: Buffer;
}

export function ipToBytes(ip: string): IpBytes {
  if (!ipaddr.isValid(ip)) throw new TypeError(`'${ip}' is not an IP address`);
  const a = ipaddr.parse(ip);
  return { family: a.kind() === 'ipv4' ? AF_INET : AF_INET6, bytes: Buffer.from(a.toByteArray()) };
}

export function bytesToIp(b: Buffer): string {
  if (b.length !== 4 && b.length !== 16) throw new TypeError(`an IP address has 4 or 16 bytes, not ${b.length}`);
  return ipaddr.fromByteArray([...b]).toString();
}

export interface Prefix {
  family: typeof AF_INET | typeof AF_INET6;
  bytes: Buffer;
  address: string;
  prefixLen: number;
}

/** Parses "ADDR/LEN" (LEN required). */
export function parsePrefix(cidr: string): Prefix {
  const slash = cidr.indexOf('/');
  if (slash < 0) throw new TypeError(`'${cidr}' has no prefix length (write it as ADDRESS/LENGTH, e.g. 10.0.0.5/24)`);
  const addr = cidr.slice(0, slash);
  const lenStr = cidr.slice(slash + 1);
  const { family, bytes } = ipToBytes(addr);
  const max = family === AF_INET ? 32 : 128;
  if (!/^\d{1,3}$/.test(lenStr) || Number(lenStr) > max) throw new TypeError(`'${cidr}': prefix length must be 0–${max}`);
  return { family, bytes, address: bytesToIp(bytes), prefixLen: Number(lenStr) };
}

export function macToBytes(mac: string): Buffer {
  if (!/^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/.test(mac))
    throw new TypeError(`'${mac}' is not a MAC address (write it as 02:42:ac:11:00:02)`);
  return Buffer.from(mac.split(':').map((h) => parseInt(h, 16)));
}

export function bytesToMac(b: Buffer): string {
  return [...b].map((x) => x.toString(16).padStart(2, '0')).join(':');
}
