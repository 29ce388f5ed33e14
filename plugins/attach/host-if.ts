// The host side of an attachment: what kind of interface <hostif> is, the bridge (created when missing), and
// --take-uplink: a NIC enslaved to the bridge with its addresses and routes moved onto the bridge.
import type { Netns } from '../../native/netns.js';
import type { Link } from '../../native/netlink/link.js';
import type { Address } from '../../native/netlink/addr.js';
import type { RouteEntry, RouteSpec } from '../../native/netlink/route.js';
import { PluginError, AttachErrorCode } from '../shared/errors.js';
import { IFF_LOOPBACK, RT_TABLE_MAIN, RTN_UNICAST, RTPROT_KERNEL } from '../../native/netlink/constants.js';

const AF_INET6 = 10;
/** Kinds that carry Ethernet frames but cannot be a bridge port or a macvlan parent. */
const NOT_BRIDGEABLE = new Set(['ipvlan', 'ipvtap', 'vrf', 'bond_slave']);
/** Kinds whose IFLA_LINK is the device they sit on (a veth's is its peer, not its parent). */
const STACKED = new Set(['vlan', 'macvlan', 'macvtap', 'ipvlan', 'ipvtap']);

export type HostIfKind = 'bridge' | 'nic';

/** A bridge, an Ethernet NIC (physical, veth, vxlan, vlan, tap…), or an error naming why it is neither. */
export function classifyHostIf(link: Link): HostIfKind {
  if (link.kind === 'bridge') return 'bridge';
  const why =
    link.flags & IFF_LOOPBACK
      ? 'is the loopback interface'
      : !link.mac
        ? `has no Ethernet address (a ${link.kind ?? 'point-to-point'} device carries IP packets, not frames)`
        : link.kind && NOT_BRIDGEABLE.has(link.kind)
          ? `is a ${link.kind} device, which cannot be bridged`
          : undefined;
  if (why)
    throw new PluginError(
      `host interface ${link.name}`,
      `${why}: it is neither a bridge nor a NIC`,
      'give a Linux bridge (a missing name creates one, e.g. br0) or an Ethernet NIC',
      AttachErrorCode.NotBridgeOrNic,
    );
  return 'nic';
}

/** A NIC that may become a bridge port: Ethernet, not already in another bridge. */
export async function checkUplink(host: Netns, name: string, bridgeName: string): Promise<Link> {
  const nic = await host.rtnl.findLink(name);
  if (!nic) throw new PluginError(`uplink ${name}`, `no such interface in ${host.label}`, "check the name with 'ip link'");
  if (classifyHostIf(nic) === 'bridge') throw new PluginError(`uplink ${name}`, 'is a bridge, not a NIC', `attach to ${name} directly`);
  if (nic.masterIndex) {
    const master = await host.rtnl.findLink(nic.masterIndex);
    if (master?.name !== bridgeName)
      throw new PluginError(
        `uplink ${name}`,
        `is already a port of ${master?.name ?? `interface #${nic.masterIndex}`}`,
        `attach to ${master?.name ?? 'that bridge'} instead, or release it first (ip link set ${name} nomaster)`,
        AttachErrorCode.NotBridgeOrNic,
      );
  }
  return nic;
}

/**
 * The host's default route (IPv4 or IPv6, any table) that leaves through `nic` — directly, as one path of a
 * multipath route, or through a VLAN or macvlan stacked on it — as `ip route` would print it; undefined when
 * there is none. Such a NIC is the host's uplink.
 */
export async function defaultRouteThrough(host: Netns, nic: Link): Promise<string | undefined> {
  const links = await host.rtnl.links();
  const byIndex = new Map(links.map((l) => [l.index, l]));
  const onNic = (oif: number | undefined) => {
    if (oif === undefined) return false;
    const l = byIndex.get(oif);
    return oif === nic.index || (!!l && l.linkIndex === nic.index && l.linkNetnsId === undefined && STACKED.has(l.kind ?? ''));
  };
  for (const r of await host.rtnl.routes({ table: 'all' })) {
    if (r.dst !== 'default' || r.type !== RTN_UNICAST) continue;
    const paths = r.nexthops ?? [{ oif: r.oif, gateway: r.gateway }];
    const path = paths.find((p) => onNic(p.oif));
    if (!path) continue;
    const dev = byIndex.get(path.oif!)?.name ?? nic.name;
    return [
      r.family === AF_INET6 ? 'default (IPv6)' : 'default',
      path.gateway && `via ${path.gateway}`,
      `dev ${dev}`,
      r.table !== RT_TABLE_MAIN && `table ${r.table}`,
    ]
      .filter(Boolean)
      .join(' ');
  }
  return undefined;
}

function movable(a: Address): boolean {
  return a.scope === 0 && !(a.family === AF_INET6 && a.address.toLowerCase().startsWith('fe80:'));
}

function routeSpec(r: RouteEntry, oif: number): RouteSpec {
  const dst = r.dst === 'default' && r.family === AF_INET6 ? 'default6' : r.dst;
  return {
    dst,
    oif,
    table: r.table,
    protocol: r.protocol,
    scope: r.scope,
    ...(r.gateway ? { gateway: r.gateway } : {}),
    ...(r.priority !== undefined ? { priority: r.priority } : {}),
    ...(r.prefsrc ? { prefsrc: r.prefsrc } : {}),
  };
}

/**
 * Enslaves `nic` to `bridge` and moves its global addresses and non-kernel routes onto the bridge (the
 * bridge takes the NIC's MAC, so neighbours' caches stay valid). Returns an undo that puts them back.
 */
export async function takeUplink(host: Netns, bridge: Link, nic: Link): Promise<() => Promise<void>> {
  const rt = host.rtnl;
  const addrs = (await rt.addresses({ link: nic.index })).filter(movable);
  const routes = (await rt.routes({ table: 'all' })).filter(
    (r) => r.oif === nic.index && r.protocol !== RTPROT_KERNEL && r.type === RTN_UNICAST && (r.family === 2 || r.family === AF_INET6),
  );
  const moved: string[] = [];
  const undo = async () => {
    for (const r of routes) await rt.deleteRoute(routeSpec(r, bridge.index)).catch(() => undefined);
    for (const cidr of moved) await rt.deleteAddress(bridge.index, cidr).catch(() => undefined);
    await rt.setLink(nic.index, { masterIndex: 0 }).catch(() => undefined);
    for (const cidr of moved) await rt.addAddress(nic.index, cidr).catch(() => undefined);
    for (const r of routes) await rt.replaceRoute(routeSpec(r, nic.index)).catch(() => undefined);
  };
  try {
    if (nic.mac) await rt.setLink(bridge.index, { mac: nic.mac });
    await rt.setLink(nic.index, { masterIndex: bridge.index, up: true });
    await rt.setLink(bridge.index, { up: true });
    for (const a of addrs) {
      await rt.deleteAddress(nic.index, a.cidr);
      moved.push(a.cidr);
      await rt.addAddress(bridge.index, a.cidr, { noDad: a.family === AF_INET6 });
    }
    // Link-scope routes first, so gateways are reachable when the routes through them come back.
    for (const r of [...routes].sort((x, y) => y.scope - x.scope)) await rt.replaceRoute(routeSpec(r, bridge.index));
  } catch (e) {
    await undo();
    throw new PluginError(
      `uplink ${nic.name}`,
      `could not move it into bridge ${bridge.name}: ${(e as Error).message}`,
      'its addresses and routes were put back; check them with ip addr / ip route',
      AttachErrorCode.Kernel,
    );
  }
  return undo;
}
