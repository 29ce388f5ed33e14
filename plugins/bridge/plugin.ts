// The bridge plugin: a veth pair from a Linux bridge into the container, the gateway on the bridge, the
// address from IPAM — the reference `bridge` plugin's configuration keys with the same meaning.
import { Netns } from '../../native/netns.js';
import { isNetlinkError } from '../../native/netlink/errors.js';
import type { Link } from '../../native/netlink/link.js';
import { addRules, removeRules, removeRulesWhere } from '../../native/nftables.js';
import { formatAddr, formatAddrInPrefix, formatPrefix, overlaps, parseCidr, size } from '../../ipam/cidr.js';
import type { PluginEntry } from '../cni/skel.js';
import { assertValid } from '../cni/validate.js';
import { bridgeValidator } from '../cni/validators.js';
import { CniError, ErrorCode, type CniArgs, type Interface, type IpConfig, type NetConf, type Plugin, type Result } from '../cni/types.js';
import { configureInterface } from '../shared/configure-iface.js';
import {
  delegateAdd,
  delegateCheck,
  delegateDel,
  delegateGc,
  delegatePrecheck,
  delegateStatus,
  IN_PROCESS_IPAM,
} from '../shared/ipam-delegate.js';
import { isMasqRuleOf, masqOwner } from '../shared/owners.js';
import {
  bridgeFirewallPresent,
  ensureBridgeFirewall,
  masqueradeRules,
  firewallOf,
  removeBridgeFirewallIfUnused,
  type BridgeFirewall,
} from '../shared/firewall.js';
import { randomMac } from '../shared/random-name.js';
import { createVethPort, removeBridgeIfUnused, withBridge, type PortErrors } from '../shared/bridge-port.js';
import { kernelError } from '../shared/errors.js';
import { TsnetError } from '../../common/errors.js';
import { DEFAULT_BRIDGE } from '../../common/paths.js';
import { rollBack, type Undo } from '../shared/rollback.js';

export const DEFAULT_MTU = 1500;

export interface BridgeConf extends NetConf {
  bridge?: string;
  isGateway?: boolean;
  isDefaultGateway?: boolean;
  forceAddress?: boolean;
  ipMasq?: boolean;
  mtu?: number;
  hairpinMode?: boolean;
  promiscMode?: boolean;
  macspoofchk?: boolean;
  vlan?: number;
  enabledad?: boolean;
  disableContainerInterface?: boolean;
  /** The reference plugin's: the container's port is isolated (no traffic with other isolated ports: icc=false). */
  portIsolation?: boolean;
  /** tsnet's: isolated from every other bridge with `isolation` (Docker's isolation between networks). */
  isolation?: boolean;
  /** tsnet's: nothing is forwarded into or out of the bridge (Docker's --internal). */
  internal?: boolean;
  /** tsnet's: accept the bridge's traffic in other tables' forward chains that drop by policy (default true). */
  amendHostFirewall?: boolean;
}

/** Plugin-specific error codes (the spec reserves 100+ for plugins). */
export const BridgeErrorCode = {
  InterfaceExists: 100,
  NotABridge: 101,
  Unsupported: 102,
  Kernel: 103,
  BridgeFull: 104,
} as const;

interface Settings {
  bridge: string;
  mtu: number;
  isGateway: boolean;
  isDefaultGateway: boolean;
  forceAddress: boolean;
  ipMasq: boolean;
  hairpin: boolean;
  promisc: boolean;
  enableDad: boolean;
  portIsolation: boolean;
  firewall: BridgeFirewall;
}

function settings(conf: BridgeConf): Settings {
  if (conf.hairpinMode && conf.promiscMode)
    throw new CniError(
      ErrorCode.InvalidNetworkConfig,
      `network "${conf.name}": hairpinMode and promiscMode cannot both be true`,
      'hairpin mode already reflects frames back to the port; drop one of the two',
    );
  if (conf.macspoofchk)
    throw new CniError(
      BridgeErrorCode.Unsupported,
      `network "${conf.name}": macspoofchk is not supported by tsnet's bridge plugin yet`,
      'remove "macspoofchk", or chain a plugin that filters by MAC',
    );
  if (conf.vlan)
    throw new CniError(
      BridgeErrorCode.Unsupported,
      `network "${conf.name}": "vlan": ${conf.vlan} needs bridge VLAN filtering, which tsnet's bridge plugin does not configure (and kernels built without CONFIG_BRIDGE_VLAN_FILTERING, such as this one, lack)`,
      'remove "vlan" from the config; to put a container on a VLAN, attach it to a NIC with tsnet attach NIC CTR IP/LEN@GW @VLAN where the kernel has 8021q',
    );
  if (conf.internal && conf.ipMasq)
    throw new CniError(
      ErrorCode.InvalidNetworkConfig,
      `network "${conf.name}": "internal" and "ipMasq" cannot both be true`,
      'an internal network forwards nothing out of its bridge, so there is nothing to masquerade; drop one of the two',
    );
  const isDefaultGateway = conf.isDefaultGateway ?? false;
  return {
    bridge: conf.bridge ?? DEFAULT_BRIDGE,
    mtu: conf.mtu ?? DEFAULT_MTU,
    isGateway: (conf.isGateway ?? false) || isDefaultGateway,
    isDefaultGateway,
    forceAddress: conf.forceAddress ?? false,
    ipMasq: conf.ipMasq ?? false,
    hairpin: conf.hairpinMode ?? false,
    promisc: conf.promiscMode ?? false,
    enableDad: conf.enabledad ?? false,
    portIsolation: conf.portIsolation ?? false,
    firewall: firewallOf(conf, DEFAULT_BRIDGE),
  };
}

/**
 * The container interface's MAC when the runtime asks for one, as the reference reads it: CNI_ARGS MAC=, or
 * runtimeConfig.mac (the "mac" capability); otherwise undefined (a random one). A unicast address only.
 */
export function requestedMac(conf: NetConf, args: CniArgs): string | undefined {
  const rc = (conf.runtimeConfig as { mac?: unknown } | undefined)?.mac;
  const given = args.args?.MAC ?? (typeof rc === 'string' ? rc : undefined);
  if (given === undefined || given === '') return undefined;
  const mac = given.toLowerCase().replace(/-/g, ':');
  if (!/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/.test(mac))
    throw new CniError(
      ErrorCode.InvalidEnvironment,
      `MAC ${JSON.stringify(given)} is not a MAC address`,
      'write six hex bytes, e.g. 02:42:ac:11:00:02',
    );
  if (parseInt(mac.slice(0, 2), 16) & 1 || mac === '00:00:00:00:00:00')
    throw new CniError(
      ErrorCode.InvalidEnvironment,
      `MAC ${given} is a ${mac === '00:00:00:00:00:00' ? 'zero' : 'multicast'} address, which an interface cannot have`,
      'give a unicast address (the first byte even), e.g. 02:42:ac:11:00:02',
    );
  return mac;
}

/** What can go wrong making the port, in this plugin's codes and words. */
function portErrors(s: Settings, netName: string, ifname: string, ctr: Netns): PortErrors {
  return {
    codes: { kernel: BridgeErrorCode.Kernel, unsupported: BridgeErrorCode.Unsupported, bridgeFull: BridgeErrorCode.BridgeFull },
    notABridge: (link) =>
      new CniError(
        BridgeErrorCode.NotABridge,
        `network "${netName}": "${s.bridge}" already exists and is a ${link.kind ?? 'physical'} interface, not a bridge`,
        `set "bridge" to another name, or remove "${s.bridge}"`,
      ),
    interfaceExists: () => interfaceExists(ifname, ctr),
  };
}

/** The veth: host end a port of the bridge, container end named ifname straight inside the netns. */
async function createVeth(
  host: Netns,
  ctr: Netns,
  ifname: string,
  s: Settings,
  bridge: Link,
  peerMac: string,
  withIpam: boolean,
  errors: PortErrors,
): Promise<Link> {
  // The container end's MAC is chosen here (random, locally administered — as the kernel would), so the result
  // needs no read back from the container's namespace. One queue each way. The host end comes up with its
  // creation: with the container end still down it has no carrier, so IPv6 does nothing on it before
  // disable_ipv6 below.
  const veth = await createVethPort(host, ctr, { bridge, ifname, mtu: s.mtu, mac: peerMac, queues: 1 }, errors);
  try {
    if (withIpam) {
      // The container end, still down: no IPv6 until the result proves the network has some
      // (configureInterface turns it back on) — as Docker does on IPv4-only networks, and no link-local
      // chatter flooded to every port of the bridge.
      await ctr.sysctlsReady();
      disableIpv6(ctr, ifname);
    }
    // A bridge port needs no addresses of its own: without IPv6 on it, the host keeps no per-port IPv6
    // routes (whose lists grow with the ports) and the port sends nothing when it gets carrier.
    disableIpv6(host, veth.name);
    if (s.hairpin || s.portIsolation)
      await host.rtnl.setLink(veth.index, {
        bridgePort: { ...(s.hairpin ? { hairpin: true } : {}), ...(s.portIsolation ? { isolated: true } : {}) },
      });
  } catch (e) {
    await host.rtnl.deleteLinkIfExists(veth.index).catch(() => undefined); // the pair goes with it
    kernelError(e, `set up veth ${veth.name} for ${ifname}`, errors.codes);
  }
  return { ...veth, up: true };
}

function disableIpv6(ns: Netns, ifname: string): void {
  try {
    ns.setSysctl(`net/ipv6/conf/${ifname}/disable_ipv6`, 1);
  } catch {
    /* IPv6 not built in or disabled already */
  }
}

function interfaceExists(ifname: string, ctr: Netns): CniError {
  return new CniError(
    BridgeErrorCode.InterfaceExists,
    `container already has an interface named "${ifname}" (${ctr.label})`,
    'pick another CNI_IFNAME, or DEL the attachment that made it',
  );
}

/** The gateway of each address: IPAM's, else the first address of its subnet (as the reference computes it). */
/** The reference's gateway for an IPAM result without one: the subnet's first address, when that is free to take. */
function withGateways(ips: IpConfig[]): IpConfig[] {
  return ips.map((ip) => {
    if (ip.gateway) return ip;
    const { prefix, addr } = parseCidr(ip.address);
    const gw = prefix.network + 1n;
    if (size(prefix) <= 2n || gw === addr.value)
      throw new CniError(
        ErrorCode.InvalidNetworkConfig,
        `IPAM gave ${ip.address} without a gateway, and ${size(prefix) <= 2n ? `subnet ${formatPrefix(prefix)} has no address left for one` : `the gateway the bridge would take (${formatAddr({ family: prefix.family, value: gw })}) is that very address`}`,
        `use a ${prefix.family === 4 ? '/30' : '/126'} or larger subnet whose first address is not the container's, or have the IPAM plugin return a "gateway"`,
      );
    return { ...ip, gateway: formatAddr({ family: prefix.family, value: gw }) };
  });
}

async function ensureGatewayAddrs(host: Netns, br: Link, ips: IpConfig[], s: Settings, netName: string): Promise<void> {
  const present = await host.rtnl.addresses({ link: br.index });
  for (const ip of ips) {
    const { prefix } = parseCidr(ip.address);
    const want = `${ip.gateway}/${prefix.length}`;
    const v6 = prefix.family === 6;
    if (present.some((a) => a.cidr === want)) continue;
    const sameFamily = present.filter((a) => a.address.includes(':') === v6 && a.scope === 0);
    const conflicting = sameFamily.filter((a) => overlaps(parseCidr(a.cidr).prefix, prefix));
    if (conflicting.length) {
      if (!s.forceAddress)
        throw new CniError(
          BridgeErrorCode.Kernel,
          `network "${netName}": bridge "${br.name}" already has ${conflicting.map((a) => a.cidr).join(', ')}; expected ${want}`,
          'set "forceAddress": true to replace it, or use another bridge',
        );
      for (const a of conflicting) await host.rtnl.deleteAddress(br.index, a.cidr);
    }
    try {
      await host.rtnl.addAddress(br.index, want, { noDad: v6 });
    } catch (e) {
      if (!isNetlinkError(e, 'EEXIST'))
        kernelError(e, `put gateway ${want} on bridge "${br.name}"`, {
          kernel: BridgeErrorCode.Kernel,
          unsupported: BridgeErrorCode.Unsupported,
        });
    }
  }
  if (ips.some((ip) => !ip.address.includes(':'))) enableSysctl(host, 'net/ipv4/ip_forward');
  if (ips.some((ip) => ip.address.includes(':'))) enableSysctl(host, 'net/ipv6/conf/all/forwarding');
}

function enableSysctl(ns: Netns, key: string): void {
  if (ns.sysctl(key) !== '1') ns.setSysctl(key, 1);
}

/**
 * `ip saddr ADDR ip daddr != SUBNET masquerade` for each address (ip6 likewise): owned by the attachment, noted
 * with the network (masqNote) for GC.
 */
function masquerade(conf: NetConf, args: CniArgs, ips: IpConfig[]): Promise<void> {
  return addRules(
    masqOwner(conf.name, args.containerId, args.ifname),
    masqueradeRules(
      conf.name,
      ips.map((ip) => ip.address),
    ),
  );
}

/** The attachments a GC keeps (cni.dev/valid-attachments), checked. */
function validAttachments(conf: NetConf): { containerID: string; ifname: string }[] {
  const valid = conf['cni.dev/valid-attachments'];
  if (!Array.isArray(valid) || valid.some((v) => !v || typeof v.containerID !== 'string' || typeof v.ifname !== 'string'))
    throw new CniError(
      ErrorCode.InvalidNetworkConfig,
      `network "${conf.name}": GC needs "cni.dev/valid-attachments", an array of {"containerID": string, "ifname": string}`,
      'the runtime passes the attachments it still has',
    );
  return valid;
}

/**
 * GC of the firewall: every masquerade rule of this network whose attachment is not a valid one (an ADD
 * killed after its rules were written, a DEL killed before it removed them), in one batch.
 */
async function gcMasquerade(conf: BridgeConf): Promise<void> {
  const keep = new Set(validAttachments(conf).map((v) => masqOwner(conf.name, v.containerID, v.ifname)));
  try {
    await removeRulesWhere((r) => isMasqRuleOf(conf.name, r) && !keep.has(r.owner));
  } catch (e) {
    // A network without ipMasq has no rules to lose (unless it had it once): only its own use needs nftables.
    if (conf.ipMasq) throw e;
  }
}

/** GC of a bridge's forwarding rules: gone when no port is left on it (a DEL killed before it removed them). */
async function gcFirewall(conf: BridgeConf): Promise<void> {
  const host = Netns.current();
  try {
    await removeBridgeFirewallIfUnused(host, settings(conf).bridge);
  } finally {
    host.close();
  }
}

async function add(conf: BridgeConf, args: CniArgs): Promise<Result> {
  const s = settings(conf);
  const host = Netns.current();
  const ctr = Netns.open(args.netns);
  // The container end's disable_ipv6 is written in createVeth; its /proc/sys directory is looked up now, on a
  // thread of its own, while the bridge, the address and the veth are made (that lookup costs the kernel
  // time proportional to the number of namespaces; bench/README.md).
  if (conf.ipam?.type) ctr.prefetchSysctlDir('ipv6');
  const undo: Undo[] = [];
  try {
    // Checked before anything is made (a concurrent ADD racing for the name still surfaces in createVeth), as
    // is all of the IPAM config and request that can be (a missing IPAM plugin included): a bad one changes
    // nothing on the host.
    if (await ctr.rtnl.findLink(args.ifname)) throw interfaceExists(args.ifname, ctr);
    if (conf.ipam?.type) await delegatePrecheck(conf, args);
    const wantedMac = requestedMac(conf, args);
    const errors = portErrors(s, conf.name, args.ifname, ctr);
    // tsnet-ipam (in-process, needs no interface) allocates while the veth is made: its wait for the journal
    // to reach the disk overlaps the kernel's work. Other IPAM plugins run after, as the reference orders
    // them: dhcp, say, works on the interface. Either failing undoes the other (releasing what was never
    // taken is a no-op) — except when the interface turns out to exist already: that is another ADD of this
    // very attachment racing ours, and the address it holds is the one we were given.
    let release = true;
    const start = () => {
      const p = delegateAdd(conf, args);
      p.catch(() => undefined); // awaited below; not an unhandled rejection while the veth is made
      undo.push(() =>
        release
          ? p.then(
              () => delegateDel(conf, args),
              () => undefined,
            )
          : undefined,
      );
      return p;
    };
    let allocating: Promise<Result> | undefined;
    const ctrMac = wantedMac ?? randomMac();
    const bridgeSpec = { name: s.bridge, mtu: s.mtu, mac: randomMac(), promisc: s.promisc };
    const { br, hostVeth } = await withBridge(host, bridgeSpec, errors, async (br, created) => {
      // A bridge this ADD made goes again if the ADD fails — last, once the veth is gone, and only while no
      // other container has a port on it; so do its forwarding rules, just before.
      if (created) undo.push(() => removeBridgeIfUnused(host, br));
      undo.push(() => removeBridgeFirewallIfUnused(host, br.name));
      if (conf.ipam?.type === IN_PROCESS_IPAM) allocating = start();
      try {
        return { br, hostVeth: await createVeth(host, ctr, args.ifname, s, br, ctrMac, conf.ipam?.type !== undefined, errors) };
      } catch (e) {
        if (e instanceof TsnetError && e.cniCode === BridgeErrorCode.InterfaceExists) release = false;
        throw e;
      }
    });
    const hostIndex = hostVeth.index;
    undo.push(() => host.rtnl.deleteLinkIfExists(hostIndex));
    if (conf.ipam?.type && !allocating) allocating = start();
    // A veth's IFLA_LINK is its peer's index (in the peer's namespace); read the link only if it is missing.
    const ctrLink = hostVeth.linkIndex ? { index: hostVeth.linkIndex, name: args.ifname, mac: ctrMac } : await ctr.rtnl.link(args.ifname);
    const interfaces: Interface[] = [
      { name: br.name, mac: br.mac ?? '' },
      { name: hostVeth.name, mac: hostVeth.mac ?? '' },
      { name: ctrLink.name, mac: ctrLink.mac ?? '', sandbox: args.netns },
    ];
    if (!allocating) {
      // Layer 2 only: no IPAM, no addresses (as the reference allows).
      await ctr.rtnl.setLink(ctrLink.index, { up: true });
      return { cniVersion: conf.cniVersion, interfaces, ...(conf.dns ? { dns: conf.dns } : {}) };
    }
    const ipamResult = await allocating;
    if (!ipamResult.ips?.length) throw new CniError(ErrorCode.Internal, `IPAM plugin "${conf.ipam?.type}" returned no IP configuration`);
    const ips = (s.isGateway ? withGateways(ipamResult.ips) : ipamResult.ips).map((ip) => ({ ...ip, interface: 2 }));
    const routes = [...(ipamResult.routes ?? [])];
    if (s.isDefaultGateway) {
      for (const v6 of [false, true]) {
        const gw = ips.find((ip) => ip.address.includes(':') === v6)?.gateway;
        const dst = v6 ? '::/0' : '0.0.0.0/0';
        if (gw && !routes.some((r) => r.dst === dst)) routes.push({ dst, gw });
      }
    }
    const result: Result = { cniVersion: conf.cniVersion, interfaces, ips, routes, dns: conf.dns ?? ipamResult.dns ?? {} };
    if (!result.dns || Object.keys(result.dns).length === 0) delete result.dns;
    await configureInterface(ctr, args.ifname, result, {
      interfaceIndex: 2,
      enableDad: s.enableDad,
      index: ctrLink.index,
      arpNotify: true,
    }).catch((e) => kernelError(e, `configure ${args.ifname} in ${ctr.label}`, errors.codes));
    if (s.isGateway) await ensureGatewayAddrs(host, br, ips, s, conf.name);
    // The bridge's forwarding rules (isolation, internal, other firewalls' drop policies): the first ADD on
    // the bridge makes them, after its port is on it.
    await ensureBridgeFirewall(s.firewall);
    if (s.ipMasq) {
      await masquerade(conf, args, ips);
      undo.push(() => removeRules(masqOwner(conf.name, args.containerId, args.ifname)));
    }
    return result;
  } catch (e) {
    await rollBack(undo);
    throw e;
  } finally {
    host.close();
    ctr.close();
  }
}

async function del(conf: BridgeConf, args: CniArgs): Promise<void> {
  const s = settings(conf);
  // The address is released whatever happens to the rest (DEL must free it even when the netns or the veth
  // is already gone): tsnet-ipam's while the veth is deleted, other IPAM plugins' first, while the interface
  // still exists (dhcp sends its release over it), as the reference orders them.
  const release = () => (conf.ipam?.type ? delegateDel(conf, args) : Promise.resolve());
  const remove = async () => {
    if (s.ipMasq) await removeRules(masqOwner(conf.name, args.containerId, args.ifname));
    await deleteContainerVeth(args);
    // The last port gone: the bridge's forwarding rules go, here and in other tables (none: one GET).
    const host = Netns.current();
    try {
      await removeBridgeFirewallIfUnused(host, s.bridge);
    } finally {
      host.close();
    }
  };
  const [address, veth] =
    conf.ipam?.type === IN_PROCESS_IPAM
      ? await Promise.allSettled([release(), remove()])
      : [await outcome(release()), await outcome(remove())];
  if (address.status === 'rejected' && veth.status === 'rejected') {
    const a = address.reason as Error;
    const v = veth.reason as Error;
    throw new CniError(
      a instanceof CniError ? a.code : ErrorCode.Internal,
      `${a.message}; removing the veth failed too: ${v.message}`,
      a instanceof CniError ? a.details : undefined,
    );
  }
  if (address.status === 'rejected') throw address.reason;
  if (veth.status === 'rejected') throw veth.reason;
}

function outcome<T>(p: Promise<T>): Promise<PromiseSettledResult<T>> {
  return p.then(
    (value) => ({ status: 'fulfilled', value }),
    (reason: unknown) => ({ status: 'rejected', reason }),
  );
}

async function deleteContainerVeth(args: CniArgs): Promise<void> {
  if (!args.netns) return;
  let ctr: Netns;
  try {
    ctr = Netns.open(args.netns);
  } catch {
    return; // the netns is gone: so is the veth
  }
  try {
    await ctr.rtnl.deleteVeth(args.ifname, null); // the host end is in the current namespace
  } finally {
    ctr.close();
  }
}

async function check(conf: BridgeConf, args: CniArgs): Promise<void> {
  const s = settings(conf);
  const prev = conf.prevResult;
  if (!prev)
    throw new CniError(
      ErrorCode.InvalidNetworkConfig,
      `network "${conf.name}": CHECK needs prevResult`,
      'the runtime passes the cached ADD result as prevResult',
    );
  if (conf.ipam?.type) await delegateCheck(conf, args);
  const host = Netns.current();
  const ctr = Netns.open(args.netns);
  try {
    const br = await host.rtnl.findLink(s.bridge);
    if (!br || br.kind !== 'bridge') throw new CniError(ErrorCode.Internal, `bridge "${s.bridge}" is missing`);
    const ctrIndex = prev.interfaces?.findIndex((i) => i.sandbox && i.name === args.ifname) ?? -1;
    if (ctrIndex < 0) throw new CniError(ErrorCode.Internal, `prevResult has no interface "${args.ifname}" in a sandbox`);
    const want = prev.interfaces![ctrIndex]!;
    const link = await ctr.rtnl.findLink(args.ifname);
    if (!link) throw new CniError(ErrorCode.Internal, `interface "${args.ifname}" is missing from ${ctr.label}`);
    if (want.mac && link.mac !== want.mac)
      throw new CniError(ErrorCode.Internal, `interface "${args.ifname}" has MAC ${link.mac}, prevResult says ${want.mac}`);
    if (link.kind !== 'veth')
      throw new CniError(ErrorCode.Internal, `interface "${args.ifname}" is a ${link.kind ?? 'device'}, not a veth`);
    const hostSide = prev.interfaces!.find((i, n) => n !== ctrIndex && !i.sandbox && i.name !== s.bridge);
    if (hostSide) {
      const hv = await host.rtnl.findLink(hostSide.name);
      if (!hv) throw new CniError(ErrorCode.Internal, `host veth "${hostSide.name}" is missing`);
      if (hv.masterIndex !== br.index)
        throw new CniError(ErrorCode.Internal, `host veth "${hostSide.name}" is not a port of bridge "${s.bridge}"`);
      if (s.portIsolation && hv.bridgePort?.isolated === false)
        throw new CniError(ErrorCode.Internal, `host veth "${hostSide.name}" is not an isolated port, though "portIsolation" is true`);
    }
    if ((s.firewall.isolation || s.firewall.internal || s.portIsolation) && !(await bridgeFirewallPresent(s.bridge)))
      throw new CniError(
        ErrorCode.Internal,
        `the forwarding rules of bridge "${s.bridge}" are missing from nftables table inet tsnet (a flush of the ruleset?)`,
        "restore them with 'tsnet network reload', or DEL and ADD the attachment again",
      );
    const addrs = await ctr.rtnl.addresses({ link: link.index });
    for (const ip of prev.ips ?? []) {
      if (ip.interface !== undefined && ip.interface !== ctrIndex) continue;
      const { addr, prefix } = parseCidr(ip.address);
      if (!addrs.some((a) => a.cidr === formatAddrInPrefix(addr, prefix)))
        throw new CniError(ErrorCode.Internal, `address ${ip.address} is missing from "${args.ifname}" in ${ctr.label}`);
    }
    const routes = await ctr.rtnl.routes({});
    for (const r of prev.routes ?? []) {
      const dst = r.dst === '0.0.0.0/0' || r.dst === '::/0' ? 'default' : formatPrefix(parseCidr(r.dst).prefix);
      if (!routes.some((k) => (k.dst === dst || k.dst === r.dst) && (!r.gw || k.gateway === r.gw)))
        throw new CniError(ErrorCode.Internal, `route ${r.dst}${r.gw ? ` via ${r.gw}` : ''} is missing in ${ctr.label}`);
    }
  } finally {
    host.close();
    ctr.close();
  }
}

const bridgePlugin: Plugin<BridgeConf> = {
  add,
  del,
  check,
  async gc(conf, args) {
    // Addresses and rules are collected each whatever happens to the other; the first failure is reported.
    const outcomes = await Promise.allSettled([conf.ipam?.type ? delegateGc(conf, args) : undefined, gcMasquerade(conf), gcFirewall(conf)]);
    const failed = outcomes.find((o) => o.status === 'rejected');
    if (failed) throw failed.reason;
  },
  async status(conf, args) {
    if (conf.ipam?.type) await delegateStatus(conf, args);
  },
};

export const bridgeEntry: PluginEntry<BridgeConf> = {
  plugin: bridgePlugin,
  opts: { name: 'bridge', about: 'CNI bridge plugin (tsnet)', validate: (conf) => assertValid(bridgeValidator, conf, 'bridge') },
};
