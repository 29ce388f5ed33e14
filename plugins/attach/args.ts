// pipework's argument syntax, parsed and checked before anything touches the kernel:
//   <hostif> [-i ifname] <container> <ip>/<len>[@<gw>] [<mac>][@<vlan>]
//   <hostif> [-i ifname] <container> dhcp [<mac>][@<vlan>]
// (-i and the other options are taken by the CLI; this module gets the positional words.)
import { CidrError, containsAddr, formatAddr, formatPrefix, parseAddr, parseCidr, type Family } from '../../ipam/cidr.js';
import { PluginError } from '../shared/errors.js';
import { checkIfname } from '../shared/ifname.js';
import { DHCP_FORM_RE } from './dhcp.js';
import { nodeCrypto } from '../../common/builtins.js';

export const DEFAULT_IFNAME = 'eth1';
export const DEFAULT_BRIDGE = 'br0';

/** A checked attach request, the input of attach(). */
export interface AttachRequest {
  /** Bridge (created when missing) or NIC on the host. */
  hostIf: string;
  /** Container reference: tsnet id/name, pid, /proc/PID/ns/net, /run/netns/NAME or netns name. */
  container: string;
  /** Interface name inside the container. */
  ifname: string;
  /** "192.168.115.10/24"; absent with dhcp and 0/0. */
  address?: string;
  gateway?: string;
  /** Further addresses on the same interface ("10.1.1.13/24,fd00::13/64"), each with its gateway if any. */
  more?: { address: string; gateway?: string }[];
  /** pipework's 0/0: the link only, no address. */
  linkOnly?: boolean;
  /** -a 4|6: the addresses are of this family (a wrong one is refused). */
  family?: 4 | 6;
  dhcp?: boolean;
  /** pipework's DHCP form as written: dhcp[:OPTIONS], udhcpc[-f][:OPTIONS], dhclient[-f]…, dhcpcd[-f]… (default 'dhcp'). */
  dhcpForm?: string;
  mac?: string;
  vlan?: number;
  /** Host-side veth name (pipework's -l); default random. */
  hostIfname?: string;
  /** hostIf is a NIC: make a bridge (`bridge`, default br0) holding it, moving its addresses and routes. */
  takeUplink?: boolean;
  /** Bridge name for takeUplink; or, with a bridge hostIf and `uplink`, the bridge to use. */
  bridge?: string;
  /** A NIC to enslave into the bridge hostIf (moving its addresses and routes), as takeUplink does. */
  uplink?: string;
  /** Use a NIC that carries the host's default route all the same (macvlan of it, or taking it as uplink). */
  force?: boolean;
  /** Make a missing hostIf a bridge even though its name does not start with br. */
  create?: boolean;
  /** pipework's --direct-phys: hostIf is a NIC moved into the container (and back to the host on detach). */
  directPhys?: boolean;
}

export interface AttachOptions {
  ifname?: string;
  hostIfname?: string;
  takeUplink?: boolean;
  bridge?: string;
  uplink?: string;
  force?: boolean;
  create?: boolean;
  /** -a 4|6 */
  family?: string;
  directPhys?: boolean;
}

/** pipework's U:<string> MAC: 02: and the first five bytes of the md5 of the string as `echo` prints it (with its newline). */
export function uniqueMac(text: string): string {
  const h = nodeCrypto().createHash('md5').update(`${text}\n`).digest('hex');
  return `02:${h.slice(0, 10).match(/../g)!.join(':')}`;
}

/** Checks "ip/len" (the address part of pipework's spec): a host address inside its prefix. */
export function checkAddress(text: string): { address: string; family: Family } {
  const slash = text.indexOf('/');
  if (slash < 0) {
    let family: Family;
    try {
      family = parseAddr(text).family;
    } catch (e) {
      throw new PluginError(
        `address ${JSON.stringify(text)}`,
        `not an IP address (${(e as Error).message})`,
        'write it as IP/PREFIX-LENGTH, e.g. 192.168.115.10/24',
      );
    }
    const len = family === 4 ? 24 : 64;
    throw new PluginError(
      `address ${text}`,
      'has no prefix length, so the subnet (and the route to it) is unknown',
      `did you mean ${text}/${len}? write IP/PREFIX-LENGTH`,
    );
  }
  let parsed;
  try {
    parsed = parseCidr(text);
  } catch (e) {
    throw new PluginError(
      `address ${JSON.stringify(text)}`,
      e instanceof CidrError ? e.message.replace(/^"[^"]*"(: )?/, '') || e.message : String(e),
      'write it as IP/PREFIX-LENGTH, e.g. 192.168.115.10/24',
    );
  }
  const { addr, prefix } = parsed;
  const hostBits = (addr.family === 4 ? 32 : 128) - prefix.length;
  if (hostBits === 0 && addr.family === 4 && prefix.length === 32) {
    /* a /32 is allowed (point-to-point style, gateway must then be on-link) */
  } else if (addr.family === 4 && hostBits >= 2) {
    if (addr.value === prefix.network)
      throw new PluginError(
        `address ${text}`,
        `is the network address of ${formatPrefix(prefix)}, not a host address`,
        `pick a host address, e.g. ${formatAddr({ family: 4, value: prefix.network + 1n })}/${prefix.length}`,
      );
    if (addr.value === prefix.network + (1n << BigInt(hostBits)) - 1n)
      throw new PluginError(
        `address ${text}`,
        `is the broadcast address of ${formatPrefix(prefix)}, not a host address`,
        `pick a host address, e.g. ${formatAddr({ family: 4, value: prefix.network + 1n })}/${prefix.length}`,
      );
  }
  return { address: `${formatAddr(addr)}/${prefix.length}`, family: addr.family };
}

export function checkGateway(gw: string, address: string | undefined): string {
  let g;
  try {
    g = parseAddr(gw);
  } catch (e) {
    throw new PluginError(
      `gateway ${JSON.stringify(gw)}`,
      (e as Error).message,
      'write IP/LEN@GATEWAY with the gateway as a plain address, e.g. 192.168.115.10/24@192.168.115.1',
    );
  }
  if (address) {
    const { addr, prefix } = parseCidr(address);
    if (g.family !== addr.family)
      throw new PluginError(
        `gateway ${gw}`,
        `is IPv${g.family} but the address ${address} is IPv${addr.family}`,
        'use a gateway of the same family',
      );
    if (g.value === addr.value)
      throw new PluginError(
        `gateway ${gw}`,
        `is the container's own address ${address}`,
        'give the address of the router, not of the container',
      );
    void containsAddr(prefix, g); // outside the subnet is allowed: an on-link host route is added first
  }
  return formatAddr(g);
}

export function checkMac(mac: string): string {
  if (mac.startsWith('U:')) {
    if (mac.length === 2)
      throw new PluginError(
        'MAC "U:"',
        'has no string after "U:"',
        'write U:<string>, e.g. U:web1 (the MAC is computed from it, as pipework does)',
      );
    return uniqueMac(mac.slice(2));
  }
  if (!/^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/.test(mac))
    throw new PluginError(
      `MAC ${JSON.stringify(mac)}`,
      'not a MAC address',
      'write six hex pairs separated by ":", e.g. 02:42:c0:a8:73:0a',
    );
  const lower = mac.toLowerCase();
  if (parseInt(lower.slice(0, 2), 16) & 1)
    throw new PluginError(
      `MAC ${mac}`,
      'is a multicast address (lowest bit of the first byte set)',
      'use a unicast MAC; locally administered ones start with x2, x6, xa or xe, e.g. 02:…',
    );
  if (lower === '00:00:00:00:00:00') throw new PluginError(`MAC ${mac}`, 'is all zeros', 'use a unicast MAC such as 02:42:c0:a8:73:0a');
  return lower;
}

export function checkVlan(v: string): number {
  if (!/^\d{1,4}$/.test(v) || Number(v) < 1 || Number(v) > 4094)
    throw new PluginError(`VLAN ${JSON.stringify(v)}`, 'not a VLAN id', 'use a number from 1 to 4094, written after "@" as in [MAC]@VLAN');
  return Number(v);
}

/** Parses "[mac][@vlan]". */
function macVlan(word: string): { mac?: string; vlan?: number } {
  const at = word.startsWith('U:') ? word.lastIndexOf('@') : word.indexOf('@');
  const macPart = at < 0 ? word : word.slice(0, at);
  const vlanPart = at < 0 ? undefined : word.slice(at + 1);
  return {
    ...(macPart ? { mac: checkMac(macPart) } : {}),
    ...(vlanPart !== undefined ? { vlan: checkVlan(vlanPart) } : {}),
  };
}

const USAGE =
  'usage: tsnet attach <hostif> [-i ifname] <container> <ip>/<len>[@<gw>] [<mac>][@<vlan>]  |  … <container> dhcp [<mac>][@<vlan>]';

/** Parses pipework's positional words plus the CLI's options into a checked request. */
export function parseAttachArgs(words: string[], opts: AttachOptions = {}): AttachRequest {
  if (words.length < 3) {
    const missing = ['<hostif>', '<container>', '<ip>/<len> or dhcp'].slice(words.length).join(', ');
    throw new PluginError('tsnet attach', `missing ${missing}`, USAGE);
  }
  if (words.length > 4) throw new PluginError('tsnet attach', `unexpected argument ${JSON.stringify(words[4])}`, USAGE);
  const [hostIf, container, ipSpec, tail] = words as [string, string, string, string | undefined];
  checkIfname(hostIf, 'host interface');
  const ifname = opts.ifname ?? DEFAULT_IFNAME;
  checkIfname(ifname, 'container interface');
  if (opts.hostIfname) checkIfname(opts.hostIfname, 'host-side interface');
  if (opts.bridge) checkIfname(opts.bridge, 'bridge');
  if (opts.uplink) checkIfname(opts.uplink, 'uplink');
  if (opts.takeUplink && opts.uplink)
    throw new PluginError(
      '--take-uplink with --uplink',
      'both name the NIC to enslave',
      `use either '${hostIf} --take-uplink' (hostif is the NIC) or '<bridge> --uplink <nic>'`,
    );
  if (opts.directPhys) {
    const other = (
      [
        ['--take-uplink', opts.takeUplink],
        ['--uplink', opts.uplink],
        ['--bridge', opts.bridge],
        ['-l', opts.hostIfname],
        ['--create', opts.create],
      ] as const
    ).find(([, v]) => v);
    if (other)
      throw new PluginError(
        `--direct-phys with ${other[0]}`,
        `--direct-phys moves the NIC ${hostIf} itself into the container: there is no bridge, uplink or host-side veth`,
        `drop ${other[0]}, or drop --direct-phys to attach through a bridge`,
      );
  }
  const req: AttachRequest = { hostIf, container, ifname, ...(tail ? macVlan(tail) : {}) };
  if (opts.directPhys) {
    if (req.vlan)
      throw new PluginError(
        `@${req.vlan} with --direct-phys`,
        `--direct-phys moves the NIC ${hostIf} itself into the container, untagged`,
        `drop @${req.vlan} (or make a VLAN interface of ${hostIf} on the host and move that one: ${hostIf}.${req.vlan})`,
      );
    req.directPhys = true;
  }
  if (opts.hostIfname) req.hostIfname = opts.hostIfname;
  if (opts.takeUplink) req.takeUplink = true;
  if (opts.bridge) req.bridge = opts.bridge;
  if (opts.uplink) req.uplink = opts.uplink;
  if (opts.force) req.force = true;
  if (opts.create) req.create = true;
  if (DHCP_FORM_RE.test(ipSpec)) {
    if (opts.family === '6')
      throw new PluginError('-a 6 with DHCP', 'tsnet runs DHCPv4 clients only', 'give static IPv6 addresses, or use -a 4');
    req.dhcp = true;
    if (ipSpec !== 'dhcp') req.dhcpForm = ipSpec;
    return req;
  }
  if (opts.family !== undefined) {
    if (opts.family !== '4' && opts.family !== '6')
      throw new PluginError(`-a ${JSON.stringify(opts.family)}`, 'not an address family', 'write -a 4 or -a 6');
    req.family = Number(opts.family) as 4 | 6;
  }
  if (ipSpec === '0/0') {
    req.linkOnly = true; // pipework: the link only, no address
    return req;
  }
  const list: { address: string; gateway?: string }[] = [];
  const gwFamilies = new Set<number>();
  for (const part of ipSpec.split(',')) {
    const at = part.indexOf('@');
    const addrText = at < 0 ? part : part.slice(0, at);
    if (!addrText)
      throw new PluginError(
        `address ${JSON.stringify(ipSpec)}`,
        'has an empty element',
        'write IP/LEN[@GW] elements separated by ",", e.g. 10.1.1.13/24,fd00::13/64',
      );
    const { address, family } = checkAddress(addrText);
    if (req.family && family !== req.family)
      throw new PluginError(`address ${address}`, `is IPv${family}, but -a ${req.family} was given`, `drop it, or write -a ${family}`);
    if (list.some((a) => a.address.split('/')[0] === address.split('/')[0]))
      throw new PluginError(`address ${address}`, 'is given twice', 'give each address once');
    const item: { address: string; gateway?: string } = { address };
    if (at >= 0) {
      const gw = part.slice(at + 1);
      if (!gw) throw new PluginError(`address ${part}`, 'has "@" but no gateway after it', `write ${addrText}@GATEWAY, or drop the "@"`);
      item.gateway = checkGateway(gw, address);
      if (gwFamilies.has(family))
        throw new PluginError(
          `gateway ${gw}`,
          `is a second IPv${family} gateway`,
          'give one gateway per address family (it becomes the default route)',
        );
      gwFamilies.add(family);
    }
    list.push(item);
  }
  req.address = list[0]!.address;
  if (list[0]!.gateway) req.gateway = list[0]!.gateway;
  if (list.length > 1) req.more = list.slice(1);
  return req;
}

/** The address word of a request, as pipework writes it. */
export function ipSpecOf(r: AttachRequest): string {
  if (r.dhcp) return r.dhcpForm ?? 'dhcp';
  if (r.linkOnly) return '0/0';
  return [{ address: r.address ?? '', ...(r.gateway ? { gateway: r.gateway } : {}) }, ...(r.more ?? [])]
    .map((a) => `${a.address}${a.gateway ? `@${a.gateway}` : ''}`)
    .join(',');
}

/** The words that replay a request (for --save). */
export function formatAttachArgs(r: AttachRequest): string[] {
  const out: string[] = [r.hostIf, '-i', r.ifname];
  if (r.hostIfname) out.push('-l', r.hostIfname);
  if (r.takeUplink) out.push('--take-uplink');
  if (r.bridge) out.push('--bridge', r.bridge);
  if (r.uplink) out.push('--uplink', r.uplink);
  if (r.force) out.push('--force');
  if (r.create) out.push('--create');
  if (r.directPhys) out.push('--direct-phys');
  if (r.family) out.push('-a', String(r.family));
  out.push(r.container, ipSpecOf(r));
  if (r.mac || r.vlan) out.push(`${r.mac ?? ''}${r.vlan ? `@${r.vlan}` : ''}`);
  return out;
}
