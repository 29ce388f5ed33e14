// Published ports as DNAT rules in tsnet's nftables table, for every way in that publishes them (the Docker
// driver now; the engine's engine/network/ports.ts writes the same rules and notes and can move onto this):
// packets to a local address (any, or the given host IP) on the host port go to the container's address,
// from outside (prerouting) and from the host itself (output), loopback included. A host port another
// owner's rules already publish is refused, under the table's lock.
import { Netns } from '../../native/netns.js';
import { addRules, dnatRule, masqueradeRule, type NftRule, type RuleText } from '../../native/nftables.js';
import { PluginError } from './errors.js';

export interface Published {
  proto: 'tcp' | 'udp';
  /** One host address, or every local one when absent. */
  hostIp?: string;
  hostPort: number;
  port: number;
}

/** The note on a published port's rules, "[ip daddr HOSTIP ]PROTO dport PORT" (the engine's format). */
export function publishNote(p: Pick<Published, 'proto' | 'hostIp' | 'hostPort'>): string {
  return `${p.hostIp ? `ip daddr ${p.hostIp} ` : ''}${p.proto} dport ${p.hostPort}`;
}

/** The inverse of publishNote; undefined for a note it did not write. */
export function noteHostPort(note: string): Pick<Published, 'proto' | 'hostIp' | 'hostPort'> | undefined {
  const words = note.split(' ');
  const ipd = words[0] === 'ip' && words[1] === 'daddr';
  const [proto, dport, n, ...more] = ipd ? words.slice(3) : words;
  const hostPort = Number(n);
  if ((proto !== 'tcp' && proto !== 'udp') || dport !== 'dport' || !Number.isInteger(hostPort) || more.length || (ipd && !words[2]))
    return undefined;
  return { ...(ipd ? { hostIp: words[2] } : {}), proto, hostPort };
}

function clash(a: Pick<Published, 'proto' | 'hostIp' | 'hostPort'>, b: Pick<Published, 'proto' | 'hostIp' | 'hostPort'>): boolean {
  return a.proto === b.proto && a.hostPort === b.hostPort && (!a.hostIp || !b.hostIp || a.hostIp === b.hostIp);
}

/** DNAT of each port to `to` (prerouting and output), and the masquerade loopback-sourced packets need. */
export function publishRules(to: string, ports: Published[]): NftRule[] {
  const rules: NftRule[] = [];
  for (const p of ports) {
    const note = publishNote(p);
    const dnat = dnatRule({ ...(p.hostIp ? { hostIp: p.hostIp } : {}), proto: p.proto, port: p.hostPort, to, toPort: p.port });
    rules.push({ chain: 'prerouting', exprs: dnat, note }, { chain: 'output', exprs: dnat, note });
    rules.push({ chain: 'postrouting', exprs: masqueradeRule({ saddr: '127.0.0.0/8', daddr: to, proto: p.proto, dport: p.port }) });
  }
  return rules;
}

/**
 * Publishes `ports` to `to` behind `bridge`, tagged `owner`; refuses (changing nothing) a host port that a rule
 * of another owner publishes.
 */
export async function publish(owner: string, bridge: string, to: string, ports: Published[]): Promise<void> {
  if (!ports.length) return;
  // Loopback-sourced packets may leave only through a bridge with route_localnet on it.
  const host = Netns.current();
  try {
    host.setSysctl(`net/ipv4/conf/${bridge}/route_localnet`, 1);
  } finally {
    host.close();
  }
  await addRules(owner, publishRules(to, ports), (existing: RuleText[]) => {
    for (const p of ports)
      for (const r of existing) {
        if (r.chain !== 'prerouting' || r.owner === owner) continue;
        const held = noteHostPort(r.text);
        if (held && clash(p, held))
          throw new PluginError(
            `-p ${p.hostIp ? `${p.hostIp}:` : ''}${p.hostPort}:${p.port}/${p.proto}`,
            `host port ${p.hostPort}/${p.proto} is already published (tsnet rule ${r.owner})`,
            'pick another host port, or remove the container that has it',
          );
      }
  });
}
