// Random names and addresses for links tsnet makes: host-side veth names ("veth" + 8 hex digits, as the
// reference plugins pick them) and locally administered unicast MACs.
import { randomBytes } from 'node:crypto';

// Taken from a pool filled 256 bytes at a time: one call into the CSPRNG per ~25 links, not two per link.
let pool = Buffer.alloc(0);
let used = 0;
function random(n: number): Buffer {
  if (used + n > pool.length) {
    pool = randomBytes(256);
    used = 0;
  }
  used += n;
  return pool.subarray(used - n, used);
}

export function randomVethName(prefix = 'veth'): string {
  return `${prefix}${random(4).toString('hex')}`.slice(0, 15);
}

/** A random locally administered, unicast MAC (02:xx:…). */
export function randomMac(): string {
  const b = random(6);
  b[0] = (b[0]! & 0xfe) | 0x02;
  return [...b].map((x) => x.toString(16).padStart(2, '0')).join(':');
}
