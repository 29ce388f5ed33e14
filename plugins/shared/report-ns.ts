// Reports what a network namespace holds as a CNI result: its interfaces and their addresses (the host and
// container plugins describe a namespace they did not make).
import type { Netns } from '../../native/netns.js';
import type { IpConfig, Interface, Result } from '../cni/types.js';
import { IFF_LOOPBACK } from '../../native/netlink/constants.js';

export async function reportInterfaces(
  ns: Netns,
  sandbox: string,
  cniVersion: string,
  opts: { includeLoopback?: boolean } = {},
): Promise<Result> {
  const links = (await ns.rtnl.links()).filter((l) => opts.includeLoopback || !(l.flags & IFF_LOOPBACK)).sort((a, b) => a.index - b.index);
  const addrs = await ns.rtnl.addresses();
  const interfaces: Interface[] = [];
  const ips: IpConfig[] = [];
  const routes = await ns.rtnl.routes({});
  for (const l of links) {
    const n = interfaces.push({ name: l.name, mac: l.mac ?? '00:00:00:00:00:00', mtu: l.mtu, sandbox }) - 1;
    for (const a of addrs.filter((x) => x.index === l.index && x.scope === 0)) {
      const v6 = a.address.includes(':');
      const gw = routes.find((r) => r.dst === 'default' && r.oif === l.index && r.gateway && r.gateway.includes(':') === v6)?.gateway;
      ips.push({ address: a.cidr, interface: n, ...(gw ? { gateway: gw } : {}) });
    }
  }
  return { cniVersion, interfaces, ips };
}
