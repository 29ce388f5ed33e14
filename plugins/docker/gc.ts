// What a driver killed in the middle of a call leaves behind, reclaimed when it starts again: an endpoint record
// whose address is free in its tsnet pool (Docker gave the endpoint up — its CreateEndpoint's answer was lost —
// and released the address; NetworkDriver.addressReleased does the same when that release comes later); a veth
// made by CreateEndpoint whose endpoint record was never written (a port of a driver network's bridge, named
// with the driver's prefix, that no record names), and an address of a tsnet pool that no endpoint record holds
// (Docker asked for it, and could not give it back while the driver was down). Only pools under a network of
// this driver are looked at: a pool serving another network driver (-d bridge --ipam-driver tsnet) has endpoints
// the records do not know. An address Docker got from the killed driver and is about to hand to the next
// CreateEndpoint is claimed again by that CreateEndpoint (NetworkDriver.createEndpoint).
import { Netns } from '../../native/netns.js';
import { formatAddr, parseCidr } from '../../ipam/cidr.js';
import type { NetworkRegistry } from '../../ipam/networks.js';
import { removeBridgeFirewallIfUnused } from '../shared/firewall.js';
import { poolOfSubnet } from './ipam.js';
import { HOST_VETH_PREFIX, type DriverState } from './state.js';
import { removeEndpoint } from './network.js';

export interface Reclaimed {
  /** Host veth names deleted. */
  veths: string[];
  /** Addresses released, as "pool address". */
  addresses: string[];
  /** Endpoint records (short ids) removed: their address was free in the pool, Docker had given them up. */
  endpoints: string[];
}

export async function reclaim(state: DriverState, reg: NetworkRegistry): Promise<Reclaimed> {
  const out: Reclaimed = { veths: [], addresses: [], endpoints: [] };
  const networks = state.networks();
  const host = Netns.current();
  try {
    // Records of endpoints Docker gave up while the driver was down (it released their addresses).
    for (const net of networks) {
      const pool = net.subnet ? poolOfSubnet(reg, net.subnet) : undefined;
      if (!pool) continue;
      const st = await reg.store(pool.name).read();
      for (const ep of state.endpoints().filter((e) => e.network === net.id && e.address))
        if (!st.isHeld(parseCidr(ep.address!).addr)) {
          await removeEndpoint(state, ep, host);
          out.endpoints.push(ep.id.slice(0, 12));
        }
    }
    const endpoints = state.endpoints();
    const named = new Set(endpoints.map((e) => e.hostVeth));
    for (const bridge of new Set(networks.map((n) => n.bridge))) {
      const br = await host.rtnl.findLink(bridge);
      if (!br || br.kind !== 'bridge') continue;
      const orphans = (await host.rtnl.links({ master: br.index })).filter(
        (l) => l.kind === 'veth' && l.name.startsWith(HOST_VETH_PREFIX) && !named.has(l.name),
      );
      for (const l of orphans) {
        await host.rtnl.deleteLinkIfExists(l.index); // its peer goes with it
        out.veths.push(l.name);
      }
      if (orphans.length) await removeBridgeFirewallIfUnused(host, bridge);
    }
  } finally {
    host.close();
  }
  const endpoints = state.endpoints();
  const held = new Set(endpoints.filter((e) => e.address).map((e) => formatAddr(parseCidr(e.address!).addr)));
  for (const net of networks) {
    if (!net.subnet) continue;
    const pool = poolOfSubnet(reg, net.subnet);
    if (!pool) continue; // Docker's own IPAM: its addresses are not tsnet's to keep
    await reg.store(pool.name).transact((s) => {
      for (const r of [...s.all()]) {
        const a = formatAddr(r);
        if (held.has(a)) continue;
        s.releaseAddr(r);
        out.addresses.push(`${pool.name} ${a}`);
      }
    });
  }
  return out;
}
