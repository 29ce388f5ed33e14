// The Docker driver's part of `tsnet network reload`: every rule it owns, made again from its records — each
// network's forwarding rules (plugins/shared/firewall) while its bridge has ports, its masquerade rule, and each
// endpoint's published ports — after `nft flush ruleset`, a firewall reload, or a firewall that started after
// the driver's networks. Each owner's rules are replaced in one batch: running it twice changes nothing.
import { Netns } from '../../native/netns.js';
import { stateRoot } from '../../common/paths.js';
import { removeBridgeFirewall, replaceBridgeFirewall } from '../shared/firewall.js';
import { publish } from '../shared/publish.js';
import { firewallOfNetwork, portMappings, portsOwnerOf, putMasquerade } from './network.js';
import { DriverState } from './state.js';

/** Re-creates the rules of every network of the driver; a line per network. */
export async function reloadDockerDriver(root?: string): Promise<string[]> {
  const state = new DriverState(stateRoot(root));
  const endpoints = state.endpoints();
  const lines: string[] = [];
  const host = Netns.current();
  try {
    for (const net of state.networks()) {
      const br = await host.rtnl.findLink(net.bridge);
      const ports = br?.kind === 'bridge' ? (await host.rtnl.links({ master: br.index })).length : 0;
      const fw = firewallOfNetwork(net);
      if (ports) await replaceBridgeFirewall(fw);
      else await removeBridgeFirewall(net.bridge);
      const masq = await putMasquerade(net);
      const on = endpoints.filter((e) => e.network === net.id);
      let published = 0;
      for (const ep of on) {
        if (!ep.ports?.length || !ep.address) continue;
        await publish(portsOwnerOf(ep.id), net.bridge, { ipv4: ep.address.split('/')[0]! }, portMappings(ep.ports), { replace: true });
        published += ep.ports.length;
      }
      const what = [fw.internal ? 'internal' : fw.isolation ? 'isolated' : '', fw.portIsolation ? 'icc=false' : ''].filter(Boolean);
      lines.push(
        `docker network ${net.id.slice(0, 12)}: bridge ${net.bridge}${what.length ? ` (${what.join(', ')})` : ''}, ` +
          `${on.length} endpoint(s), ${masq ? 'masqueraded' : 'no masquerade'}, ${published} published port(s)`,
      );
    }
  } finally {
    host.close();
  }
  return lines;
}
