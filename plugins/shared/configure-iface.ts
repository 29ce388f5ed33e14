// Puts a CNI result's addresses and routes on an interface inside the container's netns (the reference
// plugins' ipam.ConfigureIface): up, addresses, then routes — each route via its own gw or the address's —
// in two netlink datagrams (up and addresses, then routes). Routes are appended, as the reference's
// RouteAddEcmp does: a second network's default route goes beside the first one's, never in its place.
import { isNetlinkError } from '../../native/netlink/errors.js';
import type { Netns } from '../../native/netns.js';
import type { Result, Route } from '../cni/types.js';
import type { RouteSpec } from '../../native/netlink/route.js';
import { RT_SCOPE_LINK } from '../../native/netlink/constants.js';

export interface ConfigureOptions {
  /** Index of the interface in result.interfaces whose ips to configure (ips without `interface` always count). */
  interfaceIndex?: number;
  /** Duplicate address detection for IPv6 (the bridge plugin's `enabledad`). */
  enableDad?: boolean;
  /** The interface's index, when the caller knows it already (saves a lookup). */
  index?: number;
  /**
   * Set arp_notify with the 'up' (over netlink; the kernel applies it right after the flags): the interface
   * then announces its address when its link or MAC changes later.
   */
  arpNotify?: boolean;
  /**
   * Replace a route the kernel has for the same destination and metric (NLM_F_REPLACE) instead of adding
   * beside it: pipework's "the gateway given becomes the default route". Default false, as the reference.
   */
  replaceRoutes?: boolean;
}

/** A CNI route as the kernel takes it (the one conversion every plugin uses): on interface `oif` if given. */
export function toRouteSpec(r: Route, oif?: number): RouteSpec {
  const v6 = r.dst.includes(':');
  const isDefault = r.dst === '0.0.0.0/0' || r.dst === '::/0';
  return {
    dst: isDefault ? (v6 ? 'default6' : 'default') : r.dst,
    ...(r.gw ? { gateway: r.gw } : {}),
    ...(oif !== undefined ? { oif } : {}),
    ...(r.priority !== undefined ? { priority: r.priority } : {}),
    ...(r.table !== undefined ? { table: r.table } : {}),
    ...(r.mtu !== undefined ? { mtu: r.mtu } : {}),
    ...(r.advmss !== undefined ? { advmss: r.advmss } : {}),
    ...(r.scope !== undefined ? { scope: r.scope } : {}),
  };
}

export async function configureInterface(ns: Netns, ifname: string, result: Result, opts: ConfigureOptions = {}): Promise<void> {
  const rt = ns.rtnl;
  const link = { index: opts.index ?? (await rt.link(ifname)).index };
  const ips = (result.ips ?? []).filter(
    (ip) => ip.interface === undefined || opts.interfaceIndex === undefined || ip.interface === opts.interfaceIndex,
  );
  if (ips.some((ip) => ip.address.includes(':'))) {
    // IPv6 must be enabled on the interface before it takes addresses.
    try {
      ns.setSysctl(`net/ipv6/conf/${ifname}/disable_ipv6`, 0);
    } catch {
      /* IPv6 disabled system-wide: the address add below says so */
    }
  }
  // The up and the addresses go to the kernel in one datagram (applied in that order, each on its own), the
  // routes in a second once those succeeded: no route of an attachment that is failing anyway.
  const up = rt.setLinkRequest(link.index, { up: true, ...(opts.arpNotify ? { ipv4Conf: { arpNotify: true } } : {}) }, ifname);
  const addresses = ips.map((ip) =>
    rt.addAddressRequest(link.index, ip.address, { noDad: ip.address.includes(':') && !opts.enableDad }, false, ifname),
  );
  const [upError, ...addressErrors] = await rt.inOneTrip([up, ...addresses]);
  if (upError && opts.arpNotify && isNetlinkError(upError, 'EAFNOSUPPORT')) {
    // No IPv4 state on the interface (an MTU below 68): the kernel refused the whole 'up'. Bring it up
    // alone; the addresses were tried already (an address needs no carrier).
    await rt.setLink(link.index, { up: true });
  } else if (upError) {
    throw upError;
  }
  const addressError = addressErrors.find((e) => e !== undefined);
  if (addressError) throw addressError;
  const routes = (result.routes ?? []).map((r) => {
    // A route without its own gateway goes via the gateway of the addresses of its family (the reference's
    // rule), unless it is a link-scope route (on-link: no gateway by definition).
    const v6 = r.dst.includes(':');
    const gw = r.gw ?? (r.scope === RT_SCOPE_LINK ? undefined : ips.find((ip) => ip.gateway && ip.gateway.includes(':') === v6)?.gateway);
    const spec = toRouteSpec({ ...r, ...(gw ? { gw } : {}) }, link.index);
    return opts.replaceRoutes ? rt.replaceRouteRequest(spec) : rt.appendRouteRequest(spec);
  });
  if (!routes.length) return;
  // EEXIST of an append: this very route is there already (an ADD retried), which is what was asked.
  const routeError = (await rt.inOneTrip(routes)).find((e) => e !== undefined && (opts.replaceRoutes || !isNetlinkError(e, 'EEXIST')));
  if (routeError) throw routeError;
}
