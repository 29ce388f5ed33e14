// Random names and addresses for links tsnet makes: host-side veth names ("veth" + 8 hex digits, as the
// reference plugins pick them) and locally administered unicast MACs.
import { closeSync, openSync, readSync } from 'node:fs';
import { nodeCrypto } from './lazy-crypto.js';

// Taken from a pool filled 256 bytes at a time from the kernel's CSPRNG (/dev/urandom: node:crypto would
// cost a plugin's start ~7 ms, see lazy-crypto.ts); one read per ~25 links.
let pool: Buffer = Buffer.alloc(0);
let used = 0;
function refill(): Buffer {
  const buf = Buffer.alloc(256);
  try {
    const fd = openSync('/dev/urandom', 'r');
    try {
      if (readSync(fd, buf, 0, buf.length, null) === buf.length) return buf;
    } finally {
      closeSync(fd);
    }
  } catch {
    /* no /dev/urandom (a bare chroot): node:crypto below */
  }
  return nodeCrypto().randomBytes(256);
}
function random(n: number): Buffer {
  if (used + n > pool.length) {
    pool = refill();
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
