// tsnetd's store watcher (`tsnet daemon --store etcd://…`): keeps this host's lease alive and the kernel in
// step with the cluster store. Renewing the lease also records until when it is sure to live in the host's
// record (ipam/cluster/local.ts), which is what lets ADDs allocate from the host's blocks without asking etcd;
// a lease that expired meanwhile (etcd unreachable longer than its TTL) is replaced and the blocks of running
// containers claimed again. On every change under the store's prefix (a block or a host come or go, a host's
// lease expires) and every `resyncMs` besides, each overlay network that has its vxlan device here gets its FDB
// and neighbour entries synced (plugins/shared/overlay-dataplane.ts). While etcd is unreachable nothing is
// changed — the kernel keeps what it has, so running containers keep their connectivity — and the watcher says
// so once, retries, and resynchronises when etcd is back.
import { hostname } from 'node:os';
import { Netns } from '../../native/netns.js';
import type { ClusterStore, StoreTls } from '../../ipam/cluster/store.js';
import { syncFromStore } from '../shared/overlay-dataplane.js';
import { unavailable } from '../../ipam/cluster/url.js';

export interface StoreWatchOptions {
  url: string;
  tls?: StoreTls;
  /** The hosts' records (default `<root>/cluster`, as the plugins'). */
  cacheDir?: string;
  /** This host's name in the store (default: the hostname). */
  host?: string;
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
    for (const net of await store.networks()) {
      const r = await syncFromStore(host, store, net, me);
      if (r && r.added + r.removed > 0) opts.log(`overlay ${net.name}: ${r.added} entr(ies) added, ${r.removed} removed`);
    }
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
      await running;
      await watcher?.cancel().catch(() => undefined);
      store.close();
      host.close();
    },
  };
}
