// Published ports: -p parsing ([hostIp:]hostPort:ctrPort[/tcp|udp]) and the DNAT rules that publish them in
// tsnet's nftables table, tagged `ports:<container id>:<ifname>` so they go with the container's interface.
import { isIP } from 'node:net';
import { Netns } from '../../native/netns.js';
import { addRules, dnatRule, masqueradeRule, removeRules, replaceRules, type NftRule, type RuleText } from '../../native/nftables.js';
import { TsnetError } from '../../common/errors.js';

export interface PortMapping {
  hostIp?: string;
  hostPort: number;
  containerPort: number;
  protocol: 'tcp' | 'udp';
}

function port(s: string, spec: string): number {
  const n = Number(s);
  if (!/^\d+$/.test(s) || n < 1 || n > 65535)
    throw new TsnetError(`-p ${spec}`, `'${s}' is not a port number 1-65535`, 'write -p 8080:80 or -p 127.0.0.1:8080:80/udp');
  return n;
}

export function parsePort(spec: string): PortMapping {
  const [main, proto = 'tcp', ...rest] = spec.split('/');
  if (rest.length || (proto !== 'tcp' && proto !== 'udp'))
    throw new TsnetError(`-p ${spec}`, `protocol '${proto}' is not tcp or udp`, 'write -p 8080:80/tcp or /udp');
  const parts = main.split(':');
  if (parts.length === 2) return { hostPort: port(parts[0], spec), containerPort: port(parts[1], spec), protocol: proto };
  if (parts.length === 3 && isIP(parts[0]) === 4)
    return { hostIp: parts[0], hostPort: port(parts[1], spec), containerPort: port(parts[2], spec), protocol: proto };
  throw new TsnetError(`-p ${spec}`, 'expected hostPort:containerPort', 'write -p 8080:80, -p 8080:80/udp or -p 127.0.0.1:8080:80');
}

export function formatPort(p: PortMapping): string {
  return `${p.hostIp ?? '0.0.0.0'}:${p.hostPort}->${p.containerPort}/${p.protocol}`;
}

// ── The rules ──────────────────────────────────────────────────────────────────────────────────────────

const OWNER_PREFIX = 'ports:';

/** The owner tag of one container interface's published-port rules. */
export function portsOwner(containerId: string, ifname: string): string {
  return `${OWNER_PREFIX}${containerId}:${ifname}`;
}

/** The container whose published-port rules carry `owner`; undefined for any other owner's rules. */
export function portsOwnerContainer(owner: string): string | undefined {
  return owner.startsWith(OWNER_PREFIX) ? owner.slice(OWNER_PREFIX.length).split(':')[0] : undefined;
}

/** The host side of a published port: what two containers may not both take. */
type HostPort = Pick<PortMapping, 'hostIp' | 'hostPort' | 'protocol'>;

/** The note on a published port's DNAT rules, "[ip daddr HOSTIP ]PROTO dport PORT"; read back by hostPortOfNote. */
export function portNote(p: HostPort): string {
  return `${p.hostIp ? `ip daddr ${p.hostIp} ` : ''}${p.protocol} dport ${p.hostPort}`;
}

/** The inverse of portNote; undefined for a note it did not write. */
export function hostPortOfNote(note: string): HostPort | undefined {
  const words = note.split(' ');
  const ipd = words[0] === 'ip' && words[1] === 'daddr';
  const [protocol, dport, n, ...more] = ipd ? words.slice(3) : words;
  const hostPort = Number(n);
  if ((protocol !== 'tcp' && protocol !== 'udp') || dport !== 'dport' || !Number.isInteger(hostPort) || more.length || (ipd && !words[2]))
    return undefined;
  return { ...(ipd ? { hostIp: words[2] } : {}), protocol, hostPort };
}

/** Same protocol and port, and the addresses overlap (either is every local address, or both are the same). */
export function hostPortsClash(a: HostPort, b: HostPort): boolean {
  return a.protocol === b.protocol && a.hostPort === b.hostPort && (!a.hostIp || !b.hostIp || a.hostIp === b.hostIp);
}

/** Refuses a port another container's rules already publish (under the table's lock, before the add). */
function refuseTaken(ports: PortMapping[], existing: RuleText[]): void {
  for (const p of ports) {
    for (const r of existing) {
      const holder = r.chain === 'prerouting' ? portsOwnerContainer(r.owner) : undefined;
      const held = holder === undefined ? undefined : hostPortOfNote(r.text);
      if (!held || !hostPortsClash(p, held)) continue;
      throw new TsnetError(
        `-p ${p.hostIp ? `${p.hostIp}:` : ''}${p.hostPort}:${p.containerPort}/${p.protocol}`,
        `host port ${p.hostPort}/${p.protocol} is already published by container ${holder!.slice(0, 12)}`,
        'pick another host port, or remove that container',
      );
    }
  }
}

/**
 * DNAT for -p: packets to a local address (any, or the given host IP) on hostPort go to the container's
 * address `cip` behind `bridge`, loopback included. `replace` (reload) swaps out whatever rules the interface
 * has, in one batch, without the check that another container holds the port.
 */
export async function publishPorts(
  containerId: string,
  ifname: string,
  bridge: string,
  cip: string,
  ports: PortMapping[],
  opts: { replace?: boolean } = {},
): Promise<void> {
  if (!ports.length) return;
  const rules: NftRule[] = [];
  for (const p of ports) {
    const note = portNote(p);
    const dnat = dnatRule({
      ...(p.hostIp ? { hostIp: p.hostIp } : {}),
      proto: p.protocol,
      port: p.hostPort,
      to: cip,
      toPort: p.containerPort,
    });
    rules.push({ chain: 'prerouting', exprs: dnat, note }, { chain: 'output', exprs: dnat, note });
    // Connections from the host's loopback address need a source the container can answer.
    rules.push({
      chain: 'postrouting',
      exprs: masqueradeRule({ saddr: '127.0.0.0/8', daddr: cip, proto: p.protocol, dport: p.containerPort }),
    });
  }
  // Loopback-sourced packets may only leave through the bridge with route_localnet on it.
  Netns.current().setSysctl(`net/ipv4/conf/${bridge}/route_localnet`, 1);
  if (opts.replace) await replaceRules(portsOwner(containerId, ifname), rules);
  else await addRules(portsOwner(containerId, ifname), rules, (existing) => refuseTaken(ports, existing));
}

/** Removes the interface's published-port rules; idempotent. */
export async function unpublishPorts(containerId: string, ifname: string): Promise<void> {
  await removeRules(portsOwner(containerId, ifname));
}
