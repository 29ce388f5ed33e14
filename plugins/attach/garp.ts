// Gratuitous ARP: announces "IP is at MAC" on an interface inside a netns, so neighbours on other hosts of
// the same L2 update their caches at once (pipework sends one with arping; arp_notify covers link-up).
import { closeSync } from 'node:fs';
import { native } from '../../native/addon.js';
import { parseAddr } from '../../ipam/cidr.js';

const AF_PACKET = 17;
const SOCK_DGRAM = 2;
const ETH_P_ARP = 0x0806;
const BROADCAST = Buffer.from('ffffffffffff', 'hex');

export function arpFrame(mac: string, ip: string): Buffer {
  const b = Buffer.alloc(28);
  b.writeUInt16BE(1, 0); // Ethernet
  b.writeUInt16BE(0x0800, 2); // IPv4
  b.writeUInt8(6, 4);
  b.writeUInt8(4, 5);
  b.writeUInt16BE(1, 6); // request (the form most stacks accept as an announcement)
  const macBytes = Buffer.from(mac.replace(/:/g, ''), 'hex');
  const ipBytes = Buffer.alloc(4);
  ipBytes.writeUInt32BE(Number(parseAddr(ip).value));
  macBytes.copy(b, 8);
  ipBytes.copy(b, 14);
  ipBytes.copy(b, 24); // target IP = sender IP, target MAC zero
  return b;
}

/** Sends `count` gratuitous ARPs for ip (IPv4 only); best effort, returns whether any left. */
export function sendGratuitousArp(nsPath: string | null, ifindex: number, mac: string, ip: string, count = 2): boolean {
  if (ip.includes(':')) return false;
  const n = native();
  let fd = -1;
  try {
    fd = n.socketAt(nsPath, AF_PACKET, SOCK_DGRAM, 0);
    const frame = arpFrame(mac, ip);
    let sent = false;
    for (let i = 0; i < count; i++) sent = n.packetSend(fd, ifindex, ETH_P_ARP, BROADCAST, frame) > 0 || sent;
    return sent;
  } catch {
    return false;
  } finally {
    if (fd >= 0) closeSync(fd);
  }
}
