// Published ports: -p parsing ([hostIp:]hostPort:ctrPort[/tcp|udp]) and the DNAT rules that publish them in
// tsnet's nftables table, tagged `ports:<container id>:<ifname>` so they go with the container's interface.
import { closeSync } from 'node:fs';
import { isIP } from 'node:net';
import { isSysError, native } from '../../native/addon.js';
import { removeRules, ruleTexts } from '../../native/nftables.js';
import { hostFamily, portSpec, publish, refuseTaken, type PortMapping } from '../../plugins/shared/publish.js';
import { isTsnetError, TsnetError } from '../../common/errors.js';
import { formatAddr, parseAddr } from '../../ipam/cidr.js';

export { hostFamily, type PortMapping };

const PORT_FIX = 'write -p 8080:80, -p 80 (a free host port), -p 8080-8081:80-81, -p 127.0.0.1:8080:80, -p [::]:8080:80 or -p 53:53/udp';

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
 * A mapping as -p asks for it: `hostPortLast` set when any free host port from `hostPort` to it will do
 * (`-p 8000-8010:80`); reservePorts binds one and hands back plain mappings.
 */
export interface PortRequest extends PortMapping {
  hostPortLast?: number;
}

/**
 * One -p as Docker reads it: [hostIp:][hostPort[-last]:]ctrPort[-last][/tcp|udp]. No host port (or an empty
 * one, `127.0.0.1::80`) means a free port from the ephemeral range: hostPort 0 until the port is bound. A host
 * range with one container port (`8000-8010:80`) means a free port of that range, as Docker takes it.
 */
export function parsePortSpec(spec: string): PortRequest[] {
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
  if (hostPart && c0 === c1 && h1 > h0)
    return [{ ...(hostIp ? { hostIp } : {}), hostPort: h0, hostPortLast: h1, containerPort: c0, protocol: proto }];
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
  if (all.length !== 1 || all[0]!.hostPortLast !== undefined) throw new TsnetError(`-p ${spec}`, 'names more than one port', PORT_FIX);
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
export function dualStackPorts<P extends PortMapping>(ports: P[], ipv6: boolean, network: string): P[] {
  const out: P[] = [];
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
export async function reservePorts(ports: PortRequest[]): Promise<HeldPorts> {
  const held: HeldPorts = { ports: [], fds: [] };
  try {
    for (let i = 0; i < ports.length; i++) {
      const p = ports[i]!;
      const twin = ports[i + 1];
      if (p.hostPortLast !== undefined) {
        // a host range for one container port: the first port of it free (on both families for an IPv6 twin)
        const pair = !p.hostIp && twin !== undefined && isTwin(p, twin) ? twin : undefined;
        const got = await bindInRange(p, p.hostPortLast, pair);
        held.fds.push(...got.fds);
        held.ports.push(plain(p, got.port), ...(pair ? [plain(pair, got.port)] : []));
        if (pair) i++;
        continue;
      }
      if (p.hostPort === 0 && !p.hostIp && twin && isTwin(p, twin)) {
        // a port free on both families: a free IPv4 one, then the same on IPv6 (another pair if that is taken)
        let got: { fds: number[]; port: number } | undefined;
        for (let tries = 0; tries < 20 && !got; tries++) got = await bindWithTwin(p, twin, 0);
        if (!got)
          throw new TsnetError(`-p ${p.containerPort}/${p.protocol}`, 'found no host port free on both IPv4 and IPv6', 'give a host port');
        held.fds.push(...got.fds);
        held.ports.push(plain(p, got.port), plain(twin, got.port));
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
function isTwin(p: PortRequest, twin: PortRequest): boolean {
  return (
    twin.hostIp === '::' &&
    twin.hostPort === p.hostPort &&
    twin.hostPortLast === p.hostPortLast &&
    twin.containerPort === p.containerPort &&
    twin.protocol === p.protocol
  );
}

/** A request's mapping on host port PORT, without the range. */
function plain(p: PortRequest, port: number): PortMapping {
  const { hostPortLast: _, ...m } = p;
  return { ...m, hostPort: port };
}

/**
 * Binds the first port from p.hostPort to LAST that is free (and, with TWIN, free on IPv6 too); a port in use
 * or published by another container is passed over, any other refusal (a foreign host IP) ends the search.
 */
async function bindInRange(p: PortRequest, last: number, twin: PortRequest | undefined): Promise<{ fds: number[]; port: number }> {
  for (let port = p.hostPort; port <= last; port++) {
    const got = await bindWithTwin(p, twin, port);
    if (got) return got;
  }
  throw new TsnetError(
    `-p ${p.hostIp ? (hostFamily(p) === 6 ? `[${p.hostIp}]:` : `${p.hostIp}:`) : ''}${p.hostPort}-${last}:${p.containerPort}/${p.protocol}`,
    `no host port from ${p.hostPort} to ${last} is free${twin ? ' on both IPv4 and IPv6' : ''}`,
    'widen the range, or free one of its ports',
  );
}

/**
 * Binds P on host port PORT (0: one the kernel picks) and then TWIN, if any, on the same port; undefined when
 * either is in use or published already (nothing stays bound then). Any other refusal is thrown.
 */
async function bindWithTwin(
  p: PortRequest,
  twin: PortRequest | undefined,
  port: number,
): Promise<{ fds: number[]; port: number } | undefined> {
  const taken = (e: unknown) => isTsnetError(e) && /address already in use|already published/.test(e.reason);
  let fd4: number, got: number;
  try {
    [fd4, got] = await bindOne(plain(p, port));
  } catch (e) {
    if (taken(e)) return undefined;
    throw e;
  }
  if (!twin) return { fds: [fd4], port: got };
  try {
    return { fds: [fd4, (await bindOne(plain(twin, got)))[0]], port: got };
  } catch (e) {
    closeSync(fd4);
    if (taken(e)) return undefined;
    throw e;
  }
}

/** Binds one mapping's host port: [fd, port bound]; a refusal says why in Docker's words. */
async function bindOne(p: PortMapping): Promise<[number, number]> {
  const addr = p.hostIp ?? '0.0.0.0';
  try {
    return native().bindPort(hostFamily(p), p.protocol === 'udp', addr, p.hostPort);
  } catch (e) {
    const spec = portSpec(p);
    if (isSysError(e, 'EADDRINUSE')) {
      refuseTaken(undefined, [p], await ruleTexts().catch(() => []), holderName);
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

/** Names the holder of a published port in a refusal: a container, or another tsnet owner (the Docker driver). */
function holderName(owner: string): string {
  const c = portsOwnerContainer(owner);
  return c ? `container ${c.slice(0, 12)}` : `tsnet rule ${owner}`;
}

/**
 * Publishes -p (plugins/shared/publish): to the container's address `cip` behind `bridge`, and an IPv6 host side
 * (a dual-stack network) to `cip6`. `replace` (reload) swaps out whatever rules the interface has, in one batch,
 * without the check that another container holds the port.
 */
export async function publishPorts(
  containerId: string,
  ifname: string,
  bridge: string,
  cip: string,
  ports: PortMapping[],
  opts: { replace?: boolean; cip6?: string } = {},
): Promise<void> {
  await publish(portsOwner(containerId, ifname), bridge, { ipv4: cip, ...(opts.cip6 ? { ipv6: opts.cip6 } : {}) }, ports, {
    ...(opts.replace ? { replace: true } : {}),
    holder: holderName,
  });
}

/** Removes the interface's published-port rules; idempotent. */
export async function unpublishPorts(containerId: string, ifname: string): Promise<void> {
  await removeRules(portsOwner(containerId, ifname));
}
