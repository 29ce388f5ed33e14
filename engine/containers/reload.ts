// `tsnet network reload`: every firewall rule tsnet owns, made again from its state — the networks of the
// registry (a bridge's forwarding rules: isolation, --internal, the accept rules in other firewalls' forward
// chains that drop), the running containers' addresses (masquerade) and published ports (DNAT) — after `nft
// flush ruleset`, a firewall reload, or a firewall that started after tsnet's networks (as netavark's
// firewall-reload); and the Docker driver's networks and endpoints (plugins/docker/reload). Each owner's rules
// are replaced in one batch, so running it twice changes nothing; a network with no container on its bridge
// keeps no forwarding rules.
import { Netns } from '../../native/netns.js';
import { NetworkRegistry, type NetworkRecord } from '../../ipam/networks.js';
import { replaceRules } from '../../native/nftables.js';
import {
  firewallOf,
  masqueradeRules,
  removeBridgeFirewall,
  replaceBridgeFirewall,
  type FirewallKeys,
} from '../../plugins/shared/firewall.js';
import { masqOwner } from '../../plugins/shared/owners.js';
import { DEFAULT_BRIDGE, DEFAULT_NETWORK } from '../../common/paths.js';
import { conflistFor } from '../network/conflists.js';
import type { Endpoint } from '../network/driver.js';
import { parseNetMode } from '../network/modes.js';
import { publishPorts } from '../network/ports.js';
import type { Container } from './model.js';
import { listContainers } from './store.js';
import { reloadDockerDriver } from '../../plugins/docker/reload.js';

interface Interface {
  c: Container;
  network: string;
  ifname: string;
  ep: Endpoint;
}

/** Every interface of a running container on a registry network: eth0's (run --net) and those of network connect. */
function interfaces(): Interface[] {
  const out: Interface[] = [];
  for (const c of listContainers()) {
    const att = c.state.network;
    if (c.state.status !== 'running' || !att) continue;
    const mode = parseNetMode(c.config.net);
    const first = mode.kind === 'bridge' ? DEFAULT_NETWORK : mode.kind === 'network' ? mode.name : undefined;
    if (first && att.networks[first]) out.push({ c, network: first, ifname: 'eth0', ep: att.networks[first]! });
    for (const x of att.connected ?? []) {
      const ep = att.networks[x.network];
      if (ep) out.push({ c, network: x.network, ifname: x.ifname, ep });
    }
  }
  return out;
}

/** Whether the Linux bridge has ports (a container that is not the engine's — podman on the same bridge — counts). */
async function hasPorts(host: Netns, bridge: string): Promise<boolean> {
  const br = await host.rtnl.findLink(bridge);
  return !!br && br.kind === 'bridge' && (await host.rtnl.links({ master: br.index })).length > 0;
}

/** Re-creates the rules of every network and running container; returns what it did, a line per network. */
export async function reloadFirewall(): Promise<string[]> {
  const nets: NetworkRecord[] = new NetworkRegistry().list();
  const ifs = interfaces();
  const lines: string[] = [];
  const host = Netns.current();
  try {
    for (const rec of nets) {
      if (rec.driver === 'docker') continue; // a pool of the Docker driver: its network is reloaded below
      // The bridge plugin's conf of the network, as its containers' ADDs got it.
      const conf = conflistFor(rec).plugins.find((p) => p.type === 'bridge') as (FirewallKeys & { ipMasq?: boolean }) | undefined;
      if (!conf) {
        lines.push(`${rec.name}: ${rec.driver} network, no firewall rules of its own`); // an overlay: VXLAN, no bridge rules
        continue;
      }
      const fw = firewallOf(conf, DEFAULT_BRIDGE);
      const on = ifs.filter((i) => i.network === rec.name);
      if (!on.length && !(await hasPorts(host, fw.bridge))) {
        await removeBridgeFirewall(fw.bridge);
        continue;
      }
      await replaceBridgeFirewall(fw);
      const what = [fw.internal ? 'internal' : fw.isolation ? 'isolated' : '', fw.portIsolation ? 'icc=false' : ''].filter(Boolean);
      let masq = 0;
      for (const i of on.filter(() => conf.ipMasq)) {
        // The attachment's masquerade, as the bridge plugin's ADD made it.
        await replaceRules(masqOwner(rec.name, i.c.config.id, i.ifname), masqueradeRules(rec.name, [`${i.ep.ip}/${i.ep.prefixLen}`]));
        masq++;
      }
      let published = 0;
      for (const i of on.filter((x) => x.ifname === 'eth0' && x.c.state.network!.ports.length)) {
        await publishPorts(i.c.config.id, i.ifname, fw.bridge, i.ep.ip, i.c.state.network!.ports, {
          replace: true,
          ...(i.ep.ip6 ? { cip6: i.ep.ip6 } : {}),
        });
        published += i.c.state.network!.ports.length;
      }
      lines.push(
        `${rec.name}: bridge ${fw.bridge}${what.length ? ` (${what.join(', ')})` : ''}, ${on.length} container interface(s), ` +
          `${masq} masqueraded, ${published} published port(s)`,
      );
    }
  } finally {
    host.close();
  }
  lines.push(...(await reloadDockerDriver()));
  return lines.length ? lines : ['no network has containers: no rule to make'];
}
