// tsnet-ipam's CNI face: ADD / DEL / CHECK / GC over a network config, returning CNI 1.x results and throwing
// CniError with spec codes; the allocation itself is ipam/'s. The `tsnet-ipam` plugin is a thin wrapper.
//
// Config (conf.ipam) accepts host-local's keys unchanged — subnet, rangeStart, rangeEnd, gateway, ranges,
// routes, dataDir, resolvConf (plus runtimeConfig.ipRanges / ips and CNI_ARGS IP=) — and tsnet's own:
//   "subnet": "auto" [+ "prefixLength": N] [+ "pools": [{base,size}]]: on first ADD, a free subnet is picked
//      and recorded as the tsnet network named conf.name; later calls reuse it;
//   "network": "<name>": allocate from a network made with `tsnet network create`;
//   "root": state root (else the runtime's root, else $TSNET_ROOT, else /var/lib/tsnet).
// State: <root>/ipam/<name>/ (tsnet's journal format), or <dataDir>/<name>/ when dataDir is given.
import { join } from 'node:path';
import { CniError, ErrorCode, type CniArgs, type Dns, type IpConfig, type NetConf, type Result, type Route } from '../cni/types.js';
import { Allocator, RequestedAddressError, type Allocation } from '../../ipam/allocator.js';
import { formatAddr, parseAddr, parseCidr, type Addr } from '../../ipam/cidr.js';
import { gcState } from '../../ipam/gc.js';
import { NetworkRegistry, type HostUsage } from '../../ipam/networks.js';
import type { PoolSpec } from '../../ipam/pools.js';
import { canonicalizeRangeSets, rangeForAddr, type RangeSet, type RangeSpec } from '../../ipam/ranges.js';
import { readResolvConf } from './resolv-conf.js';
import { toCniError } from '../cni/errors.js';
import { checkName, IpamStore } from '../../ipam/store.js';
import { stateRoot } from '../../common/paths.js';
import { isTsnetError } from '../../common/errors.js';
import { IpamState, type Owner } from '../../ipam/state.js';
import { clusterIpamAdd, clusterIpamCheck, clusterIpamDel, clusterIpamPrecheck, usesClusterStore } from './ipam-cluster.js';

/** What the caller (CLI, engine, executable) provides besides the config. */
export interface IpamRuntime {
  /** State root; conf.ipam.root wins over it; default $TSNET_ROOT or /var/lib/tsnet. */
  root?: string;
  /** Host routes/addresses for "subnet": "auto" (netlink-backed in production). Without it only tsnet networks are avoided. */
  hostUsage?: HostUsage;
  lockTimeoutMs?: number;
}

interface Resolved {
  network: string;
  store: IpamStore;
  rangeSets: RangeSet[];
  /**
   * A named network's range sets over their whole subnets: where a static request may fall (Docker: --ip
   * anywhere in the subnet; an --ip-range limits only the addresses handed out).
   */
  staticSets?: RangeSet[];
}

/** The range sets without rangeStart/rangeEnd: each range's whole subnet (its gateway kept). */
function wholeSubnets(sets: RangeSpec[][]): RangeSpec[][] {
  return sets.map((set) => set.map(({ subnet, gateway }) => ({ subnet, ...(gateway ? { gateway } : {}) })));
}

const invalid = (msg: string): CniError => new CniError(ErrorCode.InvalidNetworkConfig, msg);

function ipamOf(conf: NetConf): Record<string, unknown> {
  const ipam = conf?.ipam as Record<string, unknown> | undefined;
  if (!ipam || typeof ipam !== 'object') throw invalid('IPAM config missing "ipam" key');
  return ipam;
}

function optString(ipam: Record<string, unknown>, key: string): string | undefined {
  const v = ipam[key];
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v !== 'string') throw invalid(`ipam.${key} must be a string, got ${JSON.stringify(v)}`);
  return v;
}

function rangeSpec(v: unknown, where: string): RangeSpec {
  if (!v || typeof v !== 'object') throw invalid(`${where} must be an object with "subnet"`);
  const o = v as Record<string, unknown>;
  for (const k of ['subnet', 'rangeStart', 'rangeEnd', 'gateway']) {
    if (o[k] !== undefined && typeof o[k] !== 'string') throw invalid(`${where}.${k} must be a string`);
  }
  return o as unknown as RangeSpec;
}

function rangeSetsFrom(v: unknown, where: string): RangeSpec[][] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw invalid(`${where} must be an array of range sets (arrays of ranges)`);
  return v.map((set, i) => {
    if (!Array.isArray(set)) throw invalid(`${where}[${i}] must be an array of ranges`);
    return set.map((r, j) => rangeSpec(r, `${where}[${i}][${j}]`));
  });
}

function canonical(sets: RangeSpec[][]): RangeSet[] {
  try {
    return canonicalizeRangeSets(sets);
  } catch (e) {
    if (isTsnetError(e)) throw new CniError(ErrorCode.InvalidNetworkConfig, `invalid IPAM ranges: ${e.summary}`, e.fix ?? '');
    throw invalid(`invalid IPAM ranges: ${(e as Error).message}`);
  }
}

/**
 * How resolve treats a network that does not exist: 'add' makes the auto network (ADD only) and refuses a
 * missing named one; 'precheck' refuses a missing named one and makes nothing; 'read' answers undefined.
 */
type ResolveMode = 'add' | 'precheck' | 'read';

/** Resolve which store and ranges a config means. */
async function resolve(conf: NetConf, rt: IpamRuntime, mode: ResolveMode): Promise<Resolved | undefined> {
  const ipam = ipamOf(conf);
  const root = stateRoot(optString(ipam, 'root') ?? rt.root);
  const registry = new NetworkRegistry(root, rt.lockTimeoutMs);
  const storeOpts = rt.lockTimeoutMs === undefined ? {} : { lockTimeoutMs: rt.lockTimeoutMs };
  const named = optString(ipam, 'network');
  const subnet = optString(ipam, 'subnet');

  try {
    if (named !== undefined) {
      checkName(named);
      const rec = mode === 'read' ? registry.get(named) : registry.require(named);
      if (!rec) return undefined; // DEL/CHECK/GC of a removed network: nothing is held
      return {
        network: named,
        store: registry.store(named),
        rangeSets: canonical(rec.ranges),
        ...(rec.ipRange ? { staticSets: canonical(wholeSubnets(rec.ranges)) } : {}),
      };
    }
    const name = checkName(String(conf.name ?? ''));
    if (subnet === 'auto') {
      const prefixLength = ipam.prefixLength;
      if (prefixLength !== undefined && (typeof prefixLength !== 'number' || !Number.isInteger(prefixLength))) {
        throw invalid(`ipam.prefixLength must be an integer, got ${JSON.stringify(prefixLength)}`);
      }
      const pools = ipam.pools as PoolSpec[] | undefined;
      if (pools !== undefined && !Array.isArray(pools)) throw invalid('ipam.pools must be an array of {"base": CIDR, "size": N}');
      const rec =
        mode === 'add'
          ? await registry.ensureAuto({
              name,
              ...(prefixLength !== undefined ? { prefixLength: prefixLength as number } : {}),
              ...(pools ? { pools } : {}),
              ...(rt.hostUsage ? { hostUsage: rt.hostUsage } : {}),
            })
          : registry.get(name);
      if (!rec) return undefined;
      return {
        network: name,
        store: registry.store(name),
        rangeSets: canonical([...rec.ranges, ...rangeSetsFrom(ipam.ranges, 'ipam.ranges')]),
      };
    }

    // host-local compatible: runtimeConfig.ipRanges, then the top-level range, then "ranges".
    const sets: RangeSpec[][] = [];
    const rc = conf.runtimeConfig as Record<string, unknown> | undefined;
    sets.push(...rangeSetsFrom(rc?.ipRanges, 'runtimeConfig.ipRanges'));
    if (subnet !== undefined) sets.push([rangeSpec(ipam, 'ipam')]);
    sets.push(...rangeSetsFrom(ipam.ranges, 'ipam.ranges'));
    const dataDir = optString(ipam, 'dataDir');
    const store = dataDir ? new IpamStore(join(dataDir, name), storeOpts) : IpamStore.forNetwork(root, name, storeOpts);
    return { network: name, store, rangeSets: canonical(sets) };
  } catch (e) {
    throw toCniError(e);
  }
}

/** Static requests: CNI_ARGS IP= (comma-separated allowed), args.cni.ips, runtimeConfig.ips; "a.b.c.d/len" accepted. */
function requestedIps(conf: NetConf, args: CniArgs): Addr[] {
  const texts: string[] = [];
  const envIp = args.args?.IP;
  if (envIp) texts.push(...envIp.split(',').filter(Boolean));
  const cniArgs = (conf.args as { cni?: { ips?: unknown } } | undefined)?.cni?.ips;
  const rcIps = (conf.runtimeConfig as { ips?: unknown } | undefined)?.ips;
  for (const [list, where] of [
    [cniArgs, 'args.cni.ips'],
    [rcIps, 'runtimeConfig.ips'],
  ] as const) {
    if (list === undefined) continue;
    if (!Array.isArray(list) || list.some((x) => typeof x !== 'string')) throw invalid(`${where} must be an array of IP strings`);
    texts.push(...(list as string[]));
  }
  const out: Addr[] = [];
  for (const t of texts) {
    try {
      const a = t.includes('/') ? parseCidr(t).addr : parseAddr(t);
      if (!out.some((b) => b.family === a.family && b.value === a.value)) out.push(a);
    } catch (e) {
      throw invalid(`requested IP ${JSON.stringify(t)}: ${(e as Error).message}`);
    }
  }
  return out;
}

function routesOf(conf: NetConf): Route[] | undefined {
  const r = ipamOf(conf).routes;
  if (r === undefined || r === null) return undefined;
  if (!Array.isArray(r)) throw invalid('ipam.routes must be an array of {"dst": CIDR, "gw"?: IP}');
  return r.map((x: unknown, i: number) => {
    const o = x as Route;
    if (!o || typeof o.dst !== 'string') throw invalid(`ipam.routes[${i}] needs "dst" (CIDR)`);
    try {
      parseCidr(o.dst);
      if (o.gw !== undefined) parseAddr(o.gw);
    } catch (e) {
      throw invalid(`ipam.routes[${i}]: ${(e as Error).message}`);
    }
    return o;
  });
}

function dnsOf(conf: NetConf): Dns | undefined {
  const path = optString(ipamOf(conf), 'resolvConf');
  if (!path) return undefined;
  try {
    return readResolvConf(path);
  } catch (e) {
    throw new CniError(ErrorCode.IoFailure, `cannot read ipam.resolvConf ${path}: ${(e as Error).message}`);
  }
}

function ownerOf(args: CniArgs): Owner {
  if (!args.containerId) throw new CniError(ErrorCode.InvalidEnvironment, 'CNI_CONTAINERID is required');
  if (!args.ifname) throw new CniError(ErrorCode.InvalidEnvironment, 'CNI_IFNAME is required');
  return { containerID: args.containerId, ifname: args.ifname };
}

/**
 * One address per range set for `owner` in `state`: a static request where one falls in the set, else the next
 * free one. Throws (discarding the transaction) for a request no set can give.
 */
function allocateAll(res: Resolved, state: IpamState, owner: Owner, requested: Addr[]): Allocation[] {
  const out: Allocation[] = [];
  const left = [...requested];
  res.rangeSets.forEach((set, idx) => {
    const where = res.staticSets?.[idx] ?? set;
    const i = left.findIndex((a) => rangeForAddr(where, a) !== undefined);
    const want = i >= 0 ? left.splice(i, 1)[0] : undefined;
    out.push(new Allocator(want ? where : set, state, String(idx), res.network).get(owner, want));
  });
  if (left.length > 0) {
    throw new RequestedAddressError(
      `failed to allocate all requested IPs: ${left.map(formatAddr).join(', ')} ${left.length === 1 ? 'is' : 'are'} in no range set of network "${res.network}"`,
    );
  }
  return out;
}

export async function ipamAdd(conf: NetConf, args: CniArgs, rt: IpamRuntime = {}): Promise<Result> {
  if (usesClusterStore(conf)) return clusterIpamAdd(conf, args); // "store": cluster-wide, in etcd
  const owner = ownerOf(args);
  const requested = requestedIps(conf, args);
  const routes = routesOf(conf);
  const dns = dnsOf(conf);
  const res = (await resolve(conf, rt, 'add'))!;
  let allocs: Allocation[];
  try {
    // Throwing inside the transaction discards every reservation made in it.
    allocs = await res.store.transact((state) => allocateAll(res, state, owner, requested));
  } catch (e) {
    throw toCniError(e);
  }
  const ips: IpConfig[] = allocs.map((a) => ({ address: a.address, ...(a.gateway ? { gateway: a.gateway } : {}) }));
  return { cniVersion: '1.1.0', ips, ...(routes ? { routes } : {}), ...(dns ? { dns } : {}) };
}

/**
 * What ipamAdd would refuse, found without the store's lock, without writing anything, and without the
 * kernel: the environment, the config (ranges, routes, resolvConf, a named network that exists) and each
 * static request against the range sets (in one of them, not a gateway, not the network or broadcast address
 * — all but "held by another container", which only the store knows). A plugin that changes the kernel
 * before it allocates (bridge) runs this first, so a bad config or request leaves nothing behind. An auto
 * network not made yet has no ranges to check requests against.
 */
export async function ipamPrecheck(conf: NetConf, args: CniArgs, rt: IpamRuntime = {}): Promise<void> {
  if (usesClusterStore(conf)) return clusterIpamPrecheck(conf, args);
  const owner = ownerOf(args);
  const requested = requestedIps(conf, args);
  routesOf(conf);
  dnsOf(conf);
  const res = await resolve(conf, rt, 'precheck');
  if (!res) return;
  try {
    allocateAll(res, new IpamState(), owner, requested);
  } catch (e) {
    throw toCniError(e);
  }
}

/** Release what (containerID, ifname) holds. Idempotent; a missing store or network is success. */
export async function ipamDel(conf: NetConf, args: CniArgs, rt: IpamRuntime = {}): Promise<void> {
  if (usesClusterStore(conf)) return clusterIpamDel(conf, args);
  const owner = ownerOf(args);
  const res = await resolve(conf, rt, 'read');
  if (!res || !res.store.exists()) return;
  try {
    await res.store.transact((state) => state.releaseOwner(owner));
  } catch (e) {
    throw toCniError(e);
  }
}

/** The owner must hold an address in every range set. */
export async function ipamCheck(conf: NetConf, args: CniArgs, rt: IpamRuntime = {}): Promise<void> {
  if (usesClusterStore(conf)) return clusterIpamCheck(conf, args);
  const owner = ownerOf(args);
  const res = await resolve(conf, rt, 'read');
  if (!res) throw new CniError(ErrorCode.InvalidNetworkConfig, `network of ${JSON.stringify(conf.name)} does not exist (anymore)`);
  let held;
  try {
    held = (await res.store.read()).ownedBy(owner);
  } catch (e) {
    throw toCniError(e);
  }
  res.rangeSets.forEach((set, idx) => {
    if (!held.some((r) => rangeForAddr(res.staticSets?.[idx] ?? set, r))) {
      throw new CniError(
        ErrorCode.UnknownContainer,
        `${owner.containerID}/${owner.ifname} holds no address in range set ${idx} of network "${res.network}"`,
      );
    }
  });
}

/** CNI 1.1 GC: release every allocation not owned by an attachment in conf["cni.dev/valid-attachments"]. */
export async function ipamGc(conf: NetConf, _args?: CniArgs, rt: IpamRuntime = {}): Promise<{ released: string[] }> {
  if (usesClusterStore(conf)) return { released: [] }; // a dead host's addresses go with its lease
  const valid = conf['cni.dev/valid-attachments'];
  if (!Array.isArray(valid)) throw invalid('GC needs "cni.dev/valid-attachments" (an array of {containerID, ifname})');
  for (const [i, v] of valid.entries()) {
    if (!v || typeof v.containerID !== 'string' || typeof v.ifname !== 'string') {
      throw invalid(`cni.dev/valid-attachments[${i}] must be {"containerID": string, "ifname": string}`);
    }
  }
  const res = await resolve(conf, rt, 'read');
  if (!res || !res.store.exists()) return { released: [] };
  try {
    const released = await res.store.transact((state) => gcState(state, valid));
    return { released: released.map((r) => formatAddr(r)) };
  } catch (e) {
    throw toCniError(e);
  }
}
