// tsnet-ipam with a "store" key: cluster-wide IPAM (like whereabouts) in the cluster store, so that nodes of
// one orchestrator hand out distinct addresses from one subnet. Keys (conf.ipam):
//   "store": "etcd://HOST:2379[,…]" (required here), "subnet" (required the first time; checked after),
//   "network" (default: the config's name), "host" (default: the hostname), "leaseTtl" (default 60 s),
//   "gateway", "routes", "tls": {"ca","cert","key"}, "dataDir" (the host's record, default `<root>/cluster`).
// Addresses come from blocks of this host, tied to its lease (tsnetd --store keeps it alive), and are recorded
// on this host: most ADDs and every DEL need no etcd round trip (ipam/cluster/local.ts).
import { hostname } from 'node:os';
import { CniError, ErrorCode, type CniArgs, type NetConf, type Result } from '../cni/types.js';
import { toCniError } from '../cni/errors.js';
import { parseCidr } from '../../ipam/cidr.js';
import type { ClusterStore, StoreTls } from '../../ipam/cluster/store.js';
import { answerFromRecord, lookupInRecord, recordOf, releaseInRecord } from '../../ipam/cluster/local.js';

interface ClusterIpamConf {
  store: string;
  subnet?: string;
  network?: string;
  host?: string;
  leaseTtl?: number;
  gateway?: string;
  routes?: { dst: string; gw?: string }[];
  tls?: StoreTls;
  dataDir?: string;
}

const invalid = (msg: string): CniError => new CniError(ErrorCode.InvalidNetworkConfig, msg);

/** True when the config asks for the cluster store. */
export function usesClusterStore(conf: NetConf): boolean {
  const ipam = conf.ipam as Record<string, unknown> | undefined;
  return !!ipam && ipam.store !== undefined;
}

function confOf(conf: NetConf): ClusterIpamConf {
  const c = conf.ipam as unknown as ClusterIpamConf;
  if (typeof c.store !== 'string' || !c.store) throw invalid('ipam.store must be a string such as "etcd://HOST:2379"');
  for (const k of ['subnet', 'network', 'host', 'gateway', 'dataDir'] as const) {
    if (c[k] !== undefined && typeof c[k] !== 'string') throw invalid(`ipam.${k} must be a string`);
  }
  if (c.subnet !== undefined) {
    try {
      parseCidr(c.subnet);
    } catch (e) {
      throw invalid(`ipam.subnet: ${(e as Error).message}`);
    }
  }
  if (c.leaseTtl !== undefined && (!Number.isInteger(c.leaseTtl) || c.leaseTtl <= 0))
    throw invalid('ipam.leaseTtl must be a positive integer');
  return c;
}

async function withStore<T>(c: ClusterIpamConf, fn: (s: ClusterStore) => Promise<T>): Promise<T> {
  const { ClusterStore } = await import('../../ipam/cluster/store.js');
  const s = new ClusterStore({ url: c.store, ...(c.tls ? { tls: c.tls } : {}), ...(c.dataDir ? { cacheDir: c.dataDir } : {}) });
  try {
    return await fn(s);
  } catch (e) {
    throw toCniError(e);
  } finally {
    s.close();
  }
}

const ownerOf = (args: CniArgs): void => {
  if (!args.containerId) throw new CniError(ErrorCode.InvalidEnvironment, 'CNI_CONTAINERID is required');
  if (!args.ifname) throw new CniError(ErrorCode.InvalidEnvironment, 'CNI_IFNAME is required');
};

export async function clusterIpamAdd(conf: NetConf, args: CniArgs): Promise<Result> {
  ownerOf(args);
  const c = confOf(conf);
  const req = {
    network: { name: c.network ?? conf.name, ...(c.subnet ? { subnet: c.subnet } : {}) },
    host: c.host ?? hostname(),
    containerId: args.containerId,
    ifname: args.ifname,
  };
  // the host's record first: etcd (and its client) only when it cannot answer
  const got =
    (await record(c).update((s) => answerFromRecord(s, req))) ??
    (await withStore(c, (s) => s.acquire({ ...req, ...(c.leaseTtl ? { leaseTtl: c.leaseTtl } : {}) })));
  const len = parseCidr(got.network.subnet).prefix.length;
  return {
    cniVersion: conf.cniVersion,
    ips: [{ address: `${got.endpoint.address}/${len}`, ...(c.gateway ? { gateway: c.gateway } : {}) }],
    ...(c.routes ? { routes: c.routes } : {}),
  };
}

const record = (c: ClusterIpamConf) => recordOf({ url: c.store, ...(c.dataDir ? { cacheDir: c.dataDir } : {}) }, c.host ?? hostname());

export async function clusterIpamDel(conf: NetConf, args: CniArgs): Promise<void> {
  ownerOf(args);
  const c = confOf(conf);
  await releaseInRecord(record(c), c.network ?? conf.name, args.containerId, args.ifname);
}

export async function clusterIpamCheck(conf: NetConf, args: CniArgs): Promise<void> {
  ownerOf(args);
  const c = confOf(conf);
  const held = lookupInRecord(record(c), c.network ?? conf.name, c.host ?? hostname(), args.containerId, args.ifname);
  if (!held) throw new CniError(ErrorCode.UnknownContainer, `${args.containerId}/${args.ifname} holds no address in ${c.store}`);
}

/** What an ADD would refuse, before anything changes: here only the config (the store is asked at ADD). */
export function clusterIpamPrecheck(conf: NetConf, args: CniArgs): void {
  ownerOf(args);
  confOf(conf);
}
