// Puts a CNI result's addresses and routes on an interface inside the container's netns (the reference
// plugins' ipam.ConfigureIface): up, addresses, then routes — each route via its own gw or the address's — sent to
// the kernel in one datagram.
import { isNetlinkError } from '../../native/netlink/errors.js';
import type { Netns } from '../../native/netns.js';
import type { Result } from '../cni/types.js';

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
}

export async function configureInterface(ns: Netns, ifname: string, result: Result, opts: ConfigureOptions = {}): Promise<void> {
  const rt = ns.rtnl;
  const link = { index: opts.index ?? (await rt.link(ifname)).index };
  const ips = (result.ips ?? []).filter((ip) => ip.interface === undefined || opts.interfaceIndex === undefined || ip.interface === opts.interfaceIndex);
  if (ips.some((ip) => ip.address.includes(':'))) {
    // IPv6 must be enabled on the interface before it takes addresses.
    try {
      ns.setSysctl(`net/ipv6/conf/${ifname}/disable_ipv6`, 0);
    } catch {
      /* IPv6 disabled system-wide: the address add below says so */
    }
  }
  // Up, addresses and routes go to the kernel in one datagram, applied in that order (each on its own).
  const up = rt.setLinkRequest(link.index, { up: true, ...(opts.arpNotify ? { ipv4Conf: { arpNotify: true } } : {}) }, ifname);
  const rest = [
    ...ips.map((ip) => rt.addAddressRequest(link.index, ip.address, { noDad: ip.address.includes(':') && !opts.enableDad }, false, ifname)),
    ...(result.routes ?? []).map((r) => {
      const v6 = r.dst.includes(':');
      const gw = r.gw ?? ips.find((ip) => ip.gateway && ip.gateway.includes(':') === v6)?.gateway;
      const isDefault = r.dst === '0.0.0.0/0' || r.dst === '::/0';
      return rt.replaceRouteRequest({
        dst: isDefault ? (v6 ? 'default6' : 'default') : r.dst,
        ...(gw ? { gateway: gw } : {}),
        oif: link.index,
        ...(r.priority !== undefined ? { priority: r.priority } : {}),
        ...(r.table !== undefined ? { table: r.table } : {}),
        ...(r.mtu !== undefined ? { mtu: r.mtu } : {}),
        ...(r.advmss !== undefined ? { advmss: r.advmss } : {}),
        ...(r.scope !== undefined ? { scope: r.scope } : {}),
      });
    }),
  ];
  const [upError, ...errors] = await rt.inOneTrip([up, ...rest]);
  if (upError && opts.arpNotify && isNetlinkError(upError, 'EAFNOSUPPORT')) {
    // No IPv4 state on the interface (an MTU below 68): the kernel refused the whole 'up'. Bring it up
    // alone, then redo what failed while it was down (a route via a gateway needs the link up).
    await rt.setLink(link.index, { up: true });
    for (const [i, r] of rest.entries()) {
      if (!errors[i]) continue;
      const [again] = await rt.inOneTrip([r]);
      if (again) throw again;
    }
    return;
  }
  const failed = upError ?? errors.find((e) => e !== undefined);
  if (failed) throw failed;
}
