// The cluster store: overlay networks, hosts (VTEPs), address blocks and addresses kept in etcd, so that an
// address is unique across every host of a network. Every write that could race another host's is an etcd
// transaction (compare create-revision / value, then put); nothing is locked.
//
// Keys (under `prefix`, default "/tsnet/v1/"):
//   networks/<net>              {subnet, vni, port, blockPrefix}                     no lease: the network outlives hosts
//   hosts/<host>                {vtep, lease, routes}                                the host's lease
//   members/<net>/<host>        {vtep}                                               the host's lease
//   blocks/<net>/<base>         {host}                                               the host's lease
//   ips/<net>/<addr>            {host, containerId, ifname, mac, vtep}               the host's lease
//   owners/<net>/<cid>/<ifname> <addr>                                              the host's lease
//   claims/<net>/<host>         the number of blocks the host holds (serialises its block claims)  its lease
// Blocks (like Calico's IPAM): a host claims a /blockPrefix of the subnet and hands out its addresses; only
// a block claim contends with other hosts. Everything a host holds is tied to its lease: when the host dies
// (its daemon stops renewing), etcd deletes it all after the lease's TTL, and `reclaimHost` revokes it at once.
import { Etcd3, GRPCDeadlineExceededError, GRPCUnavailableError, isRecoverableError, type IOptions, type Lease, type Watcher } from 'etcd3';
import { noop } from 'cockatiel';
import { readFileSync } from 'node:fs';
import { CniCode, TsnetError } from '../../common/errors.js';
import { ClusterStoreError, STORE_UNAVAILABLE, unavailable, parseStoreUrl } from './url.js';
export { ClusterStoreError, STORE_UNAVAILABLE, unavailable, parseStoreUrl, macForAddress } from './url.js';
import { macForAddress } from './url.js';
import { IpamErrorCode } from '../errors.js';
import { first, formatAddr, formatPrefix, last, overlaps, parseCidr, subnets, type Prefix } from '../cidr.js';
import { pickSubnet, type Occupied } from '../picker.js';
import type { PoolSpec } from '../pools.js';

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

export interface Member {
  host: string;
  vtep: string;
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

  constructor(opts: ClusterStoreOptions) {
    this.url = opts.url;
    this.prefix = opts.prefix ?? '/tsnet/v1/';
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
      const existing = await this.getNetwork(req.name);
      if (existing) {
        this.checkSame(existing, req);
        return { network: existing, created: false };
      }
      const others = await this.networks();
      if (others.some((n) => n.name === req.name)) continue; // made by another host just now: join it
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

  async removeNetwork(name: string): Promise<void> {
    await this.call(async () => {
      const used = await this.client
        .getAll()
        .prefix(this.key('ips', name, ''))
        .keys();
      if (used.length) {
        throw new ClusterStoreError(
          `overlay network "${name}"`,
          `has ${used.length} address(es) in use`,
          'remove its containers on every host first',
          {
            exitCode: 1,
          },
        );
      }
      await this.client.delete().key(this.key('networks', name));
      await this.client.delete().prefix(this.key('members', name, ''));
      await this.client.delete().prefix(this.key('blocks', name, ''));
      await this.client.delete().prefix(this.key('claims', name, ''));
    });
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
    return this.call(async () => {
      const cur = await this.host(host);
      if (cur) {
        const left = await this.client.leaseClient.leaseTimeToLive({ ID: cur.lease });
        if (Number(left.TTL) > 0) {
          if (cur.vtep !== vtep || JSON.stringify(cur.routes) !== JSON.stringify(routes)) {
            const next = { ...cur, vtep, routes };
            await this.client.put(this.key('hosts', host)).value(JSON.stringify(next)).lease(cur.lease);
            return next;
          }
          return cur;
        }
      }
      // concurrent ADDs on a host that has no live lease: one registers it, the others use the winner's
      const granted = await this.client.leaseClient.leaseGrant({ TTL: ttl });
      const rec: HostRecord = { vtep, lease: String(granted.ID), routes };
      const hk = this.key('hosts', host);
      const put = this.client.put(hk).value(JSON.stringify(rec)).lease(rec.lease);
      const r = cur
        ? await this.client.if(hk, 'Value', '==', JSON.stringify(cur)).then(put).commit()
        : await this.client.if(hk, 'Create', '==', 0).then(put).commit();
      if (r.succeeded) return rec;
      await this.client.leaseClient.leaseRevoke({ ID: rec.lease }).catch(() => undefined);
      const won = await this.host(host);
      if (!won)
        throw new ClusterStoreError(`host ${host}`, 'its registration in the store vanished while being made', 'try again', {
          cniCode: STORE_UNAVAILABLE,
        });
      return won;
    });
  }

  /** The host's live record as it is (an overlay host's VTEP kept), else one registered without a VTEP (IPAM only). */
  async hostLease(host: string, ttl = DEFAULT_LEASE_TTL): Promise<HostRecord> {
    const cur = await this.host(host);
    return cur ?? this.ensureHost(host, '', [], ttl);
  }

  /** Renews the host's lease once; false when it has expired (everything the host held is gone). */
  async renewLease(lease: string): Promise<boolean> {
    return this.call(async () => {
      const stream = await this.client.leaseClient.leaseKeepAlive();
      try {
        const answer = new Promise<boolean>((resolve, reject) => {
          stream.on('data', (r: { TTL: string }) => resolve(Number(r.TTL) > 0));
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
    const all = await this.call(() =>
      this.client
        .getAll()
        .prefix(this.key('members', network, ''))
        .strings(),
    );
    const p = this.key('members', network, '').length;
    return Object.entries(all).map(([k, v]) => ({ host: k.slice(p), vtep: (JSON.parse(v) as { vtep: string }).vtep }));
  }

  async endpoints(network: string): Promise<Endpoint[]> {
    const all = await this.call(() =>
      this.client
        .getAll()
        .prefix(this.key('ips', network, ''))
        .strings(),
    );
    return Object.values(all).map((v) => ({ network, ...JSON.parse(v) }) as Endpoint);
  }

  // ---- addresses

  /** The address `owner` holds in `network`, if any. */
  async lookup(network: string, containerId: string, ifname: string): Promise<Endpoint | undefined> {
    const addr = await this.call(() => this.client.get(this.key('owners', network, containerId, ifname)).string());
    if (!addr) return undefined;
    const v = await this.call(() => this.client.get(this.key('ips', network, addr)).string());
    return v ? ({ network, ...JSON.parse(v) } as Endpoint) : undefined;
  }

  /**
   * An address for (containerId, ifname) on `host`: from one of the host's blocks, claiming a free block when
   * they are full. Idempotent: the same owner gets the address it already holds.
   */
  async allocate(net: OverlayNetwork, host: string, rec: HostRecord, containerId: string, ifname: string): Promise<Endpoint> {
    const held = await this.lookup(net.name, containerId, ifname);
    if (held) return held;
    const subnet = parseCidr(net.subnet).prefix;
    for (let attempt = 0; attempt < 20; attempt++) {
      const [blocks, used] = await this.call(() =>
        Promise.all([
          this.client
            .getAll()
            .prefix(this.key('blocks', net.name, ''))
            .strings(),
          this.client
            .getAll()
            .prefix(this.key('ips', net.name, ''))
            .keys(),
        ]),
      );
      const bp = this.key('blocks', net.name, '').length;
      const owned = new Map<string, string>(); // base → host
      for (const [k, v] of Object.entries(blocks)) owned.set(k.slice(bp).replace('_', '/'), (JSON.parse(v) as { host: string }).host);
      const taken = new Set(used.map((k) => k.slice(this.key('ips', net.name, '').length)));
      const mine = [...owned].filter(([, h]) => h === host).map(([b]) => parseCidr(b).prefix);
      const candidate = mine.map((b) => [b, freeIn(b, subnet, taken)] as const).find(([, a]) => a !== undefined);
      if (candidate) {
        const [block, addr] = candidate;
        if (await this.claimAddress(net, host, rec, block, addr as string, containerId, ifname)) {
          return (await this.lookup(net.name, containerId, ifname)) as Endpoint;
        }
        continue; // lost a race (or the block went with an expired lease): read again
      }
      {
        const free = [...subnets(subnet, net.blockPrefix)].find((b) => !owned.has(formatPrefix(b)));
        if (!free) {
          throw new ClusterStoreError(
            `overlay network "${net.name}" (${net.subnet})`,
            `has no free address block left for host ${host}: every /${net.blockPrefix} is held by a host`,
            'remove containers, reclaim dead hosts (tsnet network gc), or create a network with a larger subnet',
            { cniCode: IpamErrorCode.Exhausted, exitCode: 1 },
          );
        }
        const bk = this.key('blocks', net.name, formatPrefix(free).replace('/', '_'));
        // one block claim at a time per host: concurrent ADDs on a host that find its blocks full claim one
        // new block between them, not one each (the count of its blocks is compared and bumped)
        const ck = this.key('claims', net.name, host);
        const counted = mine.length === 0 ? this.client.if(ck, 'Create', '==', 0) : this.client.if(ck, 'Value', '==', String(mine.length));
        await this.call(() =>
          counted
            .and(bk, 'Create', '==', 0)
            .then(
              this.client.put(bk).value(JSON.stringify({ host })).lease(rec.lease),
              this.client
                .put(ck)
                .value(String(mine.length + 1))
                .lease(rec.lease),
            )
            .commit(),
        );
      }
    }
    throw new ClusterStoreError(`overlay network "${net.name}"`, 'addresses kept being taken by other hosts', 'try again', {
      cniCode: STORE_UNAVAILABLE,
    });
  }

  private async claimAddress(
    net: OverlayNetwork,
    host: string,
    rec: HostRecord,
    block: Prefix,
    addr: string,
    containerId: string,
    ifname: string,
  ): Promise<boolean> {
    const ik = this.key('ips', net.name, addr);
    const ok = this.key('owners', net.name, containerId, ifname);
    const bk = this.key('blocks', net.name, formatPrefix(block).replace('/', '_'));
    const ep: Omit<Endpoint, 'network'> = { address: addr, host, vtep: rec.vtep, mac: macForAddress(addr), containerId, ifname };
    const r = await this.call(() =>
      this.client
        .if(ik, 'Create', '==', 0)
        .and(ok, 'Create', '==', 0)
        .and(bk, 'Value', '==', JSON.stringify({ host }))
        .then(this.client.put(ik).value(JSON.stringify(ep)).lease(rec.lease), this.client.put(ok).value(addr).lease(rec.lease))
        .commit(),
    );
    return r.succeeded;
  }

  /** Releases what (containerId, ifname) holds; false when it held nothing. */
  async release(network: string, containerId: string, ifname: string): Promise<boolean> {
    const ok = this.key('owners', network, containerId, ifname);
    const addr = await this.call(() => this.client.get(ok).string());
    if (!addr) return false;
    const ik = this.key('ips', network, addr);
    await this.call(() =>
      this.client.if(ok, 'Value', '==', addr).then(this.client.delete().key(ok), this.client.delete().key(ik)).commit(),
    );
    return true;
  }

  /** Watches everything under the prefix (networks, members, addresses); `onChange` gets the changed key. */
  async watch(onChange: (key: string) => void, onError: (e: Error) => void): Promise<Watcher> {
    const w = await this.client.watch().prefix(this.prefix).create();
    w.on('put', (kv) => onChange(kv.key.toString()));
    w.on('delete', (kv) => onChange(kv.key.toString()));
    w.on('error', onError);
    return w;
  }

  /** A lease of this client's own (tests). */
  lease(ttl: number): Lease {
    return this.client.lease(ttl, { autoKeepAlive: false });
  }
}

/** The lowest address of block that is not taken, not the subnet's network or broadcast address. */
function freeIn(block: Prefix, subnet: Prefix, taken: Set<string>): string | undefined {
  for (let v = first(block); v <= last(block); v++) {
    if (v === first(subnet) || v === last(subnet)) continue;
    const a = formatAddr({ family: block.family, value: v });
    if (!taken.has(a)) return a;
  }
  return undefined;
}
