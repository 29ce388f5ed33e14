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
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureDir, writeFileAtomic } from '../durable.js';
import { withLock } from '../lock.js';
import { stateRoot } from '../../common/paths.js';
import { sha256Hex } from '../../common/random.js';
import { first, formatAddr, formatPrefix, last, parseCidr, type Prefix } from '../cidr.js';
import { macForAddress } from './url.js';

/** An overlay network as the store keeps it (store.ts's OverlayNetwork). */
export interface CachedNetwork {
  name: string;
  subnet: string;
  vni: number;
  port: number;
  blockPrefix: number;
}

export interface HostRecord {
  vtep: string;
  lease: string;
  routes: string[];
}

export interface Endpoint {
  network: string;
  address: string;
  host: string;
  vtep: string;
  mac: string;
  containerId: string;
  ifname: string;
}

/** What answerFromRecord needs of an acquire request (store.ts's AcquireRequest has it). */
export interface RecordRequest {
  network: { name: string; subnet?: string; vni?: number; port?: number };
  host: string;
  vtep?: string;
  containerId: string;
  ifname: string;
}

export const DEFAULT_PREFIX = '/tsnet/v1/';

/** Where hosts keep their records unless told: `<root>/cluster`. */
export const defaultCacheDir = (): string => join(stateRoot(), 'cluster');

/** What names one store (its URL and key prefix) in the records' directory. */
export const storeId = (url: string, prefix = DEFAULT_PREFIX): string => `${url}\n${prefix}`;

/**
 * The host's record of the store `url` (without loading the etcd client: a start answered from the record never
 * does).
 */
export function recordOf(opts: { url: string; prefix?: string; cacheDir?: string }, host: string): HostCache {
  return new HostCache(opts.cacheDir ?? defaultCacheDir(), storeId(opts.url, opts.prefix), host);
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
    this.dir = join(baseDir, sha256Hex(storeId).slice(0, 16));
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
      () => ensureDir(this.dir),
    );
  }
}

/**
 * The answer to an acquire from the host's record alone (no etcd), or undefined when etcd must be asked: the
 * lease is known to live, the host joined the network, and a block it holds has room (or the owner holds one).
 */
export function answerFromRecord(s: LocalState, req: RecordRequest): { network: CachedNetwork; endpoint: Endpoint } | undefined {
  const lease = s.lease;
  if (!leaseFresh(lease)) return undefined;
  if (req.vtep !== undefined && lease.vtep !== req.vtep) return undefined;
  const ln = s.networks[req.network.name];
  if (!ln) return undefined;
  const n = ln.network;
  const r = req.network;
  if (
    (r.subnet && formatPrefix(parseCidr(r.subnet).prefix) !== n.subnet) ||
    (r.vni !== undefined && r.vni !== n.vni) ||
    (r.port !== undefined && r.port !== n.port)
  )
    return undefined; // the store says what is right (and refuses a mismatch)
  if (req.vtep !== undefined && ln.joined !== lease.id) return undefined;
  const rec: HostRecord = { vtep: lease.vtep, lease: lease.id, routes: lease.routes };
  const held = heldBy(ln, req.containerId, req.ifname);
  if (held) return { network: n, endpoint: endpointOf(n.name, req.host, rec, held, req.containerId, req.ifname) };
  const addr = freeInHeld(ln, lease.id);
  if (!addr) return undefined;
  ln.addrs[addr] = { containerId: req.containerId, ifname: req.ifname };
  return { network: n, endpoint: endpointOf(n.name, req.host, rec, addr, req.containerId, req.ifname) };
}

/** A free address in a block held under `lease`, lowest block first. */
export function freeInHeld(ln: LocalNetwork, lease: string): string | undefined {
  const subnet = parseCidr(ln.network.subnet).prefix;
  const taken = new Set(Object.keys(ln.addrs));
  for (const [b, l] of Object.entries(ln.blocks).sort(([a], [b]) => compareCidr(a, b))) {
    if (l !== lease) continue;
    const a = freeIn(parseCidr(b).prefix, subnet, taken);
    if (a) return a;
  }
  return undefined;
}

/**
 * The block's resolver address: its first address (the second in the subnet's first block, whose first is the
 * subnet's own), never handed to a container. The host holding the block puts it on its overlay bridge for the
 * containers whose addresses are in the block (their nameserver): unique in the cluster, since one host holds a
 * block, and held as long as a container of the block runs.
 */
export function resolverAddress(block: Prefix, subnet: Prefix): string {
  const v = first(block) === first(subnet) ? first(block) + 1n : first(block);
  return formatAddr({ family: block.family, value: v });
}

/** The resolver address of the block of `blockPrefix` that holds `address` in `subnet`. */
export function resolverFor(address: string, subnet: string, blockPrefix: number): string {
  const sub = parseCidr(subnet).prefix;
  const block = parseCidr(`${address}/${blockPrefix}`).prefix;
  return resolverAddress(block, sub);
}

/** The lowest address of block that is not taken, not the subnet's network or broadcast address, nor the block's resolver's. */
export function freeIn(block: Prefix, subnet: Prefix, taken: Set<string>): string | undefined {
  const resolver = resolverAddress(block, subnet);
  for (let v = first(block); v <= last(block); v++) {
    if (v === first(subnet) || v === last(subnet)) continue;
    const a = formatAddr({ family: block.family, value: v });
    if (a !== resolver && !taken.has(a)) return a;
  }
  return undefined;
}

export function heldBy(ln: LocalNetwork, containerId: string, ifname: string): string | undefined {
  for (const [a, o] of Object.entries(ln.addrs)) if (o.containerId === containerId && o.ifname === ifname) return a;
  return undefined;
}

export function endpointOf(network: string, host: string, rec: HostRecord, address: string, containerId: string, ifname: string): Endpoint {
  return { network, address, host, vtep: rec.vtep, mac: macForAddress(address), containerId, ifname };
}

export function compareCidr(a: string, b: string): number {
  const x = first(parseCidr(a).prefix);
  const y = first(parseCidr(b).prefix);
  return x < y ? -1 : x > y ? 1 : 0;
}

/** The address (containerId, ifname) holds in `network` per the host's record (no etcd). */
export function lookupInRecord(rec: HostCache, network: string, host: string, containerId: string, ifname: string): Endpoint | undefined {
  const s = rec.read();
  const ln = s.networks[network];
  const held = ln && heldBy(ln, containerId, ifname);
  if (!ln || !held) return undefined;
  return endpointOf(network, host, { vtep: s.lease?.vtep ?? '', lease: s.lease?.id ?? '', routes: [] }, held, containerId, ifname);
}

/** Releases what (containerId, ifname) holds in `network` in the host's record (no etcd); false when nothing. */
export async function releaseInRecord(rec: HostCache, network: string, containerId: string, ifname: string): Promise<boolean> {
  return rec.update((s) => {
    const ln = s.networks[network];
    const held = ln && heldBy(ln, containerId, ifname);
    if (!ln || !held) return false;
    delete ln.addrs[held];
    return true;
  });
}
