// The name records the resolver answers from: one file, `<dns dir>/names.json` (default dns dir
// `<state root>/dns`, root-only), written by the tsnet-dns plugin (from the engine, tsnetd or an exec'd
// plugin) under `<dns dir>/lock`, replaced atomically (temp + rename) so the server, which reads it without
// the lock, sees the old or the new file and never a mix. What is recorded: per network, the resolver's
// addresses (the gateways the server binds) and the domain, and per attachment (container, interface) the
// container's name, its aliases and its addresses on that network. The records only live as long as the
// containers: no fsync — after a power loss the containers are gone too, and a GC or DEL removes what is left.
//
// An overlay network's names are cluster-wide: besides this host's records (`networks`, written by the plugin,
// which start and stop the resolver), `remote` holds the names of the network's containers on other hosts, as
// tsnetd's store watcher copies them from the cluster store (plugins/daemon/store-watch.ts). They are answered
// on the network's resolver here like local ones, but count for nothing in the resolver's life: a host with no
// container of its own on the network serves no resolver for it. They stay while the store is unreachable (names
// already known keep resolving) and are replaced at the next sync. Shared (not in plugins/tsnet-dns/) because
// tsnetd writes it too.
import { chmodSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stateRoot } from '../../common/paths.js';
import { withLock } from '../../ipam/lock.js';

/** The domain a network's names also answer under (`web` and `web.dns.tsnet`), and its resolv.conf search. */
export const DEFAULT_DOMAIN = 'dns.tsnet';

/** One container interface on one network. */
export interface NameEntry {
  containerId: string;
  ifname: string;
  /** The container's name (CNI_ARGS K8S_POD_NAME); may be empty when only aliases name it. */
  name: string;
  aliases: string[];
  /** Its addresses on this network, without prefix length. */
  ips: string[];
  /** The resolver addresses this container was given (absent: the network's, as in records written before). */
  resolvers?: string[];
  /** For a remote record: the host the container runs on. */
  host?: string;
}

export interface NetworkNames {
  /** Where the resolver listens for this network: its gateway addresses. */
  resolvers: string[];
  domain: string;
  entries: NameEntry[];
}

export interface NamesFile {
  /** Bumped by every change, so a reader can tell two versions apart. */
  generation: number;
  networks: Record<string, NetworkNames>;
  /** Overlay networks: the containers of other hosts, by network (tsnetd keeps them from the cluster store). */
  remote?: Record<string, NameEntry[]>;
}

export const EMPTY_NAMES: NamesFile = { generation: 0, networks: {} };

/** The DNS state directory: a config's `dataDir`, else `<state root>/dns`. */
export function dnsDir(dataDir?: string): string {
  return dataDir ? dataDir : join(stateRoot(), 'dns');
}

export function namesPath(dir: string): string {
  return join(dir, 'names.json');
}

function ensureDnsDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
}

/** The records as they are on disk; an absent file is an empty one, a damaged one is an error. */
export function readNames(dir: string): NamesFile {
  let text: string;
  try {
    text = readFileSync(namesPath(dir), 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return structuredClone(EMPTY_NAMES);
    throw e;
  }
  const parsed = JSON.parse(text) as NamesFile;
  if (typeof parsed !== 'object' || parsed === null || typeof parsed.networks !== 'object' || parsed.networks === null)
    throw new Error(`${namesPath(dir)} is not a tsnet DNS names file`);
  return parsed;
}

function writeNames(dir: string, names: NamesFile): void {
  const path = namesPath(dir);
  const tmp = `${path}.tmp-${process.pid}`;
  try {
    writeFileSync(tmp, `${JSON.stringify(names)}\n`, { mode: 0o600 });
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}

/** Every record of every network, counted. */
export function entryCount(names: NamesFile): number {
  return Object.values(names.networks).reduce((n, net) => n + net.entries.length, 0);
}

/**
 * Runs `fn` under the DNS lock with the current records; what it returns as `names` is written (when
 * `changed`), then `after` runs still under the lock (the server is told while no other writer can interleave).
 */
export async function withNames<T>(
  dir: string,
  fn: (names: NamesFile) => { changed: boolean; value: T },
  after?: (names: NamesFile, changed: boolean) => Promise<void>,
): Promise<T> {
  ensureDnsDir(dir);
  return withLock(join(dir, 'lock'), async () => {
    const names = readNames(dir);
    const { changed, value } = fn(names);
    if (changed) {
      names.generation = (names.generation ?? 0) + 1;
      writeNames(dir, names);
    }
    await after?.(names, changed);
    return value;
  });
}

/**
 * The addresses the network's resolver listens on: those of every record (an overlay network's containers may
 * have been given different ones, one per address block of this host; a bridge network's is its gateway).
 */
function resolversOf(net: NetworkNames): string[] {
  const out = new Set<string>();
  for (const e of net.entries) for (const r of e.resolvers ?? net.resolvers) out.add(r);
  return [...out];
}

/** Adds or replaces the record of (containerId, ifname) on `network`; returns whether anything changed. */
export function putEntry(names: NamesFile, network: string, meta: { resolvers: string[]; domain: string }, entry: NameEntry): boolean {
  const net = (names.networks[network] ??= { resolvers: meta.resolvers, domain: meta.domain, entries: [] });
  const before = JSON.stringify(net);
  net.domain = meta.domain;
  net.entries = net.entries.filter((e) => !(e.containerId === entry.containerId && e.ifname === entry.ifname));
  net.entries.push({ ...entry, resolvers: entry.resolvers ?? meta.resolvers });
  net.resolvers = resolversOf(net);
  return JSON.stringify(net) !== before;
}

/**
 * Replaces the remote records of every network (tsnetd's copy of the cluster store); networks not in `remote`
 * lose theirs. Returns whether anything changed.
 */
export function setRemote(names: NamesFile, remote: Record<string, NameEntry[]>): boolean {
  const keep = Object.fromEntries(Object.entries(remote).filter(([, entries]) => entries.length));
  if (JSON.stringify(names.remote ?? {}) === JSON.stringify(keep)) return false;
  if (Object.keys(keep).length) names.remote = keep;
  else delete names.remote;
  return true;
}

/** Removes the record of (containerId, ifname) on `network` (a network left without records goes too). */
export function dropEntry(names: NamesFile, network: string, containerId: string, ifname: string): boolean {
  const net = names.networks[network];
  if (!net) return false;
  const kept = net.entries.filter((e) => !(e.containerId === containerId && e.ifname === ifname));
  if (kept.length === net.entries.length) return false;
  net.entries = kept;
  if (!kept.length) delete names.networks[network];
  else net.resolvers = resolversOf(net);
  return true;
}

/** Removes the records of `network` whose attachment `keep` does not list; returns how many went. */
export function dropEntriesExcept(names: NamesFile, network: string, keep: (containerId: string, ifname: string) => boolean): number {
  const net = names.networks[network];
  if (!net) return 0;
  const kept = net.entries.filter((e) => keep(e.containerId, e.ifname));
  const gone = net.entries.length - kept.length;
  net.entries = kept;
  if (!kept.length) delete names.networks[network];
  else if (gone) net.resolvers = resolversOf(net);
  return gone;
}
