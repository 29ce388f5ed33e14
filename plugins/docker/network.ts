// libnetwork's NetworkDriver over tsnet's bridge building blocks (plugins/shared/bridge-port: the same bridge
// and veth-port code the bridge CNI plugin uses): a network is a Linux bridge with the gateway on it, a
// masquerade rule and the bridge plugin's forwarding rules (plugins/shared/firewall: isolation, --internal,
// icc=false, accepts in dockerd's FORWARD chain); an endpoint is a veth whose host end is a port of the bridge
// and whose other end Docker moves into the container and names (Join's SrcName/DstPrefix). Published ports
// (com.docker.network.portmap, which Docker leaves to a remote driver) are DNAT rules in tsnet's nftables table.
import { Netns } from '../../native/netns.js';
import { isNetlinkError } from '../../native/netlink/errors.js';
import { masqueradeRule, removeRules, replaceRules } from '../../native/nftables.js';
import type { Link } from '../../native/netlink/link.js';
import { publish, type PortMapping } from '../shared/publish.js';
import { formatPrefix, parseAddr, parseCidr } from '../../ipam/cidr.js';
import { createVethPort, ensureBridge, removeBridgeIfUnused, withBridge, type PortErrors } from '../shared/bridge-port.js';
import {
  ensureBridgeFirewall,
  firewallOf,
  removeBridgeFirewall,
  removeBridgeFirewallIfUnused,
  type BridgeFirewall,
} from '../shared/firewall.js';
import { kernelError, PluginError } from '../shared/errors.js';
import { randomHex } from '../../common/random.js';
import { TsnetError } from '../../common/errors.js';
import { randomMac } from '../shared/random-name.js';
import { HOST_VETH_PREFIX, type DriverState, type EndpointRec, type NetworkRec, type PortRec } from './state.js';
import type { NetworkRegistry } from '../../ipam/networks.js';
import { claimAddress, POOL_PREFIX, poolOfSubnet } from './ipam.js';

type Req = Record<string, unknown>;

export const DockerErrorCode = { BadOption: 100, Kernel: 101, Unsupported: 102, BridgeFull: 103 } as const;
const CODES = { kernel: DockerErrorCode.Kernel, unsupported: DockerErrorCode.Unsupported, bridgeFull: DockerErrorCode.BridgeFull };

const GENERIC = 'com.docker.network.generic';
const PORTMAP = 'com.docker.network.portmap';

/** Option keys: tsnet's short ones and Docker's bridge driver keys that mean the same. */
const KEYS: Record<string, 'bridge' | 'mtu' | 'masquerade' | 'icc' | 'hostIp' | 'ifacePrefix'> = {
  bridge: 'bridge',
  'com.docker.network.bridge.name': 'bridge',
  mtu: 'mtu',
  'com.docker.network.driver.mtu': 'mtu',
  masquerade: 'masquerade',
  'com.docker.network.bridge.enable_ip_masquerade': 'masquerade',
  icc: 'icc',
  'com.docker.network.bridge.enable_icc': 'icc',
  host_binding_ipv4: 'hostIp',
  'com.docker.network.bridge.host_binding_ipv4': 'hostIp',
  'com.docker.network.container_iface_prefix': 'ifacePrefix',
};

const SUPPORTED =
  'use bridge=NAME, mtu=N, masquerade=true|false, icc=true|false, host_binding_ipv4=IP (or com.docker.network.bridge.name, com.docker.network.driver.mtu, com.docker.network.bridge.enable_ip_masquerade, com.docker.network.bridge.enable_icc, com.docker.network.bridge.host_binding_ipv4), com.docker.network.container_iface_prefix=PREFIX';

function bool(key: string, v: unknown): boolean {
  if (v === true || v === 'true' || v === '1') return true;
  if (v === false || v === 'false' || v === '0') return false;
  throw new PluginError(
    `-o ${key}=${String(v)}`,
    'is not true or false',
    `write -o ${key}=true or -o ${key}=false`,
    DockerErrorCode.BadOption,
  );
}

function errors(bridge: string): PortErrors {
  return {
    codes: CODES,
    notABridge: (link) =>
      new PluginError(
        `-o bridge=${bridge}`,
        `"${bridge}" exists and is a ${link.kind ?? 'physical'} interface, not a bridge`,
        `pick another name, or make a bridge holding it (tsnet attach --take-uplink ${bridge} …)`,
        DockerErrorCode.BadOption,
      ),
    interfaceExists: () => new PluginError('veth', 'its name is taken', 'retry', DockerErrorCode.Kernel),
  };
}

interface Settings {
  bridge?: string;
  mtu: number;
  masquerade: boolean;
  /** --internal: nothing forwarded into or out of the bridge, no masquerade, no default route. */
  internal: boolean;
  /** icc=false: the containers' bridge ports are isolated from each other. */
  icc: boolean;
  /** host_binding_ipv4: the host address of a -p that names none. */
  hostIp?: string;
  /** container_iface_prefix: the container's interface is named PREFIX<n> (default eth<n>). */
  ifacePrefix?: string;
}

function isIpv4(v: string): boolean {
  try {
    return parseAddr(v).family === 4;
  } catch {
    return false;
  }
}

function isTrue(v: unknown): boolean {
  return v === true || v === 'true';
}

export function parseOptions(options: Req): Settings {
  const generic = (options[GENERIC] ?? {}) as Record<string, unknown>;
  const internal = isTrue(options['com.docker.network.internal']) || isTrue(generic['com.docker.network.internal']);
  const s: Settings = { mtu: 1500, masquerade: true, internal, icc: true };
  for (const [key, v] of Object.entries(generic)) {
    const k = KEYS[key];
    if (key === 'com.docker.network.internal') continue; // --internal, read above
    // Docker puts only the user's -o options here: one the driver does not know is refused, not ignored.
    if (!k) throw new PluginError(`-o ${key}`, 'is not an option of the tsnet driver', SUPPORTED, DockerErrorCode.BadOption);
    if (k === 'bridge') {
      if (typeof v !== 'string' || !/^[a-zA-Z0-9_.-]{1,15}$/.test(v))
        throw new PluginError(
          `-o ${key}=${String(v)}`,
          'is not an interface name (1-15 letters, digits, _ . -)',
          'write -o bridge=br0',
          DockerErrorCode.BadOption,
        );
      s.bridge = v;
    } else if (k === 'mtu') {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 68 || n > 65535)
        throw new PluginError(`-o ${key}=${String(v)}`, 'is not an MTU (68-65535)', 'write -o mtu=1500', DockerErrorCode.BadOption);
      s.mtu = n;
    } else if (k === 'hostIp') {
      if (typeof v !== 'string' || !isIpv4(v))
        throw new PluginError(
          `-o ${key}=${String(v)}`,
          'is not an IPv4 address',
          `write -o ${key}=192.0.2.10 (an address of this host)`,
          DockerErrorCode.BadOption,
        );
      if (v !== '0.0.0.0') s.hostIp = v;
    } else if (k === 'ifacePrefix') {
      if (typeof v !== 'string' || !/^[a-zA-Z][a-zA-Z0-9_]{0,11}$/.test(v))
        throw new PluginError(
          `-o ${key}=${String(v)}`,
          'is not an interface name prefix (a letter, then up to 11 letters, digits or _)',
          `write -o ${key}=lan`,
          DockerErrorCode.BadOption,
        );
      s.ifacePrefix = v;
    } else if (k === 'masquerade') s.masquerade = bool(key, v);
    else s.icc = bool(key, v);
  }
  // An internal network forwards nothing out of its bridge: there is nothing to masquerade.
  if (s.internal) s.masquerade = false;
  return s;
}

/**
 * The network's forwarding rules, by plugins/shared/firewall (the bridge plugin's): isolated from the other
 * bridges tsnet made (as Docker's networks are from each other) when the driver made the bridge — never a bridge
 * of the user's (one holding the host's NIC carries other networks' traffic); --internal; icc=false's hairpin
 * masquerade; and accept rules first in other firewalls' forward chains that drop by policy (dockerd's FORWARD).
 */
export function firewallOfNetwork(net: NetworkRec): BridgeFirewall {
  return firewallOf({ isolation: net.madeBridge, internal: net.internal ?? false, portIsolation: net.icc === false }, net.bridge);
}

function ipv4Data(req: Req): { subnet?: string; gateway?: string } {
  const d = req.IPv4Data;
  if (d === undefined || d === null) return {};
  if (!Array.isArray(d)) throw new PluginError('IPv4Data', 'is not a list', 'send the request Docker sends', DockerErrorCode.BadOption);
  if (d.length > 1)
    throw new PluginError(
      'network',
      `has ${d.length} IPv4 subnets; the tsnet driver takes one`,
      'create it with one --subnet',
      DockerErrorCode.BadOption,
    );
  const first = d[0] as { Pool?: string; Gateway?: string } | undefined;
  if (!first?.Pool) return {};
  const { prefix } = parseCidr(first.Pool.includes('/') ? first.Pool : `${first.Pool}/32`);
  return { subnet: formatPrefix(prefix), ...(first.Gateway ? { gateway: first.Gateway } : {}) };
}

function id(req: Req, key: string): string {
  const v = req[key];
  if (typeof v !== 'string' || !/^[a-zA-Z0-9]{1,128}$/.test(v))
    throw new PluginError(key, `${JSON.stringify(v)} is not a Docker id`, 'send the id Docker gave', DockerErrorCode.BadOption);
  return v;
}

/**
 * The network's part of the host: the gateway on the bridge, forwarding on, the masquerade rule. Made by
 * CreateNetwork (`always`), and again by CreateEndpoint when the host has lost it — Docker calls CreateNetwork once
 * per network, and a reboot takes the bridge, its address and tsnet's table with it: the bridge is made again
 * with the first endpoint, and a gateway missing from it says the rule is gone too.
 */
async function ensureHostSide(host: Netns, br: Link, net: NetworkRec, always: boolean): Promise<void> {
  let lost = false;
  if (net.gateway) {
    const gateway = net.gateway;
    lost = await host.rtnl.addAddress(br.index, gateway).then(
      () => true,
      (e) => {
        if (isNetlinkError(e, 'EEXIST')) return false;
        return kernelError(e, `put gateway ${gateway} on bridge "${net.bridge}"`, CODES);
      },
    );
    if (host.sysctl('net/ipv4/ip_forward') !== '1') host.setSysctl('net/ipv4/ip_forward', 1);
  }
  if (always || lost) await putMasquerade(net);
}

/** The network's masquerade rule, replacing whatever is left of it (none without masquerade or a subnet). */
export async function putMasquerade(net: NetworkRec): Promise<boolean> {
  if (!net.masquerade || !net.subnet) return false;
  await replaceRules(masqOwnerOf(net.id), [
    {
      chain: 'postrouting',
      exprs: masqueradeRule({ saddr: net.subnet, notDaddr: net.subnet }),
      note: `docker network ${net.id.slice(0, 12)}`,
    },
  ]);
  return true;
}

function masqOwnerOf(nid: string): string {
  return `docker:${nid.slice(0, 12)}`;
}
export function portsOwnerOf(eid: string): string {
  return `docker-ports:${eid.slice(0, 12)}`;
}

/** The driver's port records as shared/publish takes them. */
export function portMappings(recs: PortRec[]): PortMapping[] {
  return recs.map((p) => ({ ...(p.hostIp ? { hostIp: p.hostIp } : {}), hostPort: p.hostPort, containerPort: p.port, protocol: p.proto }));
}

/** Docker's port map; a port with no host address ("" — `-p 8080:80`) gets the network's host_binding_ipv4. */
function ports(v: unknown, defaultHostIp?: string): PortRec[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw new PluginError(PORTMAP, 'is not a list', 'send the request Docker sends', DockerErrorCode.BadOption);
  const out: PortRec[] = [];
  for (const p of v as Array<Record<string, unknown>>) {
    const proto = p.Proto === 6 ? 'tcp' : p.Proto === 17 ? 'udp' : undefined;
    if (!proto)
      throw new PluginError(
        `published port ${JSON.stringify(p)}`,
        'is neither tcp nor udp',
        'publish tcp or udp ports',
        DockerErrorCode.Unsupported,
      );
    const hostPort = Number(p.HostPort);
    const end = Number(p.HostPortEnd ?? 0);
    if (!hostPort || (end && end !== hostPort))
      throw new PluginError(
        `published port ${String(p.Port)}`,
        'has no single host port (the tsnet driver does not pick host ports)',
        'publish with an explicit host port: -p 8080:80',
        DockerErrorCode.Unsupported,
      );
    const given = typeof p.HostIP === 'string' && p.HostIP ? p.HostIP : undefined;
    const hostIp = given === undefined ? defaultHostIp : given === '0.0.0.0' ? undefined : given;
    if (hostIp?.includes(':')) continue; // IPv6 host addresses: the container has no IPv6 on a tsnet network
    out.push({ proto, hostPort, port: Number(p.Port), ...(hostIp ? { hostIp } : {}) });
  }
  return out;
}

/**
 * For tests only: TSNET_DOCKER_PLUGIN_KILL_AT=STEP makes the driver SIGKILL itself at that step, as a kill -9
 * would land there — CreateEndpoint:veth (the veth made, its record not written yet), CreateEndpoint:record
 * (the record written, not answered), Join (before answering).
 */
export const KILL_AT_ENV = 'TSNET_DOCKER_PLUGIN_KILL_AT';
function killPoint(step: string): void {
  if (process.env[KILL_AT_ENV] === step) process.kill(process.pid, 'SIGKILL');
}

/** An endpoint's published ports, veth and record; the bridge's forwarding rules with its last port. Idempotent. */
export async function removeEndpoint(state: DriverState, ep: EndpointRec, host: Netns): Promise<void> {
  await removeRules(portsOwnerOf(ep.id)).catch(() => 0);
  const link = await host.rtnl.findLink(ep.hostVeth);
  if (link) await host.rtnl.deleteLinkIfExists(link.index);
  // The last port gone: the bridge's forwarding rules go (a bridge holding a NIC keeps them: deleteNetwork).
  const net = state.network(ep.network);
  if (net) await removeBridgeFirewallIfUnused(host, net.bridge);
  state.removeEndpoint(ep.id);
}

export class NetworkDriver {
  constructor(
    private readonly state: DriverState,
    private readonly reg?: NetworkRegistry,
  ) {}

  capabilities() {
    return { Scope: 'local', ConnectivityScope: 'local' };
  }

  async createNetwork(req: Req) {
    const nid = id(req, 'NetworkID');
    const s = parseOptions((req.Options ?? {}) as Req);
    const { subnet, gateway } = ipv4Data(req);
    const bridge = s.bridge ?? `tsd-${nid.slice(0, 11)}`;
    const host = Netns.current();
    try {
      const { bridge: br, created } = await ensureBridge(host, { name: bridge, mtu: s.mtu, mac: randomMac() }, errors(bridge));
      const rec: NetworkRec = {
        id: nid,
        bridge,
        madeBridge: created,
        mtu: s.mtu,
        masquerade: s.masquerade,
        ...(s.internal ? { internal: true } : {}),
        ...(s.icc ? {} : { icc: false }),
        ...(s.hostIp ? { hostIp: s.hostIp } : {}),
        ...(s.ifacePrefix ? { ifacePrefix: s.ifacePrefix } : {}),
        ...(subnet ? { subnet } : {}),
        ...(gateway ? { gateway } : {}),
      };
      await this.state.saveNetwork(rec);
      await ensureHostSide(host, br, rec, true);
      return {};
    } catch (e) {
      await this.teardown(nid, host).catch(() => undefined);
      throw e;
    } finally {
      host.close();
    }
  }

  private async teardown(nid: string, host: Netns): Promise<void> {
    const rec = this.state.network(nid);
    await removeRules(masqOwnerOf(nid)).catch(() => 0);
    // Docker deletes a network only when it has no endpoint left: a record still there is one Docker gave up
    // while the driver could not answer (a DeleteEndpoint lost to a driver that was down) — it goes, with its veth.
    for (const ep of this.state.endpoints().filter((e) => e.network === nid)) await removeEndpoint(this.state, ep, host);
    if (rec?.madeBridge) {
      await removeBridgeFirewallIfUnused(host, rec.bridge);
      const br = await host.rtnl.findLink(rec.bridge);
      if (br) {
        if (rec.gateway) await host.rtnl.deleteAddress(br.index, rec.gateway).catch(() => undefined);
        await removeBridgeIfUnused(host, br);
      }
    } else if (rec) {
      // A bridge of the user's keeps its ports (its NIC): the rules go with the last driver network on it.
      if (!this.state.networks().some((n) => n.id !== nid && n.bridge === rec.bridge)) await removeBridgeFirewall(rec.bridge);
      const br = rec.gateway ? await host.rtnl.findLink(rec.bridge) : undefined;
      if (br && rec.gateway) await host.rtnl.deleteAddress(br.index, rec.gateway).catch(() => undefined);
    }
    this.state.removeNetwork(nid);
  }

  async deleteNetwork(req: Req) {
    const nid = id(req, 'NetworkID');
    this.state.requireNetwork(nid);
    const host = Netns.current();
    try {
      await this.teardown(nid, host);
    } finally {
      host.close();
    }
    return {};
  }

  async createEndpoint(req: Req) {
    const nid = id(req, 'NetworkID');
    const eid = id(req, 'EndpointID');
    const net = this.state.requireNetwork(nid);
    const iface = (req.Interface ?? {}) as { Address?: string; AddressIPv6?: string; MacAddress?: string };
    const mac = iface.MacAddress || randomMac();
    const ctrVeth = `tsc${randomHex(5)}`;
    // The address Docker got from this driver's IPAM is held in its store; if a restarted driver released it
    // (reclaim: it had no endpoint record yet), it is held again here.
    const pool = iface.Address && net.subnet && this.reg ? poolOfSubnet(this.reg, net.subnet) : undefined;
    if (pool) await claimAddress(this.reg!, pool, iface.Address!, eid);
    const host = Netns.current();
    try {
      const veth = await withBridge(host, { name: net.bridge, mtu: net.mtu, mac: randomMac() }, errors(net.bridge), async (br) => {
        await ensureHostSide(host, br, net, false);
        return createVethPort(
          host,
          host,
          { bridge: br, ifname: ctrVeth, prefix: HOST_VETH_PREFIX, mtu: net.mtu, mac, queues: 1 },
          errors(net.bridge),
        );
      });
      killPoint('CreateEndpoint:veth');
      try {
        host.setSysctl(`net/ipv6/conf/${veth.name}/disable_ipv6`, 1);
      } catch {
        /* no IPv6 */
      }
      try {
        // icc=false: the kernel forwards nothing between two isolated ports; each still reaches the bridge.
        if (net.icc === false) await host.rtnl.setLink(veth.index, { bridgePort: { isolated: true } });
        // The bridge's forwarding rules, made by its first port (after it is on the bridge, as the bridge plugin does).
        await ensureBridgeFirewall(firewallOfNetwork(net));
      } catch (e) {
        await host.rtnl.deleteLinkIfExists(veth.index).catch(() => undefined);
        await removeBridgeFirewallIfUnused(host, net.bridge).catch(() => false);
        if (e instanceof TsnetError) throw e;
        kernelError(e, `set up the port ${veth.name} of bridge "${net.bridge}"`, CODES);
      }
      const ep: EndpointRec = {
        id: eid,
        network: nid,
        hostVeth: veth.name,
        ctrVeth,
        mac,
        ...(iface.Address ? { address: iface.Address } : {}),
      };
      try {
        await this.state.saveEndpoint(ep);
      } catch (e) {
        await host.rtnl.deleteLinkIfExists(veth.index).catch(() => undefined);
        throw e;
      }
      killPoint('CreateEndpoint:record');
      // Docker takes the MAC from the driver only when it chose none itself.
      return { Interface: iface.MacAddress ? {} : { MacAddress: mac } };
    } finally {
      host.close();
    }
  }

  async deleteEndpoint(req: Req) {
    id(req, 'NetworkID');
    const ep = this.state.requireEndpoint(id(req, 'EndpointID'));
    const host = Netns.current();
    try {
      await removeEndpoint(this.state, ep, host);
    } finally {
      host.close();
    }
    return {};
  }

  /**
   * Docker gave `address` of `poolId` back (IpamDriver.ReleaseAddress): it does so once it has deleted the
   * endpoint, or given it up — after a CreateEndpoint whose answer was lost to a driver killed once the record
   * was written. A record still holding the address is such an endpoint: it goes, with its veth.
   */
  async addressReleased(poolId: unknown, address: unknown): Promise<void> {
    if (!this.reg || typeof poolId !== 'string' || typeof address !== 'string' || !poolId.startsWith(POOL_PREFIX)) return;
    const pool = this.reg.get(poolId);
    if (!pool) return;
    const ip = address.split('/')[0];
    const nets = new Set(
      this.state
        .networks()
        .filter((n) => n.subnet === pool.subnet)
        .map((n) => n.id),
    );
    const gone = this.state.endpoints().filter((e) => nets.has(e.network) && e.address?.split('/')[0] === ip);
    if (!gone.length) return;
    const host = Netns.current();
    try {
      for (const ep of gone) await removeEndpoint(this.state, ep, host);
    } finally {
      host.close();
    }
  }

  endpointOperInfo(req: Req) {
    const ep = this.state.requireEndpoint(id(req, 'EndpointID'));
    return { Value: { hostVeth: ep.hostVeth, ...(ep.address ? { address: ep.address } : {}) } };
  }

  join(req: Req) {
    killPoint('Join');
    const net = this.state.requireNetwork(id(req, 'NetworkID'));
    const ep = this.state.requireEndpoint(id(req, 'EndpointID'));
    // An internal network gives no default route (nor does Docker then look for one elsewhere for it).
    return {
      InterfaceName: { SrcName: ep.ctrVeth, DstPrefix: net.ifacePrefix ?? 'eth' },
      ...(net.gateway && !net.internal ? { Gateway: net.gateway.split('/')[0] } : {}),
      StaticRoutes: [],
      DisableGatewayService: false,
    };
  }

  leave(req: Req) {
    id(req, 'NetworkID');
    this.state.requireEndpoint(id(req, 'EndpointID'));
    return {};
  }

  async programExternalConnectivity(req: Req) {
    id(req, 'NetworkID');
    const ep = this.state.requireEndpoint(id(req, 'EndpointID'));
    const net = this.state.requireNetwork(ep.network);
    const list = ports(((req.Options ?? {}) as Req)[PORTMAP], net.hostIp);
    if (!list.length) return {};
    if (!ep.address)
      throw new PluginError(
        `endpoint ${ep.id.slice(0, 12)}`,
        'has no IPv4 address to publish ports to',
        'give the network an IPv4 subnet',
        DockerErrorCode.BadOption,
      );
    if (net.internal)
      throw new PluginError(
        `-p ${list.map((p) => `${p.hostPort}:${p.port}/${p.proto}`).join(' -p ')}`,
        `network ${net.id.slice(0, 12)} is internal: nothing is forwarded into or out of it, so it publishes no ports`,
        'drop -p, or run the container on a network that is not --internal (and connect it to this one)',
        DockerErrorCode.BadOption,
      );
    await removeRules(portsOwnerOf(ep.id)).catch(() => 0);
    await publish(portsOwnerOf(ep.id), net.bridge, { ipv4: ep.address.split('/')[0]! }, portMappings(list));
    await this.state.saveEndpoint({ ...ep, ports: list });
    return {};
  }

  async revokeExternalConnectivity(req: Req) {
    id(req, 'NetworkID');
    const ep = this.state.requireEndpoint(id(req, 'EndpointID'));
    await removeRules(portsOwnerOf(ep.id));
    const { ports: _gone, ...rest } = ep;
    void _gone;
    await this.state.saveEndpoint(rest);
    return {};
  }
}
