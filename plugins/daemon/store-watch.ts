// tsnetd's store watcher (`tsnet daemon --store etcd://…`): keeps this host's lease alive and the kernel in
// step with the cluster store. Renewing the lease also records until when it is sure to live in the host's
// record (ipam/cluster/local.ts), which is what lets ADDs allocate from the host's blocks without asking etcd;
// a lease that expired meanwhile (etcd unreachable longer than its TTL) is replaced and the blocks of running
// containers claimed again. On every change under the store's prefix (a block or a host come or go, a host's
// lease expires) and every `resyncMs` besides, each overlay network that has its vxlan device here gets its FDB
// and neighbour entries synced (plugins/shared/overlay-dataplane.ts). While etcd is unreachable nothing is
// changed — the kernel keeps what it has, so running containers keep their connectivity — and the watcher says
// so once, retries, and resynchronises when etcd is back.
//
// Container names on overlay networks (tsnet-dns): the watcher publishes this host's records of each overlay
// network it uses (its resolver's names.json, written by the tsnet-dns plugin) in the store under the host's
// lease (ClusterStore.publishNames), and copies the other hosts' into names.json as remote records, which the
// resolver here answers too. It does so on every change of the store and of names.json (watched), so a name
// appears and goes on every host within a round trip or two of its container's ADD or DEL; a host that dies
// takes its names with its lease. With etcd down the remote records stay as they were (names already known
// keep resolving); the next sync, when it is back, publishes and copies what changed meanwhile.
import { mkdirSync, watch, type FSWatcher } from 'node:fs';
import { hostname } from 'node:os';
import { containsAddr, parseAddr, parseCidr } from '../../ipam/cidr.js';
import { dnsDir, readNames, setRemote, withNames, type NameEntry } from '../shared/dns-names.js';
import type { OverlayNetwork, PublishedName } from '../../ipam/cluster/store.js';
import { Netns } from '../../native/netns.js';
import type { ClusterStore, StoreTls } from '../../ipam/cluster/store.js';
import { removeOverlayResolvers, syncFromStore } from '../shared/overlay-dataplane.js';
import { resolverAddress } from '../../ipam/cluster/local.js';
import { unavailable } from '../../ipam/cluster/url.js';

export interface StoreWatchOptions {
  url: string;
  tls?: StoreTls;
  /** The hosts' records (default `<root>/cluster`, as the plugins'). */
  cacheDir?: string;
  /** This host's name in the store (default: the hostname). */
  host?: string;
  /** The DNS records of this host's containers (default `<root>/dns`, as the engine's). */
  dnsDir?: string;
  /** A full resync at least this often, ms (default 10 s); also the retry period while etcd is down. */
  resyncMs?: number;
  log(line: string): void;
}

export interface StoreWatch {
  /** Resolves after the next completed sync (tests). */
  synced(): Promise<void>;
  close(): Promise<void>;
}

export async function startStoreWatch(opts: StoreWatchOptions): Promise<StoreWatch> {
  const { ClusterStore } = await import('../../ipam/cluster/store.js');
  const store: ClusterStore = new ClusterStore({
    url: opts.url,
    ...(opts.tls ? { tls: opts.tls } : {}),
    ...(opts.cacheDir ? { cacheDir: opts.cacheDir } : {}),
  });
  const me = opts.host ?? hostname();
  const resyncMs = opts.resyncMs ?? 10_000;
  const host = Netns.current();
  let closed = false;
  let down = false;
  let running: Promise<void> | undefined;
  let again = false;
  let waiters: (() => void)[] = [];
  let watcher: { cancel(): Promise<void> } | undefined;
  let renewAt = 0;

  const sync = async (): Promise<void> => {
    if (Date.now() >= renewAt) {
      const host_ = await store.host(me);
      const r = await store.refreshHost(me);
      // a host whose containers keep their record elsewhere (another root): its lease is still kept alive
      if (!r.renewed && !r.reregistered && host_ && !store.cache(me).read().lease) await store.renewLease(host_.lease);
      if (r.reregistered) opts.log(`the lease of host ${me} had expired: registered again, its blocks claimed back`);
      for (const l of r.lost) opts.log(`block ${l} of host ${me} was taken by another host while its lease was gone`);
      if (r.released.length) opts.log(`empty block(s) given back: ${r.released.join(', ')}`);
      const lease = host_?.lease ?? store.cache(me).read().lease?.id;
      const ttl = lease
        ? await store.client.leaseClient.leaseTimeToLive({ ID: lease }).catch(() => ({ grantedTTL: '30' }))
        : { grantedTTL: '30' };
      renewAt = Date.now() + Math.min(10_000, Math.max(500, (Number(ttl.grantedTTL) * 1000) / 3));
    }
    const nets = await store.networks();
    for (const net of nets) {
      const r = await syncFromStore(host, store, net, me);
      if (r && r.added + r.removed > 0) opts.log(`overlay ${net.name}: ${r.added} entr(ies) added, ${r.removed} removed`);
    }
    await syncResolvers(nets);
    await syncNames(nets);
  };

  // the resolver addresses of blocks this host no longer holds leave its bridges (under the host's lock: an ADD
  // claims a block before it puts the block's resolver address on the bridge)
  const syncResolvers = async (nets: OverlayNetwork[]): Promise<void> => {
    if (!Object.keys(store.cache(me).read().networks).length) return;
    await store.cache(me).update(async (s) => {
      for (const net of nets) {
        const ln = s.networks[net.name];
        if (!ln) continue;
        const sub = parseCidr(net.subnet).prefix;
        const keep = new Set(Object.keys(ln.blocks).map((b) => resolverAddress(parseCidr(b).prefix, sub)));
        const gone = await removeOverlayResolvers(host, net, keep);
        if (gone.length) opts.log(`overlay ${net.name}: resolver address(es) ${gone.join(', ')} removed (their blocks were given back)`);
      }
    });
  };

  const names = opts.dnsDir ?? dnsDir();
  mkdirSync(names, { recursive: true, mode: 0o700 });
  const syncNames = async (nets: OverlayNetwork[]): Promise<void> => {
    let local;
    try {
      local = readNames(names);
    } catch (e) {
      opts.log(`DNS records ${names}: ${(e as Error).message}; names not synced`);
      return;
    }
    const rec = store.cache(me).read();
    const remote: Record<string, NameEntry[]> = {};
    for (const net of nets) {
      if (!rec.networks[net.name]) continue; // a network this host does not use
      const sub = parseCidr(net.subnet).prefix;
      const inNet = (ip: string): boolean => {
        try {
          return containsAddr(sub, parseAddr(ip));
        } catch {
          return false;
        }
      };
      const mine: PublishedName[] = (local.networks[net.name]?.entries ?? [])
        .map((e) => ({ containerId: e.containerId, ifname: e.ifname, name: e.name, aliases: e.aliases, ips: e.ips.filter(inNet) }))
        .filter((e) => e.ips.length);
      const all = await store.names(net.name);
      const lease = rec.lease?.id;
      if (lease && JSON.stringify(all.get(me) ?? []) !== JSON.stringify(mine)) {
        await store.publishNames(net.name, me, lease, mine);
        opts.log(`overlay ${net.name}: ${mine.length} name record(s) of host ${me} published`);
      }
      remote[net.name] = [...all]
        .filter(([h]) => h !== me)
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .flatMap(([h, list]) => list.map((e) => ({ ...e, host: h })));
    }
    if (!setRemote(structuredClone(local), remote)) return; // nothing new: no write, no lock
    await withNames(names, (n) => ({ changed: setRemote(n, remote), value: undefined }));
  };

  const kick = (): Promise<void> => {
    if (closed) return Promise.resolve();
    if (running) {
      again = true;
      return running;
    }
    running = (async () => {
      do {
        again = false;
        try {
          if (!watcher) await openWatch();
          await sync();
          if (down) opts.log(`store ${opts.url} is back: resynchronised`);
          down = false;
        } catch (e) {
          if (!down) opts.log(`store: ${(e as Error).message}; the kernel keeps its entries, retrying every ${resyncMs} ms`);
          down = true;
          if (watcher) {
            await watcher.cancel().catch(() => undefined);
            watcher = undefined;
          }
        }
      } while (again && !closed);
      running = undefined;
      const w = waiters;
      waiters = [];
      for (const f of w) f();
    })();
    return running;
  };

  const openWatch = async (): Promise<void> => {
    watcher = await store.watch(
      () => void kick(),
      (e) => {
        opts.log(`store watch: ${e.message}`);
        void kick();
      },
      {
        // etcd gone: said once; the kernel keeps its entries. Back: a full resync (kick logs that it is back).
        disconnected: (e) => {
          if (!down) opts.log(`store: ${unavailable(opts.url, e).message}; the kernel keeps its entries, retrying`);
          down = true;
        },
        connected: () => void kick(),
      },
    );
  };

  // this host's records changed (a container's ADD or DEL): publish them now
  let dnsWatch: FSWatcher | undefined;
  try {
    dnsWatch = watch(names, (_ev, file) => {
      if (file === 'names.json') void kick();
    });
    dnsWatch.on('error', (e) => opts.log(`watching ${names}: ${e.message}`));
  } catch (e) {
    opts.log(`cannot watch ${names} (${(e as Error).message}): names are published every ${resyncMs} ms`);
  }

  let last = 0;
  const tick = setInterval(
    () => {
      if (Date.now() - last >= resyncMs || down || Date.now() >= renewAt) {
        last = Date.now();
        void kick();
      }
    },
    Math.min(resyncMs, 500),
  );
  await kick();
  opts.log(`watching ${opts.url} as host ${me}`);
  return {
    synced: () => new Promise<void>((res) => waiters.push(res)),
    async close() {
      closed = true;
      clearInterval(tick);
      dnsWatch?.close();
      await running;
      await watcher?.cancel().catch(() => undefined);
      store.close();
      host.close();
    },
  };
}
