// The host side of an attachment: what kind of interface <hostif> is, the bridge (created when missing), and
// --take-uplink: a NIC enslaved to the bridge with its addresses and routes moved onto the bridge.
import type { Netns } from '../../native/netns.js';
import type { Link } from '../../native/netlink/link.js';
import type { Address } from '../../native/netlink/addr.js';
import type { RouteEntry, RouteSpec } from '../../native/netlink/route.js';
import { PluginError, AttachErrorCode } from '../shared/errors.js';
import { isNetlinkError } from '../../native/netlink/errors.js';
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

/** A route as taken off the NIC: what it takes to put it back on another interface (JSON, for the record). */
export interface SavedRoute {
  dst: string;
  family: number;
  table: number;
  protocol: number;
  scope: number;
  gateway?: string;
  priority?: number;
  prefsrc?: string;
}

/** What taking a NIC into a bridge moves: its global addresses and its routes but the kernel's own. */
export interface UplinkMove {
  nic: string;
  nicIndex: number;
  /** Whether the NIC was up before (it is brought up as a bridge port; given back down if it was). */
  nicWasUp: boolean;
  addresses: string[];
  routes: SavedRoute[];
}

function routeSpec(r: SavedRoute, oif: number): RouteSpec {
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

function saved(r: RouteEntry): SavedRoute {
  return {
    dst: r.dst,
    family: r.family,
    table: r.table,
    protocol: r.protocol,
    scope: r.scope,
    ...(r.gateway ? { gateway: r.gateway } : {}),
    ...(r.priority !== undefined ? { priority: r.priority } : {}),
    ...(r.prefsrc ? { prefsrc: r.prefsrc } : {}),
  };
}

/** Reads what taking `nic` into a bridge will move (before anything moves, so it can be recorded first). */
export async function planUplinkMove(host: Netns, nic: Link): Promise<UplinkMove> {
  const rt = host.rtnl;
  const addrs = (await rt.addresses({ link: nic.index })).filter(movable);
  const routes = (await rt.routes({ table: 'all' })).filter(
    (r) => r.oif === nic.index && r.protocol !== RTPROT_KERNEL && r.type === RTN_UNICAST && (r.family === 2 || r.family === AF_INET6),
  );
  return {
    nic: nic.name,
    nicIndex: nic.index,
    nicWasUp: nic.up,
    addresses: addrs.map((a) => a.cidr),
    routes: routes.map(saved),
  };
}

const isV6 = (cidr: string) => cidr.includes(':');

/**
 * Enslaves the NIC of `move` to `bridge` and moves its global addresses and non-kernel routes onto the bridge
 * (the bridge takes the NIC's MAC, so neighbours' caches stay valid). On failure gives everything back and
 * throws.
 */
export async function takeUplink(host: Netns, bridge: Link, nic: Link, move: UplinkMove): Promise<void> {
  const rt = host.rtnl;
  try {
    if (nic.mac) await rt.setLink(bridge.index, { mac: nic.mac });
    await rt.setLink(nic.index, { masterIndex: bridge.index, up: true });
    await rt.setLink(bridge.index, { up: true });
    for (const cidr of move.addresses) {
      await rt.deleteAddress(nic.index, cidr);
      await rt.addAddress(bridge.index, cidr, { noDad: isV6(cidr) });
    }
    // Link-scope routes first, so gateways are reachable when the routes through them come back.
    for (const r of [...move.routes].sort((x, y) => y.scope - x.scope)) await rt.replaceRoute(routeSpec(r, bridge.index));
  } catch (e) {
    await giveBackUplink(host, bridge.index, move);
    throw new PluginError(
      `uplink ${nic.name}`,
      `could not move it into bridge ${bridge.name}: ${(e as Error).message}`,
      'its addresses and routes were put back; check them with ip addr / ip route',
      AttachErrorCode.Kernel,
    );
  }
}

/** A step that may fail: its failure is noted in `failed` (not thrown), unless its netlink code is benign. */
function stepInto(failed: string[]) {
  return async (what: string, fn: () => Promise<unknown>, benign: string[] = []): Promise<void> => {
    try {
      await fn();
    } catch (e) {
      if (!benign.some((code) => isNetlinkError(e, code))) failed.push(`${what}: ${(e as Error).message}`);
    }
  };
}

/**
 * Undoes takeUplink: the NIC out of the bridge, its addresses and routes back on it, down again if it was.
 * Tolerates what is already undone (so it can be replayed after a crash). Returns what could not be done.
 */
export async function giveBackUplink(host: Netns, bridgeIndex: number, move: UplinkMove): Promise<string[]> {
  const rt = host.rtnl;
  const failed: string[] = [];
  const step = stepInto(failed);
  // The bridge's copies go first (routes, then addresses); whatever of them is already gone, or goes with a
  // bridge about to be deleted, is no loss to the NIC.
  for (const r of move.routes) await rt.deleteRoute(routeSpec(r, bridgeIndex)).catch(() => undefined);
  for (const cidr of move.addresses) await rt.deleteAddress(bridgeIndex, cidr).catch(() => undefined);
  const nic = await rt.findLink(move.nicIndex);
  if (!nic || nic.name !== move.nic) return []; // the NIC is gone: nothing is left to give back
  if (nic.masterIndex === bridgeIndex) await step(`release ${move.nic} from the bridge`, () => rt.setLink(nic.index, { masterIndex: 0 }));
  for (const cidr of move.addresses)
    await step(`put ${cidr} back on ${move.nic}`, () => rt.addAddress(nic.index, cidr, { noDad: isV6(cidr) }), ['EEXIST']);
  for (const r of [...move.routes].sort((x, y) => y.scope - x.scope))
    await step(`put route ${r.dst}${r.gateway ? ` via ${r.gateway}` : ''} back on ${move.nic}`, () =>
      rt.replaceRoute(routeSpec(r, nic.index)),
    );
  if (!move.nicWasUp) await step(`bring ${move.nic} down again`, () => rt.setLink(nic.index, { up: false }));
  return failed;
}

/**
 * Puts a NIC given back to the host (--direct-phys detach: it arrives down, with no address) as it was: up if
 * it was, its global addresses and its routes. Returns what could not be done.
 */
export async function restoreNic(host: Netns, nicIndex: number, move: UplinkMove): Promise<string[]> {
  const rt = host.rtnl;
  const failed: string[] = [];
  const step = stepInto(failed);
  if (move.nicWasUp) await step(`bring ${move.nic} up`, () => rt.setLink(nicIndex, { up: true }));
  for (const cidr of move.addresses)
    await step(`put ${cidr} back on ${move.nic}`, () => rt.addAddress(nicIndex, cidr, { noDad: isV6(cidr) }), ['EEXIST']);
  for (const r of [...move.routes].sort((x, y) => y.scope - x.scope))
    await step(`put route ${r.dst}${r.gateway ? ` via ${r.gateway}` : ''} back on ${move.nic}`, () =>
      rt.replaceRoute(routeSpec(r, nicIndex)),
    );
  return failed;
}
