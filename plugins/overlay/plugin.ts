// The overlay plugin: a container's interface on a VXLAN network that spans hosts, its address unique across
// the cluster (the cluster store in etcd, ipam/cluster/). Config keys:
//   "store": "etcd://HOST:2379[,HOST:2379…]" (required; "etcds://" for TLS, with "tls": {"ca","cert","key"})
//   "network": NAME (default: the config's "name"); "subnet", "vni", "port": create the network with these,
//      or check them against the stored ones when it exists (a mismatch is refused)
//   "host": this host's name in the store (default: the hostname); "vtep": its underlay address (default: its
//   address on the link that routes to the store); "leaseTtl": seconds (default 60; tsnetd keeps it alive);
//   "dataDir": where the host records its lease, blocks and addresses (default `<root>/cluster`)
//   "resolver": true — give the container a nameserver on this host's bridge for tsnet-dns, chained after this
//      plugin, to serve (the resolver address of the container's address block, a /32 on the bridge; the result's
//      `dns.nameservers` names it): the container's name and those of the network's containers on every host
// ADD: an address from one of the host's blocks — from the host's own record, without asking etcd (or loading
// its client), when its lease is known to live and a block it holds has room; else the network is created or
// joined, the host registered under its lease and a block claimed in etcd — then bridge + vxlan made, a veth into the container
// (MAC fixed by the address, MTU lowered by VXLAN's overhead), and, when etcd was asked anyway or the devices are
// new, the FDB/neighbour entries of the other hosts' blocks synced from the store. DEL: the veth goes, the
// address is released in the host's record (no etcd). tsnetd (`tsnet daemon --store …`) renews the lease and
// keeps the entries in step as blocks and hosts come and go.
import { hostname } from 'node:os';
import { Netns } from '../../native/netns.js';
import type { PluginEntry } from '../cni/skel.js';
import { CniError, ErrorCode, type CniArgs, type NetConf, type Plugin, type Result } from '../cni/types.js';
import { createVethPort, type PortErrors } from '../shared/bridge-port.js';
import { configureInterface } from '../shared/configure-iface.js';
import { PluginError } from '../shared/errors.js';
import { ensureOverlayDevices, ensureOverlayResolver, localVtep, syncFromStore } from '../shared/overlay-dataplane.js';
import { hostUsage } from '../../ipam/host-usage.js';
import { parseCidr } from '../../ipam/cidr.js';
import type { ClusterStore, StoreTls } from '../../ipam/cluster/store.js';
import { answerFromRecord, lookupInRecord, recordOf, releaseInRecord, resolverFor } from '../../ipam/cluster/local.js';

export interface OverlayConf extends NetConf {
  store?: string;
  network?: string;
  subnet?: string;
  vni?: number;
  port?: number;
  host?: string;
  vtep?: string;
  leaseTtl?: number;
  tls?: StoreTls;
  dataDir?: string;
  resolver?: boolean;
}

const invalid = (msg: string, fix = ''): CniError => new CniError(ErrorCode.InvalidNetworkConfig, msg, fix);

function check(conf: OverlayConf): void {
  if (typeof conf.store !== 'string' || !conf.store) throw invalid('overlay: "store" is required', 'give "store": "etcd://HOST:2379"');
  for (const k of ['network', 'subnet', 'host', 'vtep', 'dataDir'] as const) {
    if (conf[k] !== undefined && typeof conf[k] !== 'string') throw invalid(`overlay: "${k}" must be a string`);
  }
  for (const k of ['vni', 'port', 'leaseTtl'] as const) {
    if (conf[k] !== undefined && (!Number.isInteger(conf[k]) || (conf[k] as number) <= 0))
      throw invalid(`overlay: "${k}" must be a positive integer`);
  }
  if (conf.resolver !== undefined && typeof conf.resolver !== 'boolean') throw invalid('overlay: "resolver" must be true or false');
  if (conf.vni !== undefined && conf.vni > 16777215) throw invalid('overlay: "vni" must be at most 16777215 (24 bits)');
  if (conf.subnet !== undefined) {
    try {
      parseCidr(conf.subnet);
    } catch (e) {
      throw invalid(`overlay: "subnet": ${(e as Error).message}`);
    }
  }
}

/** The store client (etcd3 is loaded only by plugins that use a store). */
export async function openStore(conf: { store: string; tls?: StoreTls; dataDir?: string }): Promise<ClusterStore> {
  const { ClusterStore } = await import('../../ipam/cluster/store.js');
  return new ClusterStore({ url: conf.store, ...(conf.tls ? { tls: conf.tls } : {}), ...(conf.dataDir ? { cacheDir: conf.dataDir } : {}) });
}

const portErrors: PortErrors = {
  codes: { kernel: ErrorCode.Internal, unsupported: ErrorCode.InvalidNetworkConfig, bridgeFull: ErrorCode.TryAgainLater },
  notABridge: (l) => new PluginError(`link "${l.name}"`, 'is not a bridge', 'remove it', ErrorCode.InvalidNetworkConfig),
  interfaceExists: () => invalid('the container already has an interface of that name'),
};

const networkName = (conf: OverlayConf): string => conf.network ?? conf.name;
const hostName = (conf: OverlayConf): string => conf.host ?? hostname();
const record = (conf: OverlayConf) => recordOf({ url: conf.store!, ...(conf.dataDir ? { cacheDir: conf.dataDir } : {}) }, hostName(conf));

const overlayPlugin: Plugin<OverlayConf> = {
  async add(conf, args: CniArgs): Promise<Result> {
    check(conf);
    // the etcd client is loaded only when etcd must be asked: a start the host's record answers never loads it
    let store: ClusterStore | undefined;
    const etcd = async (): Promise<ClusterStore> =>
      (store ??= await openStore(conf as { store: string; tls?: StoreTls; dataDir?: string }));
    const host = Netns.current();
    const ctr = Netns.open(args.netns);
    try {
      const me = hostName(conf);
      const { vtep, mtu: underlayMtu } = await localVtep(host, conf.store!, conf.vtep);
      const req = {
        network: {
          name: networkName(conf),
          ...(conf.subnet ? { subnet: conf.subnet } : {}),
          ...(conf.vni ? { vni: conf.vni } : {}),
          ...(conf.port ? { port: conf.port } : {}),
        },
        host: me,
        vtep,
        containerId: args.containerId,
        ifname: args.ifname,
      };
      const fast = await record(conf).update((s) => answerFromRecord(s, req));
      const acquireFromStore = async () => {
        const usage = await hostUsage(host);
        const routes = usage.filter((u) => u.what.startsWith('route ')).map((u) => u.prefix);
        return (await etcd()).acquire({
          ...req,
          network: { ...req.network, occupied: usage },
          routes,
          ...(conf.leaseTtl ? { leaseTtl: conf.leaseTtl } : {}),
        });
      };
      const { network, endpoint: ep, fromCache } = fast ? { ...fast, fromCache: true } : await acquireFromStore();
      let made = false;
      try {
        const { bridge, mtu, created } = await ensureOverlayDevices(host, network, vtep, underlayMtu);
        const hostLink = await createVethPort(
          host,
          ctr,
          { bridge, ifname: args.ifname, prefix: 'veo', mtu, mac: ep.mac, queues: 1 },
          portErrors,
        );
        made = true;
        const prefix = parseCidr(network.subnet).prefix.length;
        const result: Result = {
          cniVersion: conf.cniVersion,
          interfaces: [
            { name: hostLink.name, mac: hostLink.mac ?? '' },
            { name: args.ifname, mac: ep.mac, sandbox: args.netns },
          ],
          ips: [{ address: `${ep.address}/${prefix}`, interface: 1 }],
        };
        await configureInterface(ctr, args.ifname, result, { interfaceIndex: 1 });
        if (conf.resolver) {
          // the nameserver tsnet-dns (chained next) listens on: this host's address in the container's block
          const nameserver = resolverFor(ep.address, network.subnet, network.blockPrefix);
          await ensureOverlayResolver(host, network, bridge, nameserver);
          result.dns = { nameservers: [nameserver] };
        }
        // the other hosts' entries: tsnetd keeps them; here only when etcd was asked anyway, or the devices are new
        if (!fromCache) await syncFromStore(host, await etcd(), network, me);
        else if (created) await syncFromStore(host, await etcd(), network, me).catch(() => undefined); // tsnetd fills them in
        return result;
      } catch (e) {
        if (made) await ctr.rtnl.deleteLinkIfExists(args.ifname).catch(() => undefined);
        await releaseInRecord(record(conf), network.name, args.containerId, args.ifname).catch(() => undefined);
        throw e;
      }
    } finally {
      ctr.close();
      host.close();
      store?.close();
    }
  },

  async del(conf, args) {
    check(conf);
    // the kernel first (the container's interface goes even when the store is down), then the address
    if (args.netns) {
      let ctr: Netns | undefined;
      try {
        ctr = Netns.open(args.netns);
      } catch {
        /* the namespace is gone, and the interface with it */
      }
      if (ctr) {
        try {
          await ctr.rtnl.deleteLinkIfExists(args.ifname);
        } finally {
          ctr.close();
        }
      }
    }
    // the address goes back to the host's record (no etcd): the block stays this host's
    await releaseInRecord(record(conf), networkName(conf), args.containerId, args.ifname);
  },

  async check(conf, args) {
    check(conf);
    const ctr = Netns.open(args.netns);
    try {
      const ep = lookupInRecord(record(conf), networkName(conf), hostName(conf), args.containerId, args.ifname);
      if (!ep)
        throw new CniError(
          ErrorCode.UnknownContainer,
          `overlay: ${args.containerId}/${args.ifname} holds no address in network "${networkName(conf)}"`,
        );
      const addrs = await ctr.rtnl.addresses({ link: args.ifname });
      if (!addrs.some((a) => a.cidr.split('/')[0] === ep.address)) {
        throw new CniError(ErrorCode.Internal, `overlay: ${args.ifname} in ${args.netns} lacks its address ${ep.address}`);
      }
    } finally {
      ctr.close();
    }
  },

  async status(conf) {
    check(conf);
    const store = await openStore(conf as { store: string; tls?: StoreTls; dataDir?: string });
    try {
      await store.networks();
    } catch (e) {
      throw new CniError(50, (e as Error).message, 'start etcd or fix "store"');
    } finally {
      store.close();
    }
  },
};

export const overlayEntry: PluginEntry = {
  plugin: overlayPlugin as Plugin,
  opts: { name: 'overlay', about: 'CNI overlay plugin (tsnet): VXLAN across hosts, addresses from etcd' },
};
