// Published ports as DNAT rules in tsnet's nftables table, the one implementation for every way in that
// publishes them (the engine's -p, the Docker driver's port map): packets to a local address (any, or the given
// host IP) on the host port go to the container's address, from outside (prerouting) and from the host itself
// (output), loopback included; a container reaching its own published port through a host address comes back
// to itself (hairpin). A host port another owner's rules already publish is refused, under the table's lock.
// The rules carry a note "[ip daddr HOSTIP ]PROTO dport PORT" (IPv6: "ip6 [daddr HOSTIP ]PROTO dport PORT")
// that says which host port they hold, read back by hostPortOfNote.
import { Netns } from '../../native/netns.js';
import { addRules, dnatRule, masqueradeRule, replaceRules, type NftRule, type RuleText } from '../../native/nftables.js';
import { PluginError } from './errors.js';

/** One published port: the host side (hostIp absent: every local IPv4 address; '::': every IPv6 one). */
export interface PortMapping {
  hostIp?: string;
  hostPort: number;
  containerPort: number;
  protocol: 'tcp' | 'udp';
}

/** The host side of a published port: what two owners may not both take. */
export type HostPort = Pick<PortMapping, 'hostIp' | 'hostPort' | 'protocol'>;

/** The address family a mapping's host side is in: 6 for an IPv6 host IP ('::' = every IPv6 address). */
export function hostFamily(p: Pick<PortMapping, 'hostIp'>): 4 | 6 {
  return p.hostIp?.includes(':') ? 6 : 4;
}

/** The note on a published port's DNAT rules; read back by hostPortOfNote. */
export function portNote(p: HostPort): string {
  if (hostFamily(p) === 6) return `ip6 ${p.hostIp !== '::' ? `daddr ${p.hostIp} ` : ''}${p.protocol} dport ${p.hostPort}`;
  return `${p.hostIp ? `ip daddr ${p.hostIp} ` : ''}${p.protocol} dport ${p.hostPort}`;
}

/** The inverse of portNote; undefined for a note it did not write. */
export function hostPortOfNote(note: string): HostPort | undefined {
  const words = note.split(' ');
  const v6 = words[0] === 'ip6';
  if (v6) words.splice(0, 1, 'ip');
  const ipd = words[0] === 'ip' && words[1] === 'daddr';
  const rest = ipd ? words.slice(3) : v6 ? words.slice(1) : words;
  const [protocol, dport, n, ...more] = rest;
  const hostPort = Number(n);
  if ((protocol !== 'tcp' && protocol !== 'udp') || dport !== 'dport' || !Number.isInteger(hostPort) || more.length || (ipd && !words[2]))
    return undefined;
  const hostIp = ipd ? words[2] : v6 ? '::' : undefined;
  return { ...(hostIp ? { hostIp } : {}), protocol, hostPort };
}

/** Same protocol, port and family, and the addresses overlap (either is every local address, or both are the same). */
export function hostPortsClash(a: HostPort, b: HostPort): boolean {
  const any = (h: HostPort) => !h.hostIp || h.hostIp === '::';
  return (
    a.protocol === b.protocol && a.hostPort === b.hostPort && hostFamily(a) === hostFamily(b) && (any(a) || any(b) || a.hostIp === b.hostIp)
  );
}

/** Says who holds a host port, from the owner tag of its rules (e.g. "container 0123456789ab"). */
export type HolderName = (owner: string) => string;
const ruleOwner: HolderName = (owner) => `tsnet rule ${owner}`;

/** How a mapping is written on a command line, for messages. */
export function portSpec(p: PortMapping): string {
  const ip = p.hostIp ? (hostFamily(p) === 6 ? `[${p.hostIp}]:` : `${p.hostIp}:`) : '';
  return `-p ${ip}${p.hostPort || ''}${p.hostPort ? ':' : ''}${p.containerPort}/${p.protocol}`;
}

/** Refuses a port that another owner's rules (`existing`, the table's rules) already publish. */
export function refuseTaken(owner: string | undefined, ports: PortMapping[], existing: RuleText[], holder: HolderName = ruleOwner): void {
  for (const p of ports)
    for (const r of existing) {
      if (r.chain !== 'prerouting' || r.owner === owner) continue;
      const held = hostPortOfNote(r.text);
      if (!held || !hostPortsClash(p, held)) continue;
      throw new PluginError(
        portSpec(p),
        `host port ${p.hostPort}/${p.protocol} is already published by ${holder(r.owner)}`,
        'pick another host port, or remove what publishes it',
      );
    }
}

/** Where published ports go: the container's IPv4 address and, on a dual-stack network, its IPv6 one. */
export interface PublishTarget {
  ipv4: string;
  ipv6?: string;
}

/**
 * Per port: DNAT from outside and from the host (to the container's address of the host side's family), the
 * masquerade loopback-sourced IPv4 packets need, and the hairpin masquerade (the container's answer to itself
 * must go back through the host to be un-NATed; its bridge port is in hairpin mode). IPv6 has no
 * route_localnet, so [::1] is not forwarded.
 */
export function publishRules(to: PublishTarget, ports: PortMapping[]): NftRule[] {
  const rules: NftRule[] = [];
  for (const p of ports) {
    const note = portNote(p);
    const v6 = hostFamily(p) === 6;
    const dst = v6 ? to.ipv6 : to.ipv4;
    if (!dst)
      throw new PluginError(
        portSpec(p),
        'the container has no IPv6 address to forward to',
        'publish on an IPv4 address, or use a network with IPv6',
      );
    const dnat = dnatRule({
      ...(p.hostIp && p.hostIp !== '::' ? { hostIp: p.hostIp } : {}),
      proto: p.protocol,
      port: p.hostPort,
      to: dst,
      toPort: p.containerPort,
    });
    rules.push({ chain: 'prerouting', exprs: dnat, note }, { chain: 'output', exprs: dnat, note });
    if (!v6)
      rules.push({
        chain: 'postrouting',
        exprs: masqueradeRule({ saddr: '127.0.0.0/8', daddr: dst, proto: p.protocol, dport: p.containerPort }),
      });
    rules.push({ chain: 'postrouting', exprs: masqueradeRule({ saddr: dst, daddr: dst, proto: p.protocol, dport: p.containerPort }) });
  }
  return rules;
}

/**
 * Publishes `ports` to `to` behind `bridge`, tagged `owner`. A host port another owner's rules publish is
 * refused (changing nothing; `holder` names that owner in the message); `replace` (a reload) swaps out
 * whatever rules `owner` has, in one batch, without that check.
 */
export async function publish(
  owner: string,
  bridge: string,
  to: PublishTarget,
  ports: PortMapping[],
  opts: { replace?: boolean; holder?: HolderName } = {},
): Promise<void> {
  if (!ports.length) return;
  const rules = publishRules(to, ports);
  // Loopback-sourced packets may leave only through a bridge with route_localnet on it.
  const host = Netns.current();
  try {
    host.setSysctl(`net/ipv4/conf/${bridge}/route_localnet`, 1);
  } finally {
    host.close();
  }
  if (opts.replace) await replaceRules(owner, rules);
  else await addRules(owner, rules, (existing) => refuseTaken(owner, ports, existing, opts.holder));
}
