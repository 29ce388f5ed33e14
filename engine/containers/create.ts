// `tsnet run`, first half: options checked against the image, the name reserved, config.json and the first
// state.json written. Nothing runs yet (./start.ts does that).
import { isIP } from 'node:net';
import { hostname as hostHostname } from 'node:os';
import { TsnetError } from '../../common/errors.js';
import { newId, randomName, shortId, validateName } from '../ids.js';
import { getImage } from '../images/store.js';
import { formatNetMode, parseNetMode } from '../network/modes.js';
import { NetworkRegistry, type NetworkRecord } from '../../ipam/networks.js';
import { containsAddr, parseAddr, parsePrefix } from '../../ipam/cidr.js';
import type { PortMapping } from '../network/ports.js';
import type { Limits } from '../runtime/cgroups.js';
import { resolveSecurity, type SecurityOptions } from '../runtime/security.js';
import type { ContainerConfig } from './model.js';
import { findContainer, releaseName, reserveName, saveConfig, saveState } from './store.js';

export interface RunOptions {
  image: string;
  cmd: string[];
  name?: string;
  hostname?: string;
  net?: string;
  ip?: string;
  /** --ip6: a static IPv6 address (a dual-stack network). */
  ip6?: string;
  /** --mac-address: eth0's MAC. */
  mac?: string;
  aliases?: string[];
  ports?: PortMapping[];
  /** -P was given (its ports, the image's exposed ones, are in `ports`). */
  publishAll?: boolean;
  /** --expose: container ports ('80/tcp') exposed besides the image's. */
  exposed?: string[];
  env?: string[];
  workdir?: string;
  limits?: Limits;
  security?: SecurityOptions;
  autoRemove?: boolean;
  detached?: boolean;
  /** --dns, --dns-search, --dns-option: the container's /etc/resolv.conf lines, as Docker writes them. */
  dns?: string[];
  dnsSearch?: string[];
  dnsOptions?: string[];
  /** --add-host NAME:IP, extra /etc/hosts lines. */
  extraHosts?: string[];
}

/** --dns, --dns-search, --dns-option, --add-host checked as Docker checks them. */
function checkDnsOptions(o: RunOptions): void {
  for (const d of o.dns ?? [])
    if (!isIP(d)) throw new TsnetError(`--dns ${d}`, 'is not an IP address', 'give a nameserver address, e.g. --dns 192.0.2.53');
  for (const d of o.dnsSearch ?? [])
    if (d !== '.' && !/^[a-zA-Z0-9]([a-zA-Z0-9.-]{0,252})$/.test(d))
      throw new TsnetError(`--dns-search ${d}`, 'is not a domain name', "give a domain, e.g. --dns-search example.com ('.' for none)");
  for (const d of o.dnsOptions ?? [])
    if (!/^[a-zA-Z0-9_:.-]+$/.test(d)) throw new TsnetError(`--dns-option ${d}`, 'is not a resolver option', 'e.g. --dns-option ndots:2');
  for (const h of o.extraHosts ?? []) {
    const i = h.indexOf(':');
    const [name, ip] = i > 0 ? [h.slice(0, i), h.slice(i + 1)] : ['', ''];
    if (!name || !/^[a-zA-Z0-9]([a-zA-Z0-9.-]{0,252})$/.test(name) || !isIP(ip))
      throw new TsnetError(`--add-host ${h}`, 'expected NAME:IP', 'write e.g. --add-host db:10.0.0.5');
  }
}

/** `--net container:X` shares X's network, hostname and /etc files: what would change them is refused, as Docker does. */
function checkContainerMode(o: RunOptions): void {
  if (parseNetMode(o.net).kind !== 'container') return;
  const conflicts: [string, boolean][] = [
    ['--hostname', o.hostname !== undefined],
    ['--dns', !!o.dns?.length],
    ['--dns-search', !!o.dnsSearch?.length],
    ['--dns-option', !!o.dnsOptions?.length],
    ['--add-host', !!o.extraHosts?.length],
    ['-p', !!o.ports?.length && !o.publishAll],
    ['-P', !!o.publishAll], // refused even when the image exposes nothing, as Docker does
    ['--expose', !!o.exposed?.length],
    ['--ip', o.ip !== undefined],
    ['--ip6', o.ip6 !== undefined],
    ['--mac-address', o.mac !== undefined],
  ];
  const bad = conflicts.filter(([, on]) => on).map(([f]) => f);
  if (bad.length)
    throw new TsnetError(
      `--net ${o.net}`,
      `conflicting options: ${bad.join(', ')} cannot be used with a container's network namespace`,
      `drop ${bad.join(', ')}: the container shares the other container's network, hostname and /etc files`,
    );
}

/** The user network a --net names (undefined for the default bridge and the other modes). */
export function userNetwork(net: string | undefined): NetworkRecord | undefined {
  const mode = parseNetMode(net);
  return mode.kind === 'network' ? new NetworkRegistry().get(mode.name) : undefined;
}

/** --ip, --ip6 and --mac-address checked as Docker checks them, before anything is made. */
function checkAddressOptions(o: RunOptions): void {
  const mode = parseNetMode(o.net);
  if (o.ip !== undefined && mode.kind === 'bridge')
    throw new TsnetError(
      `--ip ${o.ip}`,
      'a static address is supported on user-defined networks only (as in Docker), not on the default bridge',
      `create one with 'tsnet network create NAME --subnet …' and run with --net NAME --ip …`,
    );
  if (o.ip !== undefined && isIP(o.ip) !== 4)
    throw new TsnetError(
      `--ip ${o.ip}`,
      'is not an IPv4 address',
      o.ip.includes(':') ? 'give an IPv6 address with --ip6' : 'e.g. --ip 10.1.0.5',
    );
  const rec = o.ip !== undefined || o.ip6 !== undefined ? userNetwork(o.net) : undefined;
  // Docker's create-time check: the address belongs to one of the network's subnets (anywhere in it: an
  // --ip-range limits only the addresses handed out)
  for (const [flag, addr, subnet] of [
    ['--ip', o.ip, rec?.subnet],
    ['--ip6', o.ip6, rec?.subnet6],
  ] as const)
    if (addr !== undefined && subnet && isIP(addr) === (flag === '--ip' ? 4 : 6) && !containsAddr(parsePrefix(subnet), parseAddr(addr)))
      throw new TsnetError(
        `${flag} ${addr}`,
        `does not belong to the subnet of network "${rec!.name}" (${subnet})`,
        `pick an address in ${subnet}, or leave ${flag} out to get one assigned`,
      );
  if (o.ip6 !== undefined) {
    if (isIP(o.ip6) !== 6) throw new TsnetError(`--ip6 ${o.ip6}`, 'is not an IPv6 address', 'e.g. --ip6 fd00:1::5');
    if (mode.kind === 'host' || mode.kind === 'none' || mode.kind === 'attach')
      throw new TsnetError(
        `--ip6 with --net ${formatNetMode(mode)}`,
        'a static address needs a user network',
        'drop --ip6 or use a user network',
      );
    if (mode.kind === 'bridge' || (rec && !rec.subnet6))
      throw new TsnetError(
        `--ip6 ${o.ip6}`,
        `network "${rec?.name ?? 'bridge'}" has no IPv6`,
        "run the container on a network made with 'tsnet network create NAME --ipv6 --subnet fd…/64'",
      );
  }
  if (o.mac !== undefined) {
    if (!/^[0-9a-fA-F]{2}([:-][0-9a-fA-F]{2}){5}$/.test(o.mac))
      throw new TsnetError(`--mac-address ${o.mac}`, 'is not a MAC address', 'write six hex bytes, e.g. --mac-address 02:42:ac:11:00:02');
    const first = parseInt(o.mac.slice(0, 2), 16);
    if (first & 1 || /^0{2}([:-]0{2}){5}$/.test(o.mac))
      throw new TsnetError(
        `--mac-address ${o.mac}`,
        `is a ${first & 1 ? 'multicast' : 'zero'} address, which an interface cannot have`,
        'give a unicast address (the first byte even), e.g. 02:42:ac:11:00:02',
      );
    if (mode.kind === 'host')
      throw new TsnetError(
        `--mac-address ${o.mac}`,
        'conflicting options: --mac-address and the network mode (host)',
        "drop --mac-address: the container uses the host's interfaces",
      );
    if (mode.kind === 'none' || mode.kind === 'attach')
      throw new TsnetError(
        `--mac-address ${o.mac}`,
        mode.kind === 'none'
          ? 'the container has no network interface to give it to (--net none)'
          : 'an attach network takes its MAC in its spec',
        mode.kind === 'none' ? 'drop --mac-address, or use a bridge network' : 'write --net attach:BRIDGE:IP/LEN@GW:MAC',
      );
  }
}

function mergeEnv(base: string[], extra: string[]): string[] {
  const m = new Map<string, string>();
  for (const kv of [...base, ...extra]) {
    const i = kv.indexOf('=');
    if (i <= 0) throw new TsnetError(`-e ${kv}`, 'expected KEY=VALUE', 'write -e NAME=value');
    m.set(kv.slice(0, i), kv);
  }
  return [...m.values()];
}

/** Validates options and writes config.json; reserves the name. */
export function createContainer(o: RunOptions): ContainerConfig {
  const img = getImage(o.image);
  const netMode = parseNetMode(o.net); // fail early on a bad --net
  if (o.aliases?.length && netMode.kind !== 'network')
    throw new TsnetError(
      `--network-alias ${o.aliases[0]}`,
      'network-scoped aliases exist on user networks only',
      "run the container on a network made with 'tsnet network create'",
    );
  checkContainerMode(o);
  checkAddressOptions(o);
  checkDnsOptions(o);
  const security = resolveSecurity(o.security); // and on bad --cap-add/--cap-drop/--security-opt
  const cmd = [...(img.config.entrypoint ?? []), ...(o.cmd.length ? o.cmd : (img.config.cmd ?? []))];
  if (!cmd.length)
    throw new TsnetError(`image ${img.name}`, 'has no default command', 'give one after the image: tsnet run IMAGE sh -c ...');
  const id = newId();
  let name = o.name ? validateName(o.name) : randomName();
  for (let i = 0; ; i++) {
    try {
      reserveName(name, id);
      break;
    } catch (e) {
      if (o.name || i > 20) throw e;
      name = `${randomName()}${i > 5 ? `_${i}` : ''}`;
    }
  }
  const mode = parseNetMode(o.net);
  // a container joining another's network (container:X) takes X's hostname, as Docker does
  const joined = mode.kind === 'container' ? findContainer(mode.ref) : undefined;
  const hostname = o.hostname ?? joined?.config.hostname ?? (mode.kind === 'host' ? hostHostname() : shortId(id));
  if (!/^[a-zA-Z0-9]([a-zA-Z0-9.-]{0,62})$/.test(hostname)) {
    releaseName(name, id);
    throw new TsnetError(`--hostname '${hostname}'`, 'not a valid hostname', 'use letters, digits, dots and dashes, at most 63');
  }
  const defaultEnv = ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'];
  const cfg: ContainerConfig = {
    id,
    name,
    image: img.name,
    imageId: img.id,
    created: new Date().toISOString(),
    cmd,
    env: mergeEnv(img.config.env ?? defaultEnv, [`HOSTNAME=${hostname}`, ...(o.env ?? [])]),
    workdir: o.workdir ?? img.config.workingDir ?? '/',
    hostname,
    net: o.net ?? 'bridge',
    ip: o.ip,
    ...(o.ip6 ? { ip6: o.ip6 } : {}),
    ...(o.mac ? { mac: o.mac.toLowerCase().replace(/-/g, ':') } : {}),
    ...(o.aliases?.length ? { aliases: [...new Set(o.aliases)] } : {}),
    ports: o.ports ?? [],
    ...(o.exposed?.length ? { exposed: [...new Set(o.exposed)] } : {}),
    limits: o.limits ?? {},
    security,
    autoRemove: !!o.autoRemove,
    detached: !!o.detached,
    ...(o.dns?.length || o.dnsSearch?.length || o.dnsOptions?.length
      ? { dns: { servers: o.dns ?? [], search: o.dnsSearch ?? [], options: o.dnsOptions ?? [] } }
      : {}),
    ...(o.extraHosts?.length ? { extraHosts: o.extraHosts } : {}),
  };
  try {
    saveConfig(cfg);
    saveState(id, { status: 'created' });
  } catch (e) {
    releaseName(name, id);
    throw e;
  }
  return cfg;
}
