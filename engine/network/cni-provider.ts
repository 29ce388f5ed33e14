// The engine's CNI-backed networks, through the same invoker an orchestrator would use (in-process for
// tsnet's own plugins): the default `bridge` network (Linux bridge tsnet0, subnet picked like docker0's),
// user networks from `tsnet network create`, and published ports (-p) as DNAT rules in tsnet's nftables table.
import { Netns } from '../../native/netns.js';
import { removeRules } from '../../native/nftables.js';
import { currentHostUsage } from '../../ipam/host-usage.js';
import { NetworkRegistry, type NetworkRecord } from '../../ipam/networks.js';
import { ResultCache, cacheDir } from '../../plugins/cni/cache.js';
import { parseConfig, type NetworkConfigList } from '../../plugins/cni/conflist.js';
import { toInternal } from '../../plugins/cni/convert.js';
import { Invoker } from '../../plugins/cni/invoke.js';
import { inProcessPlugins } from '../../plugins/registry.js';
import { TsnetError } from '../errors.js';
import type { Endpoint } from './driver.js';
import type { CniSeamRequest, CniSeamResult } from './cni-seam.js';
import { attachConflist, conflistFor } from './conflists.js';
import { bridgeNameOf, DEFAULT_BRIDGE, DEFAULT_NETWORK, masqOwner } from './owners.js';
import { publishPorts, unpublishPorts } from './ports.js';

/** The network a bridge/named mode means: `bridge` is the default network. */
function networkName(req: CniSeamRequest): string {
  if (req.mode.kind === 'bridge') return DEFAULT_NETWORK;
  if (req.mode.kind === 'network') return req.mode.name;
  throw new TsnetError(`--net attach:${req.mode.spec}`, 'not a bridge network', 'internal: attach networks take attachConflist');
}

/** For ADD: the network's record; the default network is made on first use, a named one must exist. */
async function networkForAdd(reg: NetworkRegistry, name: string): Promise<NetworkRecord> {
  if (name === DEFAULT_NETWORK) return reg.ensureAuto({ name, hostUsage: currentHostUsage, options: { bridge: DEFAULT_BRIDGE } });
  const rec = reg.get(name);
  if (!rec) throw new TsnetError(`--net ${name}`, 'no such network', `create it with 'tsnet network create ${name}', or see 'tsnet network ls'`);
  return rec;
}

function endpointOf(result: ReturnType<typeof toInternal>, ifname: string): Endpoint {
  const idx = result.interfaces?.findIndex((i) => i.sandbox && i.name === ifname) ?? -1;
  const ips = (result.ips ?? []).filter((ip) => ip.interface === undefined || ip.interface === idx);
  const ip = ips.find((i) => !i.address.includes(':')) ?? ips[0];
  if (!ip) throw new TsnetError(`network interface ${ifname}`, 'the plugins returned no address for it', 'check the network configuration');
  const [addr, len] = ip.address.split('/');
  return { ip: addr!, prefixLen: Number(len), gateway: ip.gateway ?? '', mac: (idx >= 0 ? result.interfaces![idx]!.mac : '') ?? '', iface: ifname };
}

export async function cniProvider(command: 'ADD' | 'DEL', req: CniSeamRequest): Promise<CniSeamResult> {
  let list: NetworkConfigList;
  let key: string;
  let bridge: string | undefined;
  if (req.mode.kind === 'attach') {
    ({ list, key } = attachConflist(req.mode.spec));
    if (command === 'ADD' && req.ports.length) throw new TsnetError('-p', 'ports are published on tsnet bridge networks only', `drop -p, or use --net bridge (the container is reachable at its own address on ${key})`);
  } else {
    const reg = new NetworkRegistry();
    const name = networkName(req);
    const rec = command === 'DEL' ? reg.get(name) : await networkForAdd(reg, name);
    if (!rec) {
      // DEL on a network that never existed (ADD failed on it) or was force-removed with its allocations
      // (`network rm -f`): its addresses went with it, but this attachment's veth and rules are still ours.
      // The DEL is replayed with the config the attachment was made with (the invoker's cache), so the bridge
      // plugin removes what it made; tsnet-ipam finds the network gone and holds nothing. Without a cached
      // config (the ADD failed, and rolled itself back) only the rules are looked for, by their owner tags.
      // (A DEL never makes the default network.)
      await unpublishPorts(req.containerId, req.ifname);
      const cache = new ResultCache(cacheDir());
      const cached = cache.read(name, req.containerId, req.ifname);
      let list: NetworkConfigList | undefined;
      try {
        list = cached ? parseConfig(cached.config, `cached config of network "${name}"`) : undefined;
      } catch {
        list = undefined; // damaged or from another version: fall back as if there were none
      }
      if (list) {
        await new Invoker({ inProcess: inProcessPlugins(), cache }).del(list, { containerId: req.containerId, netns: req.netnsPath, ifname: req.ifname });
      } else {
        // The veth, if any, goes when the container's netns is deleted.
        await removeRules(masqOwner(name, req.containerId, req.ifname));
        cache.remove(name, req.containerId, req.ifname);
      }
      return { networks: {}, ports: [] };
    }
    list = conflistFor(rec, req.ifname === 'eth0');
    key = rec.name;
    bridge = bridgeNameOf(rec);
  }
  const invoker = new Invoker({ inProcess: inProcessPlugins(), cache: new ResultCache(cacheDir()) });
  const rt = { containerId: req.containerId, netns: req.netnsPath, ifname: req.ifname, ...(req.ip ? { args: { IP: req.ip } } : {}) };
  if (command === 'DEL') {
    await unpublishPorts(req.containerId, req.ifname);
    await invoker.del(list, rt);
    return { networks: {}, ports: [] };
  }
  const result = toInternal(await invoker.add(list, rt), `result of network "${key}"`);
  try {
    const ep = endpointOf(result, req.ifname);
    if (bridge) await publishPorts(req.containerId, req.ifname, bridge, ep.ip, req.ports);
    return { networks: { [key]: ep }, ...(result.dns && Object.keys(result.dns).length ? { dns: result.dns } : {}), ports: req.ports };
  } catch (e) {
    await unpublishPorts(req.containerId, req.ifname);
    await invoker.del(list, rt).catch(() => undefined);
    throw e;
  }
}

/**
 * After `network rm`: removes the network's Linux bridge when no container port is left on it. A bridge that
 * still has ports (`network rm -f` under running containers) is kept, and the answer says so, with the fix.
 */
export async function removeNetworkBridge(rec: NetworkRecord): Promise<string | undefined> {
  const host = Netns.current();
  try {
    const name = bridgeNameOf(rec);
    const br = await host.rtnl.findLink(name);
    if (!br || br.kind !== 'bridge') return undefined;
    const ports = (await host.rtnl.links()).filter((l) => l.masterIndex === br.index);
    if (ports.length) return `its bridge ${name} is kept: it still has ports (${ports.map((p) => p.name).join(', ')}); remove the containers on it, then the bridge with 'ip link del ${name}'`;
    await host.rtnl.deleteLinkIfExists(br.index);
    return undefined;
  } finally {
    host.close();
  }
}
