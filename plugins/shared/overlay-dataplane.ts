// The overlay's data plane on one host, for the overlay plugin and tsnetd's store watcher: per network a
// bridge (`tsov<VNI>`) holding a kernel vxlan device (`tsvx<VNI>`, UDP 4789 by default, learning off, its
// local address the host's VTEP), the MTU lowered by VXLAN's 50 bytes of overhead. Remote hosts and their
// address blocks come from the store, never from flooding or multicast: per remote VTEP an all-zero FDB entry
// (head-end replication of broadcast), and per address of every block a remote host holds its MAC (fixed by the
// address) → that host's VTEP and, on the vxlan device, a permanent neighbour entry IP → MAC: the device answers
// local containers' ARP for remote ones itself (proxy, ARP suppression), so no ARP crosses the underlay. Whole
// blocks, not containers: a container started in a block its host holds is reachable at once, with no store
// round trip on any host; an address of the block no container has goes to that host and is dropped there.
import { isNetlinkError } from '../../native/netlink/errors.js';
import type { Netns } from '../../native/netns.js';
import type { Link } from '../../native/netlink/link.js';
import type { BlockHolder, ClusterStore, Member, OverlayNetwork } from '../../ipam/cluster/store.js';
import { macForAddress, parseStoreUrl } from '../../ipam/cluster/url.js';
import { first, formatAddr, last, parseCidr } from '../../ipam/cidr.js';
import { kernelError, PluginError } from './errors.js';
import { CniCode } from '../../common/errors.js';

/**
 * The resolver of an overlay network on this host (tsnet-dns): the resolver address of each block the host holds
 * (ipam/cluster/local.ts resolverAddress), a /32 on the network's bridge — so no route from the host into the
 * overlay — and, so that answers from it find their way back to the bridge, one policy rule per address
 * (`from ADDR lookup RESOLVER_TABLE`) and in that table one route per network (its subnet on its bridge): only
 * what the host sends from a resolver address is routed into the overlay.
 */
export const RESOLVER_TABLE = 29811; // 0x7473, "ts"
export const RESOLVER_RULE_PRIORITY = 90;
const AF_INET = 2;
const RT_SCOPE_LINK = 253;

/** `address` (a block's resolver address) on the network's bridge, with its rule and the network's route. */
export async function ensureOverlayResolver(host: Netns, net: OverlayNetwork, bridge: Link, address: string): Promise<void> {
  const have = await host.rtnl.addresses({ family: AF_INET, link: bridge.index });
  try {
    if (!have.some((a) => a.cidr === `${address}/32`)) await host.rtnl.addAddress(bridge.index, `${address}/32`);
    await host.rtnl.addRule({ family: AF_INET, from: `${address}/32`, table: RESOLVER_TABLE, priority: RESOLVER_RULE_PRIORITY });
  } catch (e) {
    if (!isNetlinkError(e, 'EEXIST'))
      kernelError(e, `give overlay network "${net.name}" its resolver address ${address} on ${bridge.name}`, CODES);
  }
  try {
    await host.rtnl.replaceRoute({ dst: net.subnet, oif: bridge.index, table: RESOLVER_TABLE, scope: RT_SCOPE_LINK });
  } catch (e) {
    kernelError(e, `route the answers of overlay network "${net.name}"'s resolver (table ${RESOLVER_TABLE})`, CODES);
  }
}

/**
 * Removes the resolver addresses (and their rules) on the network's bridge that `keep` does not list — those of
 * blocks this host no longer holds; all of them with no `keep`. Returns the addresses removed.
 */
export async function removeOverlayResolvers(host: Netns, net: Pick<OverlayNetwork, 'vni'>, keep?: Set<string>): Promise<string[]> {
  const br = await host.rtnl.findLink(bridgeName(net));
  if (!br || br.kind !== 'bridge') return [];
  const gone: string[] = [];
  for (const a of await host.rtnl.addresses({ family: AF_INET, link: br.index })) {
    if (a.prefixLen !== 32 || keep?.has(a.address)) continue;
    await host.rtnl.deleteAddress(br.index, a.cidr).catch((e) => {
      if (!isNetlinkError(e, 'EADDRNOTAVAIL')) throw e;
    });
    await deleteResolverRule(host, a.address);
    gone.push(a.address);
  }
  return gone;
}

async function deleteResolverRule(host: Netns, address: string): Promise<void> {
  for (const r of await host.rtnl.rules(AF_INET)) {
    if (r.table !== RESOLVER_TABLE || r.from !== `${address}/32`) continue;
    await host.rtnl
      .deleteRule({ family: AF_INET, from: r.from, table: RESOLVER_TABLE, priority: r.priority ?? RESOLVER_RULE_PRIORITY })
      .catch((e) => {
        if (!isNetlinkError(e, 'ENOENT')) throw e;
      });
  }
}

/** VXLAN over IPv4 adds 50 bytes (outer Ethernet 14 + IPv4 20 + UDP 8 + VXLAN 8). */
export const VXLAN_OVERHEAD = 50;
export const ZERO_MAC = '00:00:00:00:00:00';
const CODES = { kernel: CniCode.Internal, unsupported: CniCode.InvalidNetworkConfig };

export const bridgeName = (net: Pick<OverlayNetwork, 'vni'>): string => `tsov${net.vni}`;
export const vxlanName = (net: Pick<OverlayNetwork, 'vni'>): string => `tsvx${net.vni}`;

/** The host's underlay address: `vtep` if given, else its address on the link that routes to the store's first host. */
export async function localVtep(host: Netns, storeUrl: string, vtep?: string): Promise<{ vtep: string; mtu: number }> {
  const [addrs, links] = await Promise.all([host.rtnl.addresses({ family: 2 }), host.rtnl.links()]);
  const mtuOf = (index: number): number => links.find((l) => l.index === index)?.mtu ?? 1500;
  if (vtep) {
    const a = addrs.find((x) => x.cidr.split('/')[0] === vtep);
    if (!a)
      throw new PluginError(
        `VTEP ${vtep}`,
        'is not an address of this host',
        'give one of this host\'s underlay addresses ("vtep" / --vtep)',
        CniCode.InvalidNetworkConfig,
      );
    return { vtep, mtu: mtuOf(a.index) };
  }
  const target = new URL(parseStoreUrl(storeUrl).hosts[0]!).hostname;
  const routes = await host.rtnl.routes({ family: 2 });
  const toNum = (ip: string): number => ip.split('.').reduce((n, o) => n * 256 + Number(o), 0);
  const inNet = (ip: string, cidr: string): boolean => {
    const [base, len] = cidr.split('/');
    const l = Number(len);
    if (l === 0) return true;
    const mask = 2 ** 32 - 2 ** (32 - l);
    return (toNum(ip) & mask) >>> 0 === (toNum(base!) & mask) >>> 0;
  };
  // the most specific route to the store (a loopback store: the default route's link)
  const isIp = /^\d+\.\d+\.\d+\.\d+$/.test(target);
  const match = routes
    .filter((r) => r.oif !== undefined && (r.dst === 'default' || (isIp && !target.startsWith('127.') && inNet(target, r.dst))))
    .sort((a, b) => Number(b.dst === 'default' ? 0 : b.dst.split('/')[1]) - Number(a.dst === 'default' ? 0 : a.dst.split('/')[1]))[0];
  const a = match && addrs.find((x) => x.index === match.oif && !x.cidr.startsWith('127.'));
  if (!a) {
    throw new PluginError(
      'overlay VTEP',
      `no address of this host routes to the store ${storeUrl}`,
      'give the underlay address to use ("vtep" in the config, --vtep on the command line)',
      CniCode.InvalidNetworkConfig,
    );
  }
  return { vtep: a.cidr.split('/')[0]!, mtu: mtuOf(a.index) };
}

/** The network's bridge and vxlan device on this host, made if missing, up; returns the bridge. */
export async function ensureOverlayDevices(
  host: Netns,
  net: OverlayNetwork,
  vtep: string,
  underlayMtu: number,
): Promise<{ bridge: Link; mtu: number; created: boolean }> {
  const mtu = underlayMtu - VXLAN_OVERHEAD;
  const brName = bridgeName(net);
  const vxName = vxlanName(net);
  let bridge = await host.rtnl.findLink(brName);
  if (bridge && bridge.kind !== 'bridge') {
    throw new PluginError(
      `link "${brName}"`,
      `exists and is a ${bridge.kind ?? 'device'}, not the bridge of overlay network "${net.name}"`,
      `remove it`,
      CniCode.InvalidNetworkConfig,
    );
  }
  if (!bridge) {
    try {
      bridge = await host.rtnl.createLink({ kind: 'bridge', name: brName, mtu, up: true });
    } catch (e) {
      if (isNetlinkError(e, 'EEXIST')) bridge = await host.rtnl.link(brName);
      else kernelError(e, `create bridge "${brName}"`, CODES);
    }
  }
  if (!bridge.up) await host.rtnl.setLink(bridge.index, { up: true });
  const vx = await host.rtnl.findLink(vxName);
  if (vx && (vx.kind !== 'vxlan' || vx.vxlan?.vni !== net.vni || vx.vxlan?.local !== vtep)) {
    // another VTEP address or VNI (the host's underlay changed): made again
    await host.rtnl.deleteLinkIfExists(vx.index);
  }
  let created = false;
  if (!vx || vx.kind !== 'vxlan' || vx.vxlan?.vni !== net.vni || vx.vxlan?.local !== vtep) {
    created = true;
    try {
      await host.rtnl.createLink({
        kind: 'vxlan',
        name: vxName,
        vni: net.vni,
        local: vtep,
        port: net.port,
        learning: false,
        proxy: true,
        mtu,
        masterIndex: bridge.index,
        up: true,
      });
    } catch (e) {
      if (!isNetlinkError(e, 'EEXIST')) kernelError(e, `create vxlan "${vxName}" (VNI ${net.vni}, local ${vtep}, port ${net.port})`, CODES);
    }
  }
  return { bridge, mtu, created };
}

export interface SyncReport {
  added: number;
  removed: number;
}

/** The addresses of the blocks other members hold, with their MAC and VTEP (the subnet's own first and last left out). */
export function remoteAddresses(
  net: OverlayNetwork,
  me: string,
  members: Member[],
  blocks: BlockHolder[],
): { address: string; mac: string; vtep: string }[] {
  const vtepOf = new Map(members.map((m) => [m.host, m.vtep]));
  const subnet = parseCidr(net.subnet).prefix;
  const out: { address: string; mac: string; vtep: string }[] = [];
  for (const b of blocks) {
    const vtep = vtepOf.get(b.host);
    if (b.host === me || !vtep) continue; // a holder that is not a member (addresses only) has no VTEP
    const p = parseCidr(b.block).prefix;
    for (let v = first(p); v <= last(p); v++) {
      if (v === first(subnet) || v === last(subnet)) continue;
      const address = formatAddr({ family: p.family, value: v });
      out.push({ address, mac: macForAddress(address), vtep });
    }
  }
  return out;
}

/**
 * Makes the vxlan device's FDB and the bridge's neighbour entries say what the store says: every other
 * member's VTEP in the flooding list, every address of the blocks the other members hold as MAC → its VTEP and
 * IP → MAC. Entries of hosts and blocks no longer in the store are removed. No device here (no container of this
 * network on this host yet): nothing to do.
 */
export async function syncOverlay(
  host: Netns,
  net: OverlayNetwork,
  me: string,
  members: Member[],
  blocks: BlockHolder[],
): Promise<SyncReport | undefined> {
  const vx = await host.rtnl.findLink(vxlanName(net));
  const br = await host.rtnl.findLink(bridgeName(net));
  if (!vx || !br) return undefined;
  const want = new Set<string>();
  for (const m of members) if (m.host !== me) want.add(`${ZERO_MAC} ${m.vtep}`);
  const remote = remoteAddresses(net, me, members, blocks);
  for (const e of remote) want.add(`${e.mac} ${e.vtep}`);
  const have = new Set((await host.rtnl.fdb(vx.index)).map((f) => `${f.mac} ${f.dst}`));
  let added = 0;
  let removed = 0;
  for (const k of have) {
    if (want.has(k)) continue;
    const [mac, dst] = k.split(' ') as [string, string];
    if (await host.rtnl.deleteFdb({ link: vx.index, mac, dst })) removed++;
  }
  for (const k of want) {
    if (have.has(k)) continue;
    const [mac, dst] = k.split(' ') as [string, string];
    await host.rtnl.appendFdb({ link: vx.index, mac, dst });
    added++;
  }
  // neighbour entries on the vxlan device for remote containers (what its ARP proxy answers with)
  const neigh = (await host.rtnl.neighbours({ family: 2, link: vx.index })).filter((n) => n.ip && n.mac && n.state & 0x80);
  const wantN = new Map(remote.map((e) => [e.address, e.mac]));
  for (const n of neigh) {
    if (wantN.get(n.ip!) === n.mac) continue;
    if (n.mac?.startsWith('02:42:') && (await host.rtnl.deleteNeighbour({ link: vx.index, ip: n.ip! }))) removed++;
  }
  for (const [ip, mac] of wantN) {
    if (neigh.some((n) => n.ip === ip && n.mac === mac)) continue;
    await host.rtnl.setNeighbour({ link: vx.index, ip, mac });
    added++;
  }
  return { added, removed };
}

/** Reads the network's members and blocks from the store and syncs this host's entries. */
export async function syncFromStore(host: Netns, store: ClusterStore, net: OverlayNetwork, me: string): Promise<SyncReport | undefined> {
  const [members, blocks] = await Promise.all([store.members(net.name), store.blocks(net.name)]);
  return syncOverlay(host, net, me, members, blocks);
}

/**
 * When this host leaves an overlay network: its bridge and vxlan device go, unless containers still have ports
 * on the bridge (then both stay, and the answer says why and what to do).
 */
export async function removeOverlayDevices(host: Netns, net: Pick<OverlayNetwork, 'vni'>): Promise<string | undefined> {
  const br = await host.rtnl.findLink(bridgeName(net));
  const vx = await host.rtnl.findLink(vxlanName(net));
  if (br && br.kind === 'bridge') {
    const ports = (await host.rtnl.links()).filter((l) => l.masterIndex === br.index && l.index !== vx?.index);
    if (ports.length) {
      return `its bridge ${br.name} and ${vxlanName(net)} are kept: containers still have ports on it (${ports.map((p) => p.name).join(', ')}); remove them, then 'ip link del ${br.name}' and 'ip link del ${vxlanName(net)}'`;
    }
  }
  await removeOverlayResolvers(host, net); // the rules would outlive the bridge
  if (vx && vx.kind === 'vxlan') await host.rtnl.deleteLinkIfExists(vx.index);
  if (br && br.kind === 'bridge') await host.rtnl.deleteLinkIfExists(br.index);
  return undefined;
}
