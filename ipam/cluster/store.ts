// The cluster store: overlay networks, hosts (VTEPs) and address blocks kept in etcd, so that an address is
// unique across every host of a network. Every write that could race another host's is an etcd transaction
// (compare create-revision / value, then put); nothing in etcd is locked.
//
// Keys (under `prefix`, default "/tsnet/v1/"):
//   networks/<net>              {subnet, vni, port, blockPrefix}                     no lease: the network outlives hosts
//   hosts/<host>                {vtep, lease, routes}                                the host's lease
//   members/<net>/<host>        {vtep}                                               the host's lease
//   blocks/<net>/<base>_<len>   {host, lease}                                        the host's lease
//   names/<net>/<host>          [{containerId, ifname, name, aliases, ips}]          the host's lease
// Blocks (like Calico's IPAM): a host claims a /blockPrefix of the subnet, and only that host hands out its
// addresses, recording them durably on its own disk (./local.ts) — so a container start needs etcd only to
// claim a block, to join, or when the host's lease is not known to live; only a block claim contends with other
// hosts. Remote hosts program a block's addresses as a whole (its MACs follow from its addresses). Everything a
// host holds is tied to its lease: when the host dies (its daemon stops renewing), etcd deletes it all after the
// lease's TTL, and `reclaimHost` revokes it at once. Container names (DNS on the overlay) are published by each
// host's tsnetd from its resolver's records, one key per network and host, and go with the host's lease too.
import { Etcd3, GRPCDeadlineExceededError, GRPCUnavailableError, isRecoverableError, type IOptions, type Lease, type Watcher } from 'etcd3';
import { noop } from 'cockatiel';
import { readFileSync } from 'node:fs';
import { CniCode, TsnetError } from '../../common/errors.js';
import { ClusterStoreError, STORE_UNAVAILABLE, unavailable, parseStoreUrl } from './url.js';
export { ClusterStoreError, STORE_UNAVAILABLE, unavailable, parseStoreUrl, macForAddress } from './url.js';
import { IpamErrorCode } from '../errors.js';
import { containsAddr, formatPrefix, overlaps, parseAddr, parseCidr, subnets } from '../cidr.js';
import { pickSubnet, type Occupied } from '../picker.js';
import type { PoolSpec } from '../pools.js';
import {
  DEFAULT_PREFIX,
  HostCache,
  answerFromRecord,
  compareCidr,
  currentBoot,
  defaultCacheDir,
  endpointOf,
  freeIn,
  freeInHeld,
  heldBy,
  lookupInRecord,
  nowNs,
  releaseInRecord,
  storeId,
  validUntil,
  type Endpoint,
  type HostRecord,
  type LocalNetwork,
  type LocalState,
} from './local.js';
export type { Endpoint, HostRecord } from './local.js';

export interface StoreTls {
  /** PEM files. */
  ca?: string;
  cert?: string;
  key?: string;
}

export interface ClusterStoreOptions {
  /** `etcd://HOST:PORT[,HOST:PORT…]` (or `etcds://` for TLS; http(s):// endpoints are taken as they are). */
  url: string;
  tls?: StoreTls;
  /**
   * Deadline of one call, ms (default $TSNET_STORE_TIMEOUT_MS, else 10 s): a store that refuses connections fails at
   * once; one that does not answer (a host gone, a partition) fails after this.
   */
  timeoutMs?: number;
  prefix?: string;
  /** Where hosts keep their record of their lease, blocks and addresses (default `<root>/cluster`). */
  cacheDir?: string;
}

export interface OverlayNetwork {
  name: string;
  subnet: string;
  vni: number;
  port: number;
  blockPrefix: number;
}

export interface NetworkRequest {
  name: string;
  subnet?: string;
  vni?: number;
  port?: number;
  blockPrefix?: number;
  /** Pools for a picked subnet (default: 10.0.0.0/8 cut into /16s… see DEFAULT_OVERLAY_POOLS). */
  pools?: readonly PoolSpec[];
  prefixLength?: number;
  /** The calling host's own usage (routes, addresses), added to what every registered host published. */
  occupied?: readonly Occupied[];
}

export interface Member {
  host: string;
  vtep: string;
}

export interface BlockHolder {
  /** CIDR */
  block: string;
  host: string;
  lease?: string;
}

/** A container's name on an overlay network, as its host publishes it. */
export interface PublishedName {
  containerId: string;
  ifname: string;
  name: string;
  aliases: string[];
  ips: string[];
}

export interface AcquireRequest {
  /** The network to create or join (name; subnet, vni, port compared with the stored ones; occupied for a pick). */
  network: NetworkRequest;
  host: string;
  /** An overlay host's VTEP (it joins the network's members); absent: addresses only (tsnet-ipam with a store). */
  vtep?: string;
  /** The host's routes, published for cluster-wide subnet picks. */
  routes?: string[];
  /** Seconds (default 60). */
  leaseTtl?: number;
  containerId: string;
  ifname: string;
}

export interface Acquired {
  network: OverlayNetwork;
  endpoint: Endpoint;
  /** Answered from the host's own record, without asking etcd. */
  fromCache: boolean;
}

/** Overlay networks take a /16 of 10.0.0.0/8 unless told otherwise: room for many hosts' blocks. */
export const DEFAULT_OVERLAY_POOLS: readonly PoolSpec[] = Object.freeze([{ base: '10.128.0.0/9', size: 16 }]);
export const DEFAULT_VNI_BASE = 4096;
export const DEFAULT_BLOCK_PREFIX = 26;
export const DEFAULT_LEASE_TTL = 60;

export class ClusterStore {
  readonly url: string;
  readonly client: Etcd3;
  private readonly prefix: string;
  private readonly timeoutMs: number;
  private readonly cacheDir: string;

  constructor(opts: ClusterStoreOptions) {
    this.url = opts.url;
    this.prefix = opts.prefix ?? DEFAULT_PREFIX;
    this.cacheDir = opts.cacheDir ?? defaultCacheDir();
    this.timeoutMs =
      opts.timeoutMs ?? (Number(process.env.TSNET_STORE_TIMEOUT_MS) > 0 ? Number(process.env.TSNET_STORE_TIMEOUT_MS) : 10_000);
    const { hosts, tls } = parseStoreUrl(opts.url);
    const o: IOptions = {
      hosts,
      dialTimeout: this.timeoutMs,
      defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + this.timeoutMs }),
      // Fail fast and let the caller say so; the daemon retries on its own schedule.
      faultHandling: { host: () => noop, global: noop },
    };
    if (tls || opts.tls?.ca || opts.tls?.cert) {
      const read = (p: string | undefined, what: string): Buffer | undefined => {
        if (!p) return undefined;
        try {
          return readFileSync(p);
        } catch (e) {
          throw new ClusterStoreError(`TLS ${what} ${p}`, `cannot be read: ${(e as Error).message}`, 'give a readable PEM file', {
            cniCode: CniCode.InvalidNetworkConfig,
            exitCode: 2,
          });
        }
      };
      const ca = read(opts.tls?.ca, 'CA');
      const cert = read(opts.tls?.cert, 'certificate');
      const key = read(opts.tls?.key, 'key');
      o.credentials = { rootCertificate: ca ?? Buffer.alloc(0), ...(cert ? { certChain: cert } : {}), ...(key ? { privateKey: key } : {}) };
      if (!ca) delete (o.credentials as { rootCertificate?: Buffer }).rootCertificate;
    }
    this.client = new Etcd3(o);
  }

  close(): void {
    this.client.close();
  }

  key(...parts: string[]): string {
    return this.prefix + parts.join('/');
  }

  /** Runs one store call; any failure to reach etcd becomes a ClusterStoreError naming the store. */
  async call<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      if (e instanceof TsnetError) throw e;
      if (e instanceof GRPCUnavailableError || e instanceof GRPCDeadlineExceededError || isRecoverableError(e as Error))
        throw unavailable(this.url, e);
      throw new ClusterStoreError(
        `cluster store ${this.url}`,
        `refused the request: ${(e as Error).message.split('\n')[0]}`,
        "try again; if it persists, check etcd's log",
        {
          cniCode: CniCode.Internal,
          cause: e,
        },
      );
    }
  }

  // ---- networks

  async getNetwork(name: string): Promise<OverlayNetwork | undefined> {
    const v = await this.call(() => this.client.get(this.key('networks', name)).string());
    return v ? ({ name, ...JSON.parse(v) } as OverlayNetwork) : undefined;
  }

  async networks(): Promise<OverlayNetwork[]> {
    const all = await this.call(() => this.client.getAll().prefix(this.key('networks', '')).strings());
    return Object.entries(all).map(([k, v]) => ({ name: k.slice(this.key('networks', '').length), ...JSON.parse(v) }) as OverlayNetwork);
  }

  /**
   * Creates the network, or joins it when it exists: the parameters given must match the stored ones (a
   * mismatch is refused, naming the stored values). Without a subnet, a free one is picked cluster-wide.
   */
  async ensureNetwork(req: NetworkRequest): Promise<{ network: OverlayNetwork; created: boolean }> {
    for (let attempt = 0; attempt < 5; attempt++) {
      // one listing (one round trip) answers both: the network itself to join, or the others a new one must avoid
      const others = await this.networks();
      const existing = others.find((n) => n.name === req.name);
      if (existing) {
        this.checkSame(existing, req);
        return { network: existing, created: false };
      }
      const subnet = req.subnet ? formatPrefix(parseCidr(req.subnet).prefix) : await this.pickSubnet(req, others);
      const sub = parseCidr(subnet).prefix;
      for (const n of others) {
        if (overlaps(parseCidr(n.subnet).prefix, sub)) {
          throw new ClusterStoreError(
            `overlay network "${req.name}"`,
            `subnet ${subnet} overlaps overlay network "${n.name}" (${n.subnet}) in ${this.url}`,
            'pick another --subnet, or leave it out to have a free one picked',
            { cniCode: CniCode.InvalidNetworkConfig, exitCode: 1 },
          );
        }
      }
      const vni = req.vni ?? this.freeVni(others);
      const dup = others.find((n) => n.vni === vni);
      if (dup) {
        throw new ClusterStoreError(
          `overlay network "${req.name}"`,
          `VNI ${vni} is taken by overlay network "${dup.name}"`,
          'pick another --vni',
          {
            cniCode: CniCode.InvalidNetworkConfig,
            exitCode: 1,
          },
        );
      }
      const blockPrefix = req.blockPrefix ?? Math.max(DEFAULT_BLOCK_PREFIX, Math.min(sub.length + 2, 30));
      const network: OverlayNetwork = { name: req.name, subnet, vni, port: req.port ?? 4789, blockPrefix };
      const k = this.key('networks', req.name);
      const { name: _n, ...body } = network;
      void _n;
      const r = await this.call(() =>
        this.client
          .if(k, 'Create', '==', 0)
          .then(this.client.put(k).value(JSON.stringify(body)))
          .commit(),
      );
      if (r.succeeded) return { network, created: true };
      // another host created it at the same time: join (and compare) on the next round
    }
    throw new ClusterStoreError(`overlay network "${req.name}"`, 'kept changing in the store while being created', 'try again');
  }

  private checkSame(stored: OverlayNetwork, req: NetworkRequest): void {
    const diffs: string[] = [];
    if (req.subnet && formatPrefix(parseCidr(req.subnet).prefix) !== stored.subnet)
      diffs.push(`subnet ${stored.subnet} (asked ${req.subnet})`);
    if (req.vni !== undefined && req.vni !== stored.vni) diffs.push(`VNI ${stored.vni} (asked ${req.vni})`);
    if (req.port !== undefined && req.port !== stored.port) diffs.push(`port ${stored.port} (asked ${req.port})`);
    if (diffs.length) {
      throw new ClusterStoreError(
        `overlay network "${stored.name}"`,
        `exists in ${this.url} with other parameters: ${diffs.join(', ')}`,
        `join it with the stored values (--subnet ${stored.subnet} --vni ${stored.vni}), or leave them out`,
        { cniCode: CniCode.InvalidNetworkConfig, exitCode: 1 },
      );
    }
  }

  private freeVni(others: OverlayNetwork[]): number {
    const used = new Set(others.map((n) => n.vni));
    let v = DEFAULT_VNI_BASE;
    while (used.has(v)) v++;
    return v;
  }

  /** A subnet overlapping no overlay network and nothing any registered host (or the caller) uses. */
  private async pickSubnet(req: NetworkRequest, others: OverlayNetwork[]): Promise<string> {
    const hosts = await this.hosts();
    const occupied: Occupied[] = [...(req.occupied ?? [])];
    for (const [h, rec] of hosts) for (const r of rec.routes ?? []) occupied.push({ prefix: r, what: `route ${r} on host ${h}` });
    for (const n of others) occupied.push({ prefix: n.subnet, what: `overlay network ${n.name}` });
    return pickSubnet({
      pools: req.pools ?? DEFAULT_OVERLAY_POOLS,
      occupied,
      ...(req.prefixLength !== undefined ? { prefixLength: req.prefixLength } : {}),
    }).cidr;
  }

  /**
   * Removes the network from the store. Refused while a host holds blocks of it (members with containers, or
   * hosts that did not leave), unless `force` — their blocks and membership go too.
   */
  async removeNetwork(name: string, opts: { force?: boolean } = {}): Promise<void> {
    const still = await this.users(name);
    if (still.length && !opts.force) {
      throw new ClusterStoreError(
        `overlay network "${name}"`,
        `is still used by host(s) ${still.join(', ')} in ${this.url}`,
        `run 'tsnet network rm ${name}' on those hosts first`,
        {
          exitCode: 1,
        },
      );
    }
    await this.call(async () => {
      await this.client.delete().key(this.key('networks', name));
      await this.client.delete().prefix(this.key('members', name, ''));
      await this.client.delete().prefix(this.key('blocks', name, ''));
      await this.client.delete().prefix(this.key('names', name, ''));
    });
  }

  /** The hosts that use the network: its members and the holders of its blocks. */
  async users(name: string): Promise<string[]> {
    const [blocks, members] = await Promise.all([this.blocks(name), this.members(name)]);
    return [...new Set([...blocks.map((b) => b.host), ...members.map((m) => m.host)])].sort();
  }

  // ---- hosts and their leases

  async hosts(): Promise<Map<string, HostRecord>> {
    const all = await this.call(() => this.client.getAll().prefix(this.key('hosts', '')).strings());
    return new Map(Object.entries(all).map(([k, v]) => [k.slice(this.key('hosts', '').length), JSON.parse(v) as HostRecord]));
  }

  async host(host: string): Promise<HostRecord | undefined> {
    const v = await this.call(() => this.client.get(this.key('hosts', host)).string());
    return v ? (JSON.parse(v) as HostRecord) : undefined;
  }

  /**
   * The host's record and lease: the live one if there is one (renewed once), else a new lease of `ttl`
   * seconds with the record put under it. The host's daemon keeps the lease alive (keepHostAlive).
   */
  async ensureHost(host: string, vtep: string, routes: string[], ttl = DEFAULT_LEASE_TTL): Promise<HostRecord> {
    return (await this.registerHost(host, vtep, routes, ttl)).rec;
  }

  /**
   * ensureHost, and until when the lease is sure to live (see local.ts). `vtep`/`routes` undefined: the live
   * record's are kept (a host that only takes addresses).
   */
  async registerHost(
    host: string,
    vtep: string | undefined,
    routes: string[] | undefined,
    ttl = DEFAULT_LEASE_TTL,
  ): Promise<{ rec: HostRecord; validUntilNs: string }> {
    return this.call(async () => {
      const sent = nowNs();
      const cur = await this.host(host);
      if (cur) {
        const left = await this.client.leaseClient.leaseTimeToLive({ ID: cur.lease });
        if (Number(left.TTL) > 0) {
          const until = validUntil(sent, Number(left.TTL));
          const want = { ...cur, vtep: vtep ?? cur.vtep, routes: routes ?? cur.routes };
          if (cur.vtep !== want.vtep || JSON.stringify(cur.routes) !== JSON.stringify(want.routes)) {
            await this.client.put(this.key('hosts', host)).value(JSON.stringify(want)).lease(cur.lease);
            return { rec: want, validUntilNs: until };
          }
          return { rec: cur, validUntilNs: until };
        }
      }
      // concurrent ADDs on a host that has no live lease: one registers it, the others use the winner's
      const granted = await this.client.leaseClient.leaseGrant({ TTL: ttl });
      const rec: HostRecord = { vtep: vtep ?? '', lease: String(granted.ID), routes: routes ?? [] };
      const hk = this.key('hosts', host);
      const put = this.client.put(hk).value(JSON.stringify(rec)).lease(rec.lease);
      const r = cur
        ? await this.client.if(hk, 'Value', '==', JSON.stringify(cur)).then(put).commit()
        : await this.client.if(hk, 'Create', '==', 0).then(put).commit();
      if (r.succeeded) return { rec, validUntilNs: validUntil(sent, Number(granted.TTL)) };
      await this.client.leaseClient.leaseRevoke({ ID: rec.lease }).catch(() => undefined);
      const won = await this.host(host);
      if (!won)
        throw new ClusterStoreError(`host ${host}`, 'its registration in the store vanished while being made', 'try again', {
          cniCode: STORE_UNAVAILABLE,
        });
      const left = await this.client.leaseClient.leaseTimeToLive({ ID: won.lease });
      return { rec: won, validUntilNs: validUntil(sent, Math.max(0, Number(left.TTL))) };
    });
  }

  /** Renews the host's lease once; false when it has expired (everything the host held is gone). */
  async renewLease(lease: string): Promise<boolean> {
    return (await this.renewLeaseTtl(lease)) > 0;
  }

  /** Renews the lease once; the seconds it has left now (0: it had expired). */
  async renewLeaseTtl(lease: string): Promise<number> {
    return this.call(async () => {
      const stream = await this.client.leaseClient.leaseKeepAlive();
      try {
        const answer = new Promise<number>((resolve, reject) => {
          stream.on('data', (r: { TTL: string }) => resolve(Math.max(0, Number(r.TTL))));
          stream.on('error', reject);
          setTimeout(() => reject(new Error(`no keepalive answer in ${this.timeoutMs} ms`)), this.timeoutMs).unref();
        });
        stream.write({ ID: lease });
        return await answer;
      } finally {
        stream.end();
      }
    });
  }

  /** GC on request: revokes a (dead) host's lease now, so its blocks, addresses and membership go at once. */
  async reclaimHost(host: string): Promise<boolean> {
    const rec = await this.host(host);
    if (!rec) return false;
    await this.call(() => this.client.leaseClient.leaseRevoke({ ID: rec.lease }));
    return true;
  }

  /** The keys under `<kind>/<network>/` (their last part: a host, a block) with their values. */
  private async listUnder(kind: 'members' | 'names' | 'blocks', network: string): Promise<[string, string][]> {
    const prefix = this.key(kind, network, '');
    const all = await this.call(() => this.client.getAll().prefix(prefix).strings());
    return Object.entries(all).map(([k, v]) => [k.slice(prefix.length), v]);
  }

  // ---- membership (the VTEPs of a network)

  async join(network: string, host: string, rec: HostRecord): Promise<void> {
    const k = this.key('members', network, host);
    await this.call(async () => {
      await this.client
        .put(k)
        .value(JSON.stringify({ vtep: rec.vtep }))
        .lease(rec.lease);
    });
  }

  async members(network: string): Promise<Member[]> {
    const all = await this.listUnder('members', network);
    return all.map(([host, v]) => ({ host, vtep: (JSON.parse(v) as { vtep: string }).vtep }));
  }

  // ---- container names (DNS on the overlay): one key per network and host, under the host's lease

  /** Every host's published names on `network`. */
  async names(network: string): Promise<Map<string, PublishedName[]>> {
    const out = new Map<string, PublishedName[]>();
    for (const [host, v] of await this.listUnder('names', network)) {
      try {
        const list = JSON.parse(v) as PublishedName[];
        if (Array.isArray(list)) out.set(host, list);
      } catch {
        /* not ours to read: skipped */
      }
    }
    return out;
  }

  /** Publishes this host's names on `network` under its lease (none: its key goes). */
  async publishNames(network: string, host: string, lease: string, names: PublishedName[]): Promise<void> {
    const k = this.key('names', network, host);
    await this.call(async () => {
      if (names.length) await this.client.put(k).value(JSON.stringify(names)).lease(lease);
      else await this.client.delete().key(k);
    });
  }

  // ---- addresses: blocks in etcd, the addresses in them on the host that holds them (./local.ts)

  /** The blocks of `network` in the store, with the host (and lease) holding each. */
  async blocks(network: string): Promise<BlockHolder[]> {
    const all = await this.listUnder('blocks', network);
    return all.map(([k, v]) => ({
      block: k.replace('_', '/'),
      ...(JSON.parse(v) as { host: string; lease?: string }),
    }));
  }

  /** This host's durable record of its lease, blocks and addresses (one per store and host). */
  cache(host: string): HostCache {
    return new HostCache(this.cacheDir, storeId(this.url, this.prefix), host);
  }

  /**
   * An address for (containerId, ifname) on `req.host` in the network `req.network` names, the network created or
   * joined and the host registered on the way when needed. Most of the time this is answered from the host's own
   * record without asking etcd (`fromCache`): the host's lease is known to live, it has joined the network, and
   * one of its blocks has a free address. Otherwise etcd is asked (network, host, membership, the blocks; a new
   * block claimed in a transaction when the host's are full). Idempotent: the same owner gets the address it holds.
   */
  async acquire(req: AcquireRequest): Promise<Acquired> {
    const cache = this.cache(req.host);
    const fast = await cache.update((s) => answerFromRecord(s, req));
    if (fast) return { ...fast, fromCache: true };
    const { network } = await this.ensureNetwork(req.network);
    const { rec, validUntilNs } = await this.registerHost(req.host, req.vtep, req.routes, req.leaseTtl);
    if (req.vtep !== undefined) await this.join(network.name, req.host, rec);
    const endpoint = await cache.update(async (s) => {
      // concurrent ADDs write what they learnt in turn: a later write never shortens the same lease's bound
      const kept = s.lease?.id === rec.lease && s.lease.boot === currentBoot() ? BigInt(s.lease.validUntilNs) : 0n;
      const until = BigInt(validUntilNs) > kept ? validUntilNs : String(kept);
      s.lease = { id: rec.lease, vtep: rec.vtep, routes: rec.routes, boot: currentBoot(), validUntilNs: until };
      const ln = this.localNetwork(s, network);
      if (req.vtep !== undefined) ln.joined = rec.lease;
      return this.allocateIn(ln, req.host, rec, req.containerId, req.ifname);
    });
    return { network, endpoint, fromCache: false };
  }

  private localNetwork(s: LocalState, network: OverlayNetwork): LocalNetwork {
    const cur = s.networks[network.name];
    // the same name in the store with another subnet: a network removed and made again; what was held is moot
    if (!cur || cur.network.subnet !== network.subnet) return (s.networks[network.name] = { network, blocks: {}, addrs: {} });
    cur.network = network;
    return cur;
  }

  /**
   * Makes the host's record of its blocks in `ln` agree with the store: a block the store gives this host's lease
   * is kept; one the store lost (the lease expired) that still has addresses here is claimed again under `rec`'s
   * lease when no other host took it; anything else is dropped. Caller holds the host's lock.
   */
  private async reconcile(ln: LocalNetwork, host: string, rec: HostRecord): Promise<{ lost: string[]; listed: BlockHolder[] }> {
    const listed = await this.blocks(ln.network.name);
    const inStore = new Map(listed.map((b) => [b.block, b]));
    const lost: string[] = [];
    for (const b of Object.keys(ln.blocks)) {
      const cur = inStore.get(b);
      if (cur && cur.host === host && cur.lease === rec.lease) {
        ln.blocks[b] = rec.lease;
        continue;
      }
      const used = addrsIn(ln, b).length > 0;
      if (!cur && used && (await this.claimBlock(ln.network, b, host, rec))) {
        ln.blocks[b] = rec.lease;
        continue;
      }
      delete ln.blocks[b];
      if (used) lost.push(b);
    }
    return { lost, listed };
  }

  private async claimBlock(net: OverlayNetwork, block: string, host: string, rec: HostRecord): Promise<boolean> {
    const bk = this.key('blocks', net.name, block.replace('/', '_'));
    const r = await this.call(() =>
      this.client
        .if(bk, 'Create', '==', 0)
        .then(
          this.client
            .put(bk)
            .value(JSON.stringify({ host, lease: rec.lease }))
            .lease(rec.lease),
        )
        .commit(),
    );
    return r.succeeded;
  }

  /** Under the host's lock: an address from a block of this host, claiming a free block when they are full. */
  private async allocateIn(ln: LocalNetwork, host: string, rec: HostRecord, containerId: string, ifname: string): Promise<Endpoint> {
    const net = ln.network;
    const held = heldBy(ln, containerId, ifname);
    if (held) return endpointOf(net.name, host, rec, held, containerId, ifname);
    // the blocks as reconcile listed them pick the first block to claim (no second round trip): one another host
    // took since fails its claim's transaction, and the next attempt lists again
    let listed: BlockHolder[] | undefined = (await this.reconcile(ln, host, rec)).listed;
    for (let attempt = 0; attempt < 20; attempt++) {
      const addr = freeInHeld(ln, rec.lease);
      if (addr) {
        ln.addrs[addr] = { containerId, ifname };
        return endpointOf(net.name, host, rec, addr, containerId, ifname);
      }
      const subnet = parseCidr(net.subnet).prefix;
      const owned = new Set((listed ?? (await this.blocks(net.name))).map((b) => b.block));
      listed = undefined;
      const free = [...subnets(subnet, net.blockPrefix)].map(formatPrefix).find((b) => !owned.has(b) && !(b in ln.blocks));
      if (!free) {
        throw new ClusterStoreError(
          `overlay network "${net.name}" (${net.subnet})`,
          `has no free address block left for host ${host}: every /${net.blockPrefix} is held by a host`,
          "remove containers, wait for dead hosts' leases to expire (their blocks come back), or create a network with a larger subnet",
          { cniCode: IpamErrorCode.Exhausted, exitCode: 1 },
        );
      }
      if (await this.claimBlock(net, free, host, rec)) ln.blocks[free] = rec.lease; // else another host was quicker: look again
    }
    throw new ClusterStoreError(`overlay network "${net.name}"`, 'address blocks kept being taken by other hosts', 'try again', {
      cniCode: STORE_UNAVAILABLE,
    });
  }

  /**
   * An address as `acquire` would give it, for a host already registered (`rec`) in a network it knows (tests,
   * and callers that did the rest themselves). Asks etcd for the blocks unless the host's record answers.
   */
  async allocate(net: OverlayNetwork, host: string, rec: HostRecord, containerId: string, ifname: string): Promise<Endpoint> {
    return this.cache(host).update(async (s) => {
      const ln = this.localNetwork(s, net);
      const held = heldBy(ln, containerId, ifname);
      if (held) return endpointOf(net.name, host, rec, held, containerId, ifname);
      return this.allocateIn(ln, host, rec, containerId, ifname);
    });
  }

  /** The address (containerId, ifname) holds in `network` on `host`, if any (the host's record; no etcd). */
  async lookup(network: string, host: string, containerId: string, ifname: string): Promise<Endpoint | undefined> {
    return lookupInRecord(this.cache(host), network, host, containerId, ifname);
  }

  /**
   * Releases what (containerId, ifname) holds on `host`; false when it held nothing. Only the host's record
   * changes: the block stays the host's (its next container gets the address) until the host leaves the network
   * or its lease ends.
   */
  async release(network: string, host: string, containerId: string, ifname: string): Promise<boolean> {
    return releaseInRecord(this.cache(host), network, containerId, ifname);
  }

  /**
   * tsnetd's periodic step for `host`: renews its lease and records until when it lives; when the lease has
   * expired (the host was cut off longer than its TTL) registers the host again and claims back the blocks its
   * running containers use (those another host took meanwhile are reported in `lost`). Also makes the host's
   * record agree with the store (a block it lost is no longer allocated from).
   */
  async refreshHost(
    host: string,
    ttl = DEFAULT_LEASE_TTL,
  ): Promise<{ renewed: boolean; reregistered: boolean; lost: string[]; released: string[] }> {
    const cache = this.cache(host);
    const s0 = cache.read();
    if (!s0.lease) return { renewed: false, reregistered: false, lost: [], released: [] };
    const sent = nowNs();
    const left = await this.renewLeaseTtl(s0.lease.id);
    return cache.update(async (s) => {
      if (!s.lease) return { renewed: false, reregistered: false, lost: [], released: [] };
      let rec: HostRecord = { vtep: s.lease.vtep, lease: s.lease.id, routes: s.lease.routes };
      let reregistered = false;
      if (left > 0 && s.lease.id === s0.lease!.id) {
        s.lease.validUntilNs = validUntil(sent, left);
        s.lease.boot = currentBoot();
      } else {
        const r = await this.registerHost(host, s.lease.vtep, s.lease.routes, ttl);
        rec = r.rec;
        reregistered = rec.lease !== s.lease.id;
        s.lease = { id: rec.lease, vtep: rec.vtep, routes: rec.routes, boot: currentBoot(), validUntilNs: r.validUntilNs };
      }
      const lost: string[] = [];
      const released: string[] = [];
      for (const ln of Object.values(s.networks)) {
        if (ln.joined !== undefined) {
          if (ln.joined !== rec.lease) await this.join(ln.network.name, host, rec);
          ln.joined = rec.lease;
        }
        lost.push(...(await this.reconcile(ln, host, rec)).lost.map((b) => `${ln.network.name} ${b}`));
        released.push(...(await this.releaseEmptyBlocks(ln, host, rec)).map((b) => `${ln.network.name} ${b}`));
      }
      return { renewed: left > 0, reregistered, lost, released };
    });
  }

  /**
   * Gives back the blocks of `ln` this host holds with no address in use — batched, on tsnetd's step rather than at
   * each DEL — keeping one empty block when no other held block has room (the next start then needs no etcd).
   * Caller holds the host's lock. Returns the blocks released.
   */
  private async releaseEmptyBlocks(ln: LocalNetwork, host: string, rec: HostRecord): Promise<string[]> {
    const subnet = parseCidr(ln.network.subnet).prefix;
    const taken = new Set(Object.keys(ln.addrs));
    const held = Object.keys(ln.blocks)
      .filter((b) => ln.blocks[b] === rec.lease)
      .sort(compareCidr);
    const empty = held.filter((b) => addrsIn(ln, b).length === 0);
    const roomy = held.some((b) => addrsIn(ln, b).length > 0 && freeIn(parseCidr(b).prefix, subnet, taken) !== undefined);
    const release = roomy ? empty : empty.slice(1);
    for (const b of release) {
      delete ln.blocks[b]; // first here: no start of this host allocates in it any more
      const bk = this.key('blocks', ln.network.name, b.replace('/', '_'));
      await this.call(() =>
        this.client
          .if(bk, 'Value', '==', JSON.stringify({ host, lease: rec.lease }))
          .then(this.client.delete().key(bk))
          .commit(),
      );
    }
    return release;
  }

  /**
   * This host leaves `network`: its membership and blocks go from the store and its record of them. Refused while
   * it has addresses in use there (its containers first), unless `force`.
   */
  async leave(network: string, host: string, opts: { force?: boolean } = {}): Promise<{ addresses: number }> {
    return this.cache(host).update(async (s) => {
      const ln = s.networks[network];
      const n = ln ? Object.keys(ln.addrs).length : 0;
      if (n > 0 && !opts.force) {
        throw new ClusterStoreError(
          `overlay network "${network}"`,
          `has ${n} address(es) in use on host ${host}`,
          'remove its containers on this host first',
          {
            exitCode: 1,
          },
        );
      }
      await this.call(async () => {
        await this.client.delete().key(this.key('members', network, host));
        await this.client.delete().key(this.key('names', network, host));
        for (const b of await this.blocks(network)) {
          if (b.host !== host) continue;
          const bk = this.key('blocks', network, b.block.replace('/', '_'));
          await this.client
            .if(bk, 'Value', '==', JSON.stringify({ host: b.host, lease: b.lease }))
            .then(this.client.delete().key(bk))
            .commit();
        }
      });
      delete s.networks[network];
      return { addresses: n };
    });
  }

  /** Watches everything under the prefix (networks, members, addresses); `onChange` gets the changed key. */
  async watch(
    onChange: (key: string) => void,
    onError: (e: Error) => void,
    link: { disconnected?: (e: Error) => void; connected?: () => void } = {},
  ): Promise<Watcher> {
    const w = await this.client.watch().prefix(this.prefix).create();
    w.on('put', (kv) => onChange(kv.key.toString()));
    w.on('delete', (kv) => onChange(kv.key.toString()));
    w.on('error', onError);
    // the client reconnects by itself, and resumes from the last revision it saw
    if (link.disconnected) w.on('disconnected', link.disconnected);
    if (link.connected) w.on('connected', () => link.connected!());
    return w;
  }

  /** A lease of this client's own (tests). */
  lease(ttl: number): Lease {
    return this.client.lease(ttl, { autoKeepAlive: false });
  }
}

function addrsIn(ln: LocalNetwork, block: string): string[] {
  const b = parseCidr(block).prefix;
  return Object.keys(ln.addrs).filter((a) => containsAddr(b, parseAddr(a)));
}
