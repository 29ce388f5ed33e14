// Published ports: -p parsing ([hostIp:]hostPort:ctrPort[/tcp|udp]) and the DNAT rules that publish them in
// tsnet's nftables table, tagged `ports:<container id>:<ifname>` so they go with the container's interface.
import { closeSync } from 'node:fs';
import { isIP } from 'node:net';
import { isSysError, native } from '../../native/addon.js';
import { Netns } from '../../native/netns.js';
import {
  addRules,
  dnatRule,
  masqueradeRule,
  removeRules,
  replaceRules,
  ruleTexts,
  type NftRule,
  type RuleText,
} from '../../native/nftables.js';
import { TsnetError } from '../../common/errors.js';
import { formatAddr, parseAddr } from '../../ipam/cidr.js';

export interface PortMapping {
  hostIp?: string;
  hostPort: number;
  containerPort: number;
  protocol: 'tcp' | 'udp';
}

const PORT_FIX = 'write -p 8080:80, -p 80 (a free host port), -p 8080-8081:80-81, -p 127.0.0.1:8080:80, -p [::]:8080:80 or -p 53:53/udp';

/** The address family a mapping's host side is in: 6 for an IPv6 host IP ('::' = every IPv6 address). */
export function hostFamily(p: Pick<PortMapping, 'hostIp'>): 4 | 6 {
  return p.hostIp?.includes(':') ? 6 : 4;
}

function port(s: string, spec: string): number {
  const n = Number(s);
  if (!/^\d+$/.test(s) || n < 1 || n > 65535) throw new TsnetError(`-p ${spec}`, `'${s}' is not a port number 1-65535`, PORT_FIX);
  return n;
}

/** "80" or "8080-8081": the first and last port. */
function portRange(s: string, spec: string): [number, number] {
  const [a, b, ...more] = s.split('-');
  if (more.length) throw new TsnetError(`-p ${spec}`, `'${s}' is not a port or a range FIRST-LAST`, PORT_FIX);
  const first = port(a!, spec);
  const last = b === undefined ? first : port(b, spec);
  if (last < first) throw new TsnetError(`-p ${spec}`, `range '${s}' ends before it starts`, PORT_FIX);
  return [first, last];
}

/**
 * One -p as Docker reads it: [hostIp:][hostPort[-last]:]ctrPort[-last][/tcp|udp]. No host port (or an empty
 * one, `127.0.0.1::80`) means a free port from the ephemeral range: hostPort 0 until the port is bound.
 */
export function parsePortSpec(spec: string): PortMapping[] {
  const [main, proto = 'tcp', ...rest] = spec.split('/');
  if (rest.length || (proto !== 'tcp' && proto !== 'udp'))
    throw new TsnetError(`-p ${spec}`, `protocol '${proto}' is not tcp or udp`, 'write -p 8080:80/tcp or /udp');
  // an IPv6 host IP is written in brackets, as Docker takes it: [::]:8080:80, [fd00::1]::80
  const v6 = /^\[([^\]]*)\]:(.*)$/.exec(main!);
  const parts = v6 ? [v6[1]!, ...v6[2]!.split(':')] : main!.split(':');
  let hostIp: string | undefined;
  let hostPart: string | undefined;
  let ctrPart: string;
  if (v6 && parts.length !== 3) throw new TsnetError(`-p ${spec}`, 'expected [IPv6]:hostPort:containerPort', PORT_FIX);
  if (parts.length === 1) ctrPart = parts[0]!;
  else if (parts.length === 2) [hostPart, ctrPart] = parts as [string, string];
  else if (parts.length === 3) [hostIp, hostPart, ctrPart] = parts as [string, string, string];
  else throw new TsnetError(`-p ${spec}`, 'expected [hostIp:][hostPort:]containerPort (an IPv6 host IP in brackets)', PORT_FIX);
  if (hostIp !== undefined && isIP(hostIp) !== (v6 ? 6 : 4))
    throw new TsnetError(`-p ${spec}`, `'${hostIp}' is not an ${v6 ? 'IPv6' : 'IPv4'} address`, PORT_FIX);
  if (hostIp === '0.0.0.0') hostIp = undefined;
  if (hostIp && v6) hostIp = formatAddr(parseAddr(hostIp)); // one spelling: '::', 'fd00::1'
  const [c0, c1] = portRange(ctrPart, spec);
  const [h0, h1] = hostPart ? portRange(hostPart, spec) : [0, 0];
  if (hostPart && h1 - h0 !== c1 - c0)
    throw new TsnetError(`-p ${spec}`, `host range ${hostPart} and container range ${ctrPart} differ in length`, PORT_FIX);
  const out: PortMapping[] = [];
  for (let i = 0; i <= c1 - c0; i++)
    out.push({ ...(hostIp ? { hostIp } : {}), hostPort: h0 ? h0 + i : 0, containerPort: c0 + i, protocol: proto });
  return out;
}

/** One -p that names a single mapping (kept for callers that publish one port). */
export function parsePort(spec: string): PortMapping {
  const all = parsePortSpec(spec);
  if (all.length !== 1) throw new TsnetError(`-p ${spec}`, 'names more than one port', PORT_FIX);
  return all[0]!;
}

// ── The reservation: a bound socket per published port, held by the container's supervisor ─────────────

/** Published ports with their host ports bound: `fds` are to be held (and closed) by whoever keeps them. */
export interface HeldPorts {
  ports: PortMapping[];
  fds: number[];
}

export function releaseHeldPorts(h: HeldPorts): void {
  for (const fd of h.fds.splice(0)) {
    try {
      closeSync(fd);
    } catch {
      /* closed */
    }
  }
}

/**
 * -p on a dual-stack network, as Docker with ip6tables: a mapping with no host IP is published on every IPv4
 * and every IPv6 address of the host (a second mapping, host IP '::', same host port). On an IPv4-only
 * network an IPv6 host IP is refused: the container has no IPv6 address to forward to.
 */
export function dualStackPorts(ports: PortMapping[], ipv6: boolean, network: string): PortMapping[] {
  const out: PortMapping[] = [];
  for (const p of ports) {
    if (hostFamily(p) === 6 && !ipv6)
      throw new TsnetError(
        `-p [${p.hostIp}]:${p.hostPort || ''}:${p.containerPort}/${p.protocol}`,
        `network "${network}" has no IPv6, so the container has no IPv6 address to forward to`,
        "publish on an IPv4 address, or run the container on a network made with 'tsnet network create --ipv6 --subnet fd…/64'",
      );
    out.push(p);
    if (ipv6 && !p.hostIp) out.push({ ...p, hostIp: '::' });
  }
  return out;
}

/**
 * Binds every published host port (as docker-proxy does), so a port a host process already uses is refused
 * before anything is made, and no host process can take it while the container holds it. Host port 0 gets a
 * free port from the ephemeral range — the same one for the IPv6 twin dualStackPorts adds after it. On a
 * refusal nothing stays bound.
 */
export async function reservePorts(ports: PortMapping[]): Promise<HeldPorts> {
  const held: HeldPorts = { ports: [], fds: [] };
  try {
    for (let i = 0; i < ports.length; i++) {
      const p = ports[i]!;
      const twin = ports[i + 1];
      if (p.hostPort === 0 && !p.hostIp && twin && isTwin(p, twin)) {
        // a port free on both families: a free IPv4 one, then the same on IPv6 (another pair if that is taken)
        let pair: [number, number, number] | undefined;
        for (let tries = 0; tries < 20 && !pair; tries++) {
          const [fd4, port] = await bindOne(p);
          try {
            pair = [fd4, (await bindOne({ ...twin, hostPort: port }))[0], port];
          } catch (e) {
            closeSync(fd4);
            if (!(e instanceof TsnetError && /address already in use/.test(e.reason))) throw e;
          }
        }
        if (!pair)
          throw new TsnetError(`-p ${p.containerPort}/${p.protocol}`, 'found no host port free on both IPv4 and IPv6', 'give a host port');
        held.fds.push(pair[0], pair[1]);
        held.ports.push({ ...p, hostPort: pair[2] }, { ...twin, hostPort: pair[2] });
        i++;
        continue;
      }
      const [fd, bound] = await bindOne(p);
      held.fds.push(fd);
      held.ports.push({ ...p, hostPort: bound });
    }
  } catch (e) {
    releaseHeldPorts(held);
    throw e;
  }
  return held;
}

/** The IPv6 twin of an IPv4 mapping with no host IP (dualStackPorts). */
function isTwin(p: PortMapping, twin: PortMapping): boolean {
  return twin.hostIp === '::' && twin.hostPort === p.hostPort && twin.containerPort === p.containerPort && twin.protocol === p.protocol;
}

/** Binds one mapping's host port: [fd, port bound]; a refusal says why in Docker's words. */
async function bindOne(p: PortMapping): Promise<[number, number]> {
  const addr = p.hostIp ?? '0.0.0.0';
  try {
    return native().bindPort(hostFamily(p), p.protocol === 'udp', addr, p.hostPort);
  } catch (e) {
    const ip = p.hostIp ? (hostFamily(p) === 6 ? `[${p.hostIp}]:` : `${p.hostIp}:`) : '';
    const spec = `-p ${ip}${p.hostPort || ''}${p.hostPort ? ':' : ''}${p.containerPort}/${p.protocol}`;
    if (isSysError(e, 'EADDRINUSE')) {
      refuseTaken([p], await ruleTexts().catch(() => []));
      throw new TsnetError(
        spec,
        `host port ${p.hostPort}/${p.protocol} on ${addr}: address already in use`,
        'pick another host port, or stop what listens on it (ss -lntup shows it)',
      );
    }
    if (isSysError(e, 'EADDRNOTAVAIL'))
      throw new TsnetError(
        spec,
        `host IP ${addr} is not an address of this host`,
        "give one of the host's addresses (ip addr), or none for all",
      );
    throw new TsnetError(
      spec,
      `cannot bind host port ${p.hostPort}/${p.protocol} on ${addr}: ${(e as Error).message}`,
      'pick another host port',
    );
  }
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

/**
 * The note on a published port's DNAT rules, "[ip daddr HOSTIP ]PROTO dport PORT" — for IPv6 "ip6 [daddr
 * HOSTIP ]PROTO dport PORT" ("ip6 tcp dport 8080": every IPv6 address); read back by hostPortOfNote.
 */
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
 * has, in one batch, without the check that another container holds the port. A mapping on an IPv6 host
 * address ('::': every one) goes to the container's IPv6 address `cip6` (a dual-stack network), as Docker's
 * ip6tables DNAT; IPv6 has no route_localnet, so [::1] is not forwarded (the port is still held there).
 */
export async function publishPorts(
  containerId: string,
  ifname: string,
  bridge: string,
  cip: string,
  ports: PortMapping[],
  opts: { replace?: boolean; cip6?: string } = {},
): Promise<void> {
  if (!ports.length) return;
  const rules: NftRule[] = [];
  for (const p of ports) {
    const note = portNote(p);
    const v6 = hostFamily(p) === 6;
    const to = v6 ? opts.cip6 : cip;
    if (!to)
      throw new TsnetError(
        `-p [${p.hostIp}]:${p.hostPort}:${p.containerPort}/${p.protocol}`,
        'the container has no IPv6 address to forward to',
        'publish on an IPv4 address, or use a network made with --ipv6',
      );
    const dnat = dnatRule({
      ...(p.hostIp && p.hostIp !== '::' ? { hostIp: p.hostIp } : {}),
      proto: p.protocol,
      port: p.hostPort,
      to,
      toPort: p.containerPort,
    });
    rules.push({ chain: 'prerouting', exprs: dnat, note }, { chain: 'output', exprs: dnat, note });
    // Connections from the host's loopback address need a source the container can answer.
    if (!v6)
      rules.push({
        chain: 'postrouting',
        exprs: masqueradeRule({ saddr: '127.0.0.0/8', daddr: to, proto: p.protocol, dport: p.containerPort }),
      });
    // Hairpin: the container reaching its own published port through a host address comes back to itself
    // over the bridge (the port is in hairpin mode); its answer must go through the host to be un-NATed.
    rules.push({
      chain: 'postrouting',
      exprs: masqueradeRule({ saddr: to, daddr: to, proto: p.protocol, dport: p.containerPort }),
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
