// This host's durable record of what it holds in the cluster store, so that a container start needs no round
// trip to etcd most of the time. One JSON file per (store, host) — `<dir>/<store id>/<host>.json`, dir =
// `<root>/cluster` — replaced atomically (temp + fsync + rename) under a flock that every ADD, DEL and tsnetd
// of the host takes.
//
// Why a stale copy cannot hand out an address twice: a block is claimed in etcd under this host's lease, so while
// that lease lives no other host can claim it, and only this host allocates in it — from this file, which says
// which of the block's addresses it handed out. The file also says until when the lease is known to live: the
// time a keepalive (or a TTL query) was sent, plus the TTL etcd answered, minus a margin, on CLOCK_MONOTONIC of
// this boot (`/proc/sys/kernel/random/boot_id`). etcd cannot expire the lease before then; after it (tsnetd
// stopped renewing, etcd unreachable for longer, a reboot) the next ADD asks etcd again, and the blocks the
// lease lost are claimed again or dropped.
import { mkdirSync, readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { ensureDir, writeFileAtomic } from '../durable.js';
import { withLock } from '../lock.js';

/** An overlay network as the store keeps it (store.ts's OverlayNetwork). */
export interface CachedNetwork {
  name: string;
  subnet: string;
  vni: number;
  port: number;
  blockPrefix: number;
}

export interface LocalLease {
  id: string;
  vtep: string;
  routes: string[];
  /** boot_id of the boot `validUntilNs` is measured in. */
  boot: string;
  /** CLOCK_MONOTONIC (process.hrtime) ns, as a decimal string, before which etcd cannot have expired the lease. */
  validUntilNs: string;
}

export interface LocalNetwork {
  network: CachedNetwork;
  /** The lease under which this host's membership (its VTEP in members/) was put; absent: not joined. */
  joined?: string;
  /** Block (CIDR) → the lease it was claimed under. */
  blocks: Record<string, string>;
  /** Address → its owner, for every address this host handed out. */
  addrs: Record<string, { containerId: string; ifname: string }>;
}

export interface LocalState {
  lease?: LocalLease;
  networks: Record<string, LocalNetwork>;
}

let bootId: string | undefined;
export function currentBoot(): string {
  bootId ??= readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  return bootId;
}

export const nowNs = (): bigint => process.hrtime.bigint();

/** The lease is known to live now (same boot, before its bound). */
export function leaseFresh(l: LocalLease | undefined): l is LocalLease {
  return !!l && l.boot === currentBoot() && nowNs() < BigInt(l.validUntilNs);
}

/**
 * Until when a lease is sure to live, given that a keepalive or TTL query sent at `sentNs` was answered with
 * `ttlSeconds` left: minus a margin (a fifth of the TTL, at least 1 s) for clock rates and the time to use it.
 */
export function validUntil(sentNs: bigint, ttlSeconds: number): string {
  const margin = Math.max(1, ttlSeconds / 5);
  return String(sentNs + BigInt(Math.floor(Math.max(0, ttlSeconds - margin) * 1e9)));
}

export class HostCache {
  readonly file: string;
  private readonly dir: string;

  constructor(baseDir: string, storeId: string, host: string) {
    this.dir = join(baseDir, createHash('sha256').update(storeId).digest('hex').slice(0, 16));
    this.file = join(this.dir, `${encodeURIComponent(host)}.json`);
  }

  read(): LocalState {
    try {
      const s = JSON.parse(readFileSync(this.file, 'utf8')) as LocalState;
      return { ...s, networks: s.networks ?? {} };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { networks: {} };
      throw e;
    }
  }

  /** Runs `fn` on the state under the host's lock; what it changed is written durably before this resolves. */
  async update<T>(fn: (s: LocalState) => T | Promise<T>): Promise<T> {
    return withLock(
      `${this.file}.lock`,
      async () => {
        const s = this.read();
        const before = JSON.stringify(s);
        const r = await fn(s);
        const after = JSON.stringify(s);
        if (after !== before) await writeFileAtomic(this.file, after);
        return r;
      },
      undefined,
      () => {
        ensureDir(this.dir);
        mkdirSync(this.dir, { recursive: true });
      },
    );
  }
}
