// Randomness and hashing without node:crypto at start-up (loading it, with its OpenSSL bindings, ciphers and
// streams, is a measurable share of a plugin's start: bench/README.md). Random bytes come from a pool filled
// from the kernel's CSPRNG (/dev/urandom), one read per 256 bytes; SHA-256 is @noble/hashes' (audited, plain
// JavaScript, nothing to load but itself); node:crypto is loaded
// only when there is no /dev/urandom (a bare chroot). More than 256 bytes at once are read fresh, not pooled.
import { closeSync, openSync, readSync } from 'node:fs';
import { nodeCrypto } from './builtins.js';
import { sha256 } from '@noble/hashes/sha2.js';

/** SHA-256 of the UTF-8 of `text`, in hex. */
export function sha256Hex(text: string): string {
  return Buffer.from(sha256(Buffer.from(text, 'utf8'))).toString('hex');
}

/** A uniform random integer in [0, max) (max ≤ 2^32), from the pool. */
export function randomInt(max: number): number {
  const limit = Math.floor(0x100000000 / max) * max; // rejection sampling: no modulo bias
  for (;;) {
    const v = randomBytes(4).readUInt32BE(0);
    if (v < limit) return v % max;
  }
}

let pool: Buffer = Buffer.alloc(0);
let used = 0;

/** n fresh bytes from the kernel's CSPRNG (/dev/urandom), else from node:crypto. */
function fromKernel(n: number): Buffer {
  const buf = Buffer.alloc(n);
  try {
    const fd = openSync('/dev/urandom', 'r');
    try {
      let got = 0;
      while (got < n) {
        const r = readSync(fd, buf, got, n - got, null);
        if (r <= 0) break;
        got += r;
      }
      if (got === n) return buf;
    } finally {
      closeSync(fd);
    }
  } catch {
    /* no /dev/urandom (a bare chroot): node:crypto below */
  }
  return nodeCrypto().randomBytes(n);
}

/** n random bytes: up to 256 a view into the pool (copy them if they must outlive the next call), more fresh. */
export function randomBytes(n: number): Buffer {
  if (n > 256) return fromKernel(n);
  if (used + n > pool.length) {
    pool = fromKernel(256);
    used = 0;
  }
  used += n;
  return pool.subarray(used - n, used);
}

export function randomHex(bytes: number): string {
  return randomBytes(bytes).toString('hex');
}
