// pipework's job as a library: give a container an extra interface on a host bridge (or a macvlan of a NIC),
// with a fixed address and gateway or DHCP, and announce it. Everything is checked before the first change;
// every change registers its undo, so a failure leaves nothing half-made.
import { Netns } from '../../native/netns.js';
import { isNetlinkError } from '../../native/netlink/errors.js';
import type { Link } from '../../native/netlink/link.js';
import { containsAddr, parseAddr, parseCidr } from '../../ipam/cidr.js';
import { hostNetnsReason, resolveContainer, type ResolvedContainer } from '../shared/container-ref.js';
import { randomVethName } from '../shared/random-name.js';
import { createVethPort, ensureBridge, type PortErrors } from '../shared/bridge-port.js';
import { DEFAULT_BRIDGE, type AttachRequest } from './args.js';
import { clientForForm, parseDhcpForm, startLeaseKeeper, stopLeaseKeeper, type DhcpClient, type Lease } from './dhcp.js';
import { findAttachment, removeAttachment, writeAttachment } from './registry.js';
import { existsSync } from 'node:fs';
import { basename } from 'node:path';
import { AttachErrorCode, kernelError, PluginError } from '../shared/errors.js';
import { sendGratuitousArp } from './garp.js';
import { checkUplink, classifyHostIf, defaultRouteThrough, giveBackUplink, planUplinkMove, restoreNic, takeUplink } from './host-if.js';
import type { AttachmentRecord, PhysRecord } from './registry.js';
import { readUplinkRecords, recordUplink, releaseIdleUplinks, withAttachLock } from './uplink-record.js';
import { rollBack, type Undo } from '../shared/rollback.js';
import { RT_SCOPE_LINK } from '../../native/netlink/constants.js';
import { configureInterface } from '../shared/configure-iface.js';
import type { Result, Route } from '../cni/types.js';

export interface AttachResult {
  /** How the container was named in messages. */
  container: string;
  netnsPath: string;
  ifname: string;
  mac: string;
  mtu: number;
  /** 'bridge': a veth whose host end is a port of `bridge`; 'macvlan': a macvlan of `parent`; 'phys': the NIC `parent` itself. */
  mode: 'bridge' | 'macvlan' | 'phys';
  bridge?: string;
  hostVeth?: string;
  parent?: string;
  address?: string;
  gateway?: string;
  /** Whether the bridge was created by this call. */
  createdBridge: boolean;
  /** With DHCP: the lease's time and the keeper process holding it. */
  lease?: number;
  dns?: string[];
  keeper?: { pid: number; start?: string };
}

export interface AttachEnv {
  /** The host netns (default: the one this process runs in). */
  host?: Netns;
  /** Resolved container netns path (skips resolveContainer; the CNI plugin passes CNI_NETNS). */
  netnsPath?: string;
  dhcpTimeoutMs?: number;
  /** The container's own resolv.conf (a tsnet container's), for a lease's DNS servers. */
  resolvConf?: string;
  /** Progress lines while waiting for a lease. */
  progress?: (line: string, final: boolean) => void;
}

/** The name a DHCP client sends as hostname: the container's name, as pipework does. */
function guestName(req: AttachRequest, netnsPath: string): string | undefined {
  const ref = req.container.startsWith('/run/netns/') ? basename(req.container) : req.container;
  const name = /^\d+$/.test(ref) || ref.startsWith('/') ? undefined : ref;
  return name && /^[A-Za-z0-9][A-Za-z0-9.-]{0,62}$/.test(name)
    ? name
    : netnsPath.startsWith('/run/netns/')
      ? basename(netnsPath)
      : undefined;
}

/** Where a lease's DNS servers go: the container's own resolv.conf (a tsnet or Docker container's); never the host's. */
function leaseResolvConf(netnsPath: string, env: AttachEnv): string | undefined {
  if (env.resolvConf) return env.resolvConf;
  // A named netns: /etc/netns/NAME/resolv.conf, which `ip netns exec` shows as /etc/resolv.conf — only where
  // that directory was made for it.
  const m = /^\/run\/netns\/([^/]+)$/.exec(netnsPath);
  return m && existsSync(`/etc/netns/${m[1]}`) ? `/etc/netns/${m[1]}/resolv.conf` : undefined;
}

const CODES = { kernel: AttachErrorCode.Kernel, unsupported: AttachErrorCode.Unsupported, bridgeFull: AttachErrorCode.Kernel };

function kernel(e: unknown, what: string): never {
  kernelError(e, what, CODES);
}

interface Plan {
  mode: 'bridge' | 'macvlan' | 'phys';
  /** Bridge name (bridge mode); existing link when it exists. */
  bridgeName?: string;
  bridge?: Link;
  uplink?: Link;
  /** macvlan parent (the NIC); with vlan the sub-interface is made on it. */
  parent?: Link;
  mtu: number;
}

/**
 * Refuses, unless req.force, a NIC that carries the host's default route: a macvlan of it puts the container
 * on the host's uplink segment, and taking it into a bridge moves the host's own connectivity (addresses,
 * routes) — one mistake there and the host is cut off.
 */
async function refuseUplinkNic(
  host: Netns,
  req: AttachRequest,
  nic: Link,
  mode: 'macvlan' | 'bridge' | 'phys',
  bridge?: string,
): Promise<void> {
  if (req.force) return;
  const route = await defaultRouteThrough(host, nic);
  if (!route) return;
  throw new PluginError(
    `${mode === 'bridge' ? 'uplink' : 'host interface'} ${nic.name}`,
    `carries the host's default route (${route}): ` +
      (mode === 'macvlan'
        ? "a macvlan of it would put the container straight on the host's uplink network"
        : mode === 'phys'
          ? 'moving it into the container (--direct-phys) takes it, its addresses and its routes away from the host: the host is cut off'
          : `taking it into bridge ${bridge} would move the host's uplink (its addresses and routes) onto the bridge, and bridge the containers onto the host's uplink network; the host is cut off if that goes wrong`),
    mode === 'phys'
      ? 'move a NIC the host does not route through; add --force if this is really meant'
      : 'attach to a bridge, or to a NIC the host does not route through; add --force if this is really meant',
    AttachErrorCode.BadArgument,
  );
}

/** Edit distance, for "did you mean" among the host's interface names. */
function distance(a: string, b: string): number {
  const d = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = d[0]!;
    d[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = d[j]!;
      d[j] = Math.min(d[j]! + 1, d[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return d[b.length]!;
}

/** The host's interface names closest to `name` (for "did you mean"). */
async function nearNames(host: Netns, name: string): Promise<string[]> {
  return (await host.rtnl.links())
    .map((l) => ({ n: l.name, d: distance(name, l.name) }))
    .filter((x) => x.d <= Math.max(2, Math.floor(name.length / 3)))
    .sort((a, b) => a.d - b.d)
    .slice(0, 3)
    .map((x) => x.n);
}

/**
 * A missing host interface is made a bridge only when its name says bridge (pipework's rule: br*), or with
 * --create; ovs* names an Open vSwitch bridge, which tsnet does not make; anything else is a typo until shown
 * otherwise — refused, with the closest names, before anything is made.
 */
async function refuseMissingHostIf(host: Netns, req: AttachRequest): Promise<void> {
  if (req.create || req.hostIf.startsWith('br')) return;
  if (req.hostIf.startsWith('ovs')) {
    const ovs = ['/usr/bin/ovs-vsctl', '/usr/sbin/ovs-vsctl', '/usr/local/bin/ovs-vsctl'].some((p) => existsSync(p));
    throw new PluginError(
      `host interface ${req.hostIf}`,
      ovs
        ? 'does not exist; an ovs* name means an Open vSwitch bridge, and tsnet does not create Open vSwitch bridges'
        : 'does not exist; an ovs* name means an Open vSwitch bridge, and Open vSwitch is not installed here (no ovs-vsctl)',
      ovs
        ? `create it first (ovs-vsctl add-br ${req.hostIf}), or use a Linux bridge (a br* name, or --create)`
        : `use a Linux bridge: a br* name is created when missing, or add --create to make ${req.hostIf} one`,
      AttachErrorCode.NotBridgeOrNic,
    );
  }
  const near = await nearNames(host, req.hostIf);
  throw new PluginError(
    `host interface ${req.hostIf}`,
    `no such interface in ${host.label}`,
    `${near.length ? `did you mean ${near.join(' or ')}? ` : ''}a missing bridge is created only when its name starts with br (as pipework does), or with --create`,
    AttachErrorCode.NotBridgeOrNic,
  );
}

async function plan(host: Netns, req: AttachRequest): Promise<Plan> {
  const link = await host.rtnl.findLink(req.hostIf);
  if (!link && !req.takeUplink) await refuseMissingHostIf(host, req);
  const kind = link ? classifyHostIf(link) : 'bridge';
  if (kind === 'nic' && !req.takeUplink) {
    if (req.uplink)
      throw new PluginError(
        `host interface ${req.hostIf}`,
        'is a NIC, so --uplink has no bridge to go into',
        `write '${req.hostIf} --take-uplink' to make a bridge holding it`,
      );
    if (link!.masterIndex) {
      const master = await host.rtnl.findLink(link!.masterIndex);
      throw new PluginError(
        `host interface ${req.hostIf}`,
        `is a port of ${master?.name ?? 'a bridge'}`,
        `attach to ${master?.name ?? 'that bridge'} instead`,
        AttachErrorCode.NotBridgeOrNic,
      );
    }
    await refuseUplinkNic(host, req, link!, 'macvlan');
    return { mode: 'macvlan', parent: link!, mtu: link!.mtu };
  }
  let bridgeName = req.hostIf;
  let uplinkName = req.uplink;
  if (kind === 'nic') {
    bridgeName = req.bridge ?? DEFAULT_BRIDGE;
    uplinkName = req.hostIf;
  } else if (req.takeUplink) {
    throw new PluginError(
      `host interface ${req.hostIf}`,
      link ? 'is a bridge, so there is no NIC to take' : 'does not exist, so there is no NIC to take',
      `name the NIC: '<nic> --take-uplink [--bridge ${req.hostIf}]', or '${req.hostIf} --uplink <nic>'`,
    );
  }
  const bridge = kind === 'bridge' ? link : await host.rtnl.findLink(bridgeName);
  if (bridge && bridge.kind !== 'bridge')
    throw new PluginError(
      `bridge ${bridgeName}`,
      `already exists and is a ${bridge.kind ?? 'physical'} interface, not a bridge`,
      'pick another --bridge name',
    );
  const uplink = uplinkName ? await checkUplink(host, uplinkName, bridgeName) : undefined;
  if (uplink && (!bridge || uplink.masterIndex !== bridge.index)) await refuseUplinkNic(host, req, uplink, 'bridge', bridgeName);
  if (req.vlan) {
    const known = bridge?.bridge?.vlanFiltering;
    throw new PluginError(
      `@${req.vlan} on bridge ${bridgeName}`,
      bridge && known === undefined
        ? 'a VLAN on a bridge port needs bridge VLAN filtering, which this kernel does not have (CONFIG_BRIDGE_VLAN_FILTERING)'
        : 'per-port VLANs on a Linux bridge are not implemented by tsnet yet',
      'drop @VLAN, or attach to a NIC (macvlan on a VLAN sub-interface) where the kernel has macvlan and 8021q',
      AttachErrorCode.Unsupported,
    );
  }
  return {
    mode: 'bridge',
    bridgeName,
    ...(bridge ? { bridge } : {}),
    ...(uplink ? { uplink } : {}),
    mtu: bridge?.mtu ?? uplink?.mtu ?? 1500,
  };
}

/** --direct-phys: the NIC to move — one that exists, is not a bridge or a bridge port, and (unless --force) not the host's uplink. */
async function physPlan(host: Netns, req: AttachRequest): Promise<Link> {
  const link = await host.rtnl.findLink(req.hostIf);
  if (!link) {
    const near = await nearNames(host, req.hostIf);
    throw new PluginError(
      `host interface ${req.hostIf}`,
      `no such interface in ${host.label}`,
      `${near.length ? `did you mean ${near.join(' or ')}? ` : ''}--direct-phys moves an existing NIC into the container ('ip link' lists them)`,
      AttachErrorCode.NotBridgeOrNic,
    );
  }
  if (classifyHostIf(link) === 'bridge')
    throw new PluginError(
      `host interface ${req.hostIf}`,
      'is a bridge: --direct-phys moves a NIC into the container, and a bridge cannot leave the host',
      `attach to the bridge without --direct-phys ('tsnet attach ${req.hostIf} ${req.container} …')`,
      AttachErrorCode.NotBridgeOrNic,
    );
  if (link.masterIndex) {
    const master = await host.rtnl.findLink(link.masterIndex);
    throw new PluginError(
      `host interface ${req.hostIf}`,
      `is a port of ${master?.name ?? 'a bridge'}; moving it into the container would take it out of that bridge`,
      `attach to ${master?.name ?? 'that bridge'} instead, or take ${req.hostIf} out of it first (ip link set ${req.hostIf} nomaster)`,
      AttachErrorCode.NotBridgeOrNic,
    );
  }
  await refuseUplinkNic(host, req, link, 'phys');
  return link;
}

/**
 * pipework's --direct-phys: the NIC itself goes into the container under req.ifname. What it was on the host
 * (name, MAC, MTU, addresses, routes, up state) is recorded first, so that detach — or a rollback — gives it
 * back as it was.
 */
async function physSide(
  host: Netns,
  ctr: Netns,
  req: AttachRequest,
  nic: Link,
  where: { netnsPath: string; label: string },
  undo: Undo[],
): Promise<PhysRecord> {
  const phys: PhysRecord = {
    hostNetns: host.id(),
    name: nic.name,
    ...(nic.mac ? { mac: nic.mac } : {}),
    mtu: nic.mtu,
    move: await planUplinkMove(host, nic),
  };
  // Recorded before it moves (a crash between leaves a record detach can give the NIC back by); attach()
  // rewrites it whole at the end.
  const pre: AttachmentRecord = {
    version: 1,
    container: req.container,
    label: where.label,
    netnsPath: where.netnsPath,
    netns: ctr.id(),
    ifname: req.ifname,
    ifindex: nic.index, // kept across the move unless taken in the container's namespace; the final record has the one it got
    mac: nic.mac ?? '',
    mode: 'phys',
    hostIf: req.hostIf,
    parent: nic.name,
    createdBridge: false,
    addresses: [],
    routes: [],
    phys,
    created: new Date().toISOString(),
  };
  await writeAttachment(pre);
  undo.push(() => removeAttachment(pre));
  try {
    await host.rtnl.setLink(nic.index, { netnsFd: ctr.fd(), name: req.ifname });
  } catch (e) {
    if (isNetlinkError(e, 'EEXIST')) throw interfaceExists(req, ctr);
    if (isNetlinkError(e, 'EINVAL'))
      throw new PluginError(
        `host interface ${nic.name}`,
        `cannot leave ${host.label}: the kernel keeps a ${nic.kind ?? 'device'} of this kind in its namespace (${(e as Error).message})`,
        'move a physical NIC, or attach through a bridge without --direct-phys',
        AttachErrorCode.Unsupported,
      );
    kernel(e, `move ${nic.name} into ${ctr.label}`);
  }
  undo.push(async () => {
    const failed = await givePhysBack(host, ctr, req.ifname, phys);
    if (failed.length) throw new Error(failed.join('; '));
  });
  if (req.mac) await ctr.rtnl.setLink(req.ifname, { mac: req.mac }).catch((e) => kernel(e, `set MAC ${req.mac} on ${req.ifname}`));
  return phys;
}

/**
 * Gives a --direct-phys NIC back to the host netns it came from under its own name, with its MAC, MTU,
 * addresses, routes and up state. Returns what could not be done (the NIC back under its name is done first).
 */
async function givePhysBack(host: Netns, ctr: Netns, ifname: string, phys: PhysRecord): Promise<string[]> {
  const link = await ctr.rtnl.findLink(ifname);
  if (!link) return [`${ifname} is no longer in ${ctr.label}`];
  await ctr.rtnl.setLink(link.index, { up: false }).catch(() => undefined);
  try {
    await ctr.rtnl.setLink(link.index, { netnsFd: host.fd(), name: phys.name });
  } catch (e) {
    if (isNetlinkError(e, 'EEXIST'))
      throw new PluginError(
        `NIC ${phys.name}`,
        `cannot go back to ${host.label} under its name: another interface is called ${phys.name} there now`,
        `rename that one (ip link set ${phys.name} name …), then detach again; ${ifname} stays in ${ctr.label} meanwhile`,
        AttachErrorCode.InterfaceExists,
      );
    kernel(e, `move ${ifname} back to ${host.label} as ${phys.name}`);
  }
  const back = await host.rtnl.link(phys.name);
  const failed: string[] = [];
  const change = { ...(phys.mac && back.mac !== phys.mac ? { mac: phys.mac } : {}), ...(back.mtu !== phys.mtu ? { mtu: phys.mtu } : {}) };
  if (Object.keys(change).length)
    await host.rtnl.setLink(back.index, change).catch((e) => failed.push(`restore MAC/MTU of ${phys.name}: ${(e as Error).message}`));
  return [...failed, ...(await restoreNic(host, back.index, { ...phys.move, nicIndex: back.index }))];
}

async function bridgeSide(
  host: Netns,
  ctr: Netns,
  req: AttachRequest,
  p: Plan,
  undo: Undo[],
): Promise<{ bridge: Link; hostVeth: Link; created: boolean }> {
  const errors: PortErrors = {
    codes: CODES,
    notABridge: (link) =>
      new PluginError(
        `bridge ${link.name}`,
        `already exists and is a ${link.kind ?? 'physical'} interface, not a bridge`,
        'pick another --bridge name',
      ),
    interfaceExists: () => interfaceExists(req, ctr),
  };
  // Looked up again under the lock: a detach may have given the bridge back since plan() saw it.
  const { bridge, created } = await ensureBridge(host, { name: p.bridgeName!, mtu: p.mtu }, errors, p.bridge ? undefined : null);
  if (created) undo.push(() => host.rtnl.deleteLinkIfExists(bridge.index));
  const nic = p.uplink && (await host.rtnl.link(p.uplink.index));
  if (nic && nic.masterIndex !== bridge.index) {
    const move = await planUplinkMove(host, nic);
    undo.push(await recordUplink(host, bridge, created, move)); // recorded before it happens: a crash leaves the record
    undo.push(() => giveBackUplink(host, bridge.index, move));
    await takeUplink(host, bridge, nic, move);
  }
  if (req.hostIfname && (await host.rtnl.findLink(req.hostIfname)))
    throw new PluginError(
      `host-side interface ${req.hostIfname}`,
      `already exists in ${host.label}`,
      'pick another -l name, or omit -l for a generated one',
      AttachErrorCode.InterfaceExists,
    );
  const veth = await createVethPort(
    host,
    ctr,
    {
      bridge,
      ifname: req.ifname,
      prefix: 'tsa',
      mtu: p.mtu,
      ...(req.hostIfname ? { hostName: req.hostIfname } : {}),
      ...(req.mac ? { mac: req.mac } : {}),
    },
    errors,
  );
  undo.push(() => host.rtnl.deleteLinkIfExists(veth.index));
  return { bridge, hostVeth: veth, created };
}

async function macvlanSide(host: Netns, ctr: Netns, req: AttachRequest, p: Plan, undo: Undo[]): Promise<Link> {
  let parent = p.parent!;
  if (req.vlan) {
    const subName = `${parent.name}.${req.vlan}`.slice(0, 15);
    const existing = await host.rtnl.findLink(subName);
    if (existing) parent = existing;
    else {
      try {
        parent = await host.rtnl.createLink({ kind: 'vlan', name: subName, parentIndex: p.parent!.index, vlanId: req.vlan, up: true });
      } catch (e) {
        kernel(e, `VLAN sub-interface ${subName} of ${p.parent!.name}`);
      }
      const idx = parent.index;
      undo.push(() => host.rtnl.deleteLinkIfExists(idx));
    }
  }
  const tmp = randomVethName('tsm');
  let mv: Link;
  try {
    mv = await host.rtnl.createLink({
      kind: 'macvlan',
      name: tmp,
      parentIndex: parent.index,
      mode: 'bridge',
      mtu: p.mtu,
      ...(req.mac ? { mac: req.mac } : {}),
    });
  } catch (e) {
    kernel(e, `macvlan on NIC ${parent.name}`);
  }
  const idx = mv.index;
  undo.push(() => host.rtnl.deleteLinkIfExists(idx));
  try {
    await host.rtnl.setLink(idx, { netnsFd: ctr.fd() });
  } catch (e) {
    kernel(e, `move macvlan ${tmp} into ${ctr.label}`);
  }
  undo.push(() => ctr.rtnl.deleteLinkIfExists(tmp));
  await ctr.rtnl
    .setLink(tmp, { name: req.ifname })
    .catch((e) => (isNetlinkError(e, 'EEXIST') ? Promise.reject(interfaceExists(req, ctr)) : kernel(e, `rename ${tmp} to ${req.ifname}`)));
  undo.push(() => ctr.rtnl.deleteLinkIfExists(req.ifname));
  return parent;
}

function interfaceExists(req: AttachRequest, ctr: Netns): PluginError {
  return new PluginError(
    `container interface ${req.ifname}`,
    `already exists in ${ctr.label}`,
    `pick another name with -i (pipework's default is eth1), or 'tsnet detach ${req.container} -i ${req.ifname}' first`,
    AttachErrorCode.InterfaceExists,
  );
}

async function configure(
  ctr: Netns,
  req: AttachRequest,
  link: Link,
  env: AttachEnv,
  client: DhcpClient | undefined,
  netnsPath: string,
  undo: Undo[],
): Promise<{ address?: string; gateway?: string; lease?: Lease }> {
  if (req.dhcp) {
    // arp_notify with the 'up' (the interface announces its address when its link or MAC changes later).
    await ctr.rtnl.setLink(link.index, { ipv4Conf: { arpNotify: true } }).catch(() => undefined); // no IPv4 state (MTU < 68): nothing to announce
    await ctr.rtnl.setLink(link.index, { up: true });
    const form = parseDhcpForm(req.dhcpForm ?? 'dhcp')!;
    const hostname = guestName(req, netnsPath);
    const resolvConf = leaseResolvConf(netnsPath, env);
    const lease = await startLeaseKeeper(ctr, req.ifname, link.index, {
      form,
      ...(client ? { client } : {}),
      ...(env.dhcpTimeoutMs ? { timeoutMs: env.dhcpTimeoutMs } : {}),
      ...(hostname ? { hostname } : {}),
      ...(resolvConf ? { resolvConf } : {}),
      ...(env.progress ? { progress: env.progress } : {}),
    });
    undo.push(() => stopLeaseKeeper(lease.keeper));
    return { address: lease.address, ...(lease.gateway ? { gateway: lease.gateway } : {}), lease };
  }
  if (req.linkOnly) {
    await ctr.rtnl.setLink(link.index, { up: true }).catch((e) => kernel(e, `bring ${req.ifname} up in ${ctr.label}`));
    return {};
  }
  const all = allAddresses(req);
  const routes: Route[] = [];
  for (const a of all) {
    if (!a.gateway) continue;
    const { addr, prefix } = parseCidr(a.address);
    const v6 = addr.family === 6;
    // pipework: a gateway outside the subnet gets an on-link host route first.
    if (!containsAddr(prefix, parseAddr(a.gateway))) routes.push({ dst: `${a.gateway}/${v6 ? 128 : 32}`, scope: RT_SCOPE_LINK });
    routes.push({ dst: v6 ? '::/0' : '0.0.0.0/0', gw: a.gateway });
  }
  const result: Result = {
    cniVersion: '1.1.0',
    ips: all.map((a) => ({ address: a.address, ...(a.gateway ? { gateway: a.gateway } : {}) })),
    routes,
  };
  // pipework's way: the gateway given becomes the container's default route (replacing one it has).
  await configureInterface(ctr, req.ifname, result, { index: link.index, arpNotify: true, replaceRoutes: true }).catch((e) =>
    kernel(e, `configure ${all.map((a) => a.address).join(', ')} on ${req.ifname} in ${ctr.label}`),
  );
  return { address: req.address!, ...(req.gateway ? { gateway: req.gateway } : {}) };
}

function allAddresses(req: AttachRequest): { address: string; gateway?: string }[] {
  if (!req.address) return [];
  return [{ address: req.address, ...(req.gateway ? { gateway: req.gateway } : {}) }, ...(req.more ?? [])];
}

/** An address the container already has on another interface is refused (before anything is made). */
async function refuseDuplicates(ctr: Netns, req: AttachRequest): Promise<void> {
  const want = allAddresses(req);
  if (!want.length) return;
  const have = await ctr.rtnl.addresses();
  const links = await ctr.rtnl.links();
  for (const a of want) {
    const ip = a.address.split('/')[0]!;
    const dup = have.find((h) => h.address === ip);
    if (dup)
      throw new PluginError(
        `address ${a.address}`,
        `is already on ${links.find((l) => l.index === dup.index)?.name ?? `interface #${dup.index}`} in ${ctr.label}`,
        'give another address (one address belongs to one interface)',
        AttachErrorCode.BadArgument,
      );
  }
}

/** Performs a checked request (see parseAttachArgs). */
export async function attach(req: AttachRequest, env: AttachEnv = {}): Promise<AttachResult> {
  const resolved: ResolvedContainer = env.netnsPath
    ? { netnsPath: env.netnsPath, label: env.netnsPath }
    : await resolveContainer(req.container);
  // A guest's own resolv.conf (a Docker container's), for a lease's DNS servers, unless the caller knows better.
  if (resolved.resolvConf && !env.resolvConf) env = { ...env, resolvConf: resolved.resolvConf };
  const host = env.host ?? Netns.current();
  const ctr = Netns.open(resolved.netnsPath);
  const undo: Undo[] = [];
  try {
    const hostWhy = ctr.id() === host.id() ? host.label : env.host ? undefined : hostNetnsReason(resolved.netnsPath);
    if (hostWhy)
      throw new PluginError(
        `container ${req.container}`,
        `shares the network namespace of the host (${hostWhy})`,
        'a host-mode container already sees the host interfaces; attach a container that has its own netns',
      );
    if (await ctr.rtnl.findLink(req.ifname)) throw interfaceExists(req, ctr);
    await refuseDuplicates(ctr, req);
    const dhcpClient = req.dhcp ? clientForForm(parseDhcpForm(req.dhcpForm ?? 'dhcp')!) : undefined; // before any change: no client, no attachment
    const nic = req.directPhys ? await physPlan(host, req) : undefined;
    const p: Plan = nic ? { mode: 'phys', mtu: nic.mtu } : await plan(host, req);
    let out: Pick<AttachResult, 'bridge' | 'hostVeth' | 'parent' | 'createdBridge'>;
    let phys: PhysRecord | undefined;
    if (nic) {
      phys = await physSide(host, ctr, req, nic, resolved, undo);
      out = { parent: nic.name, createdBridge: false };
    } else if (p.mode === 'bridge') {
      // Under the attachments lock: a detach never finds the bridge idle between the NIC taken and the port made.
      // Only where a NIC is taken, now or before: other attachments leave the state root alone.
      const locked = !!p.uplink || readUplinkRecords(host.id()).length > 0;
      const serialised = <T>(fn: () => Promise<T>) => (locked ? withAttachLock(fn) : fn());
      const b = await serialised(async () => {
        const steps: Undo[] = [];
        try {
          return await bridgeSide(host, ctr, req, p, steps);
        } catch (e) {
          await rollBack(steps);
          throw e;
        }
      });
      // A later failure undoes this as a detach would: the port goes, and the bridge (with the NIC it took) only
      // if no other container has joined it since.
      undo.push(() =>
        serialised(async () => {
          await host.rtnl.deleteLinkIfExists(b.hostVeth.index);
          await releaseIdleUplinks(host);
          const br = b.created ? await host.rtnl.findLink(b.bridge.index) : undefined;
          if (br?.name === b.bridge.name && !(await host.rtnl.links()).some((l) => l.masterIndex === br.index))
            await host.rtnl.deleteLinkIfExists(br.index);
        }),
      );
      out = { bridge: b.bridge.name, hostVeth: b.hostVeth.name, createdBridge: b.created };
    } else {
      const parent = await macvlanSide(host, ctr, req, p, undo);
      out = { parent: parent.name, createdBridge: false };
    }
    const link = await ctr.rtnl.link(req.ifname);
    const { lease, ...ips } = await configure(ctr, req, link, env, dhcpClient, resolved.netnsPath, undo);
    const now = req.dhcp ? await ctr.rtnl.link(link.index) : link; // a DHCP client may have changed the MTU
    if (ips.address && now.mac) sendGratuitousArp(resolved.netnsPath, now.index, now.mac, ips.address.split('/')[0]!);
    const result: AttachResult = {
      container: resolved.label,
      netnsPath: resolved.netnsPath,
      ifname: req.ifname,
      mac: now.mac ?? '',
      mtu: now.mtu,
      mode: p.mode,
      ...out,
      ...ips,
      ...(lease?.lease ? { lease: lease.lease } : {}),
      ...(lease?.dns ? { dns: lease.dns } : {}),
      ...(lease ? { keeper: lease.keeper } : {}),
    };
    await writeAttachment({
      version: 1,
      container: req.container,
      label: resolved.label,
      netnsPath: resolved.netnsPath,
      netns: ctr.id(),
      ifname: req.ifname,
      ifindex: now.index,
      mac: result.mac,
      mode: p.mode,
      hostIf: req.hostIf,
      ...(out.bridge ? { bridge: out.bridge } : {}),
      ...(out.hostVeth ? { hostVeth: out.hostVeth } : {}),
      ...(out.parent ? { parent: out.parent } : {}),
      createdBridge: out.createdBridge,
      addresses: req.dhcp ? (ips.address ? [ips.address] : []) : allAddresses(req).map((a) => a.address),
      ...(ips.gateway ? { gateway: ips.gateway } : {}),
      routes: req.dhcp ? [] : allAddresses(req).flatMap((a) => (a.gateway ? [`default via ${a.gateway}`] : [])),
      ...(lease ? { dhcp: { client: dhcpClient!.kind, keeper: lease.keeper, ...(lease.lease ? { lease: lease.lease } : {}) } } : {}),
      ...(phys ? { phys } : {}),
      created: new Date().toISOString(),
    } satisfies AttachmentRecord);
    return result;
  } catch (e) {
    await rollBack(undo);
    throw e;
  } finally {
    ctr.close();
    if (!env.host) host.close();
  }
}

export interface DetachRequest {
  container: string;
  ifname: string;
  /** Succeed when the interface (or the container's netns) is already gone (CNI DEL). */
  missingOk?: boolean;
  /** Refuse an interface tsnet attach did not make (not in the registry) — the CLI's rule, unless --force. */
  onlyRecorded?: boolean;
}

/**
 * Removes an attached interface (the veth's host end, or the macvlan, goes with it). A bridge that took a NIC
 * (--take-uplink, --uplink) and now has no container left gives the NIC back — out of the bridge, its addresses
 * and routes back on it — and goes if tsnet made it (see uplink-record.ts). Other bridges stay.
 */
export async function detach(req: DetachRequest, env: Pick<AttachEnv, 'netnsPath' | 'host'> = {}): Promise<boolean> {
  if (req.ifname === 'lo')
    throw new PluginError(
      'container interface lo',
      'is the loopback interface, not an attachment',
      'name the attached interface with -i (default eth1)',
    );
  const host = env.host ?? Netns.current();
  let removed: boolean;
  try {
    removed = await removeInterface(req, { ...env, host });
  } catch (e) {
    if (!env.host) host.close();
    throw e;
  }
  try {
    if (!readUplinkRecords(host.id()).length) return removed;
    const failed = await withAttachLock(() => releaseIdleUplinks(host));
    if (failed.length && !req.missingOk)
      throw new PluginError(
        `detach ${req.ifname} from ${req.container}`,
        `the interface is gone, but giving the uplink back was incomplete (${failed.join('; ')})`,
        "check the NIC's addresses and routes on the host (ip addr, ip route) and put back what is missing",
        AttachErrorCode.Kernel,
      );
    return removed;
  } finally {
    if (!env.host) host.close();
  }
}

async function removeInterface(req: DetachRequest, env: Pick<AttachEnv, 'netnsPath' | 'host'>): Promise<boolean> {
  let path: string;
  try {
    path = env.netnsPath ?? (await resolveContainer(req.container)).netnsPath;
  } catch (e) {
    if (req.missingOk) return false;
    throw e;
  }
  let ctr: Netns;
  try {
    ctr = Netns.open(path);
  } catch (e) {
    if (req.missingOk) return false;
    throw e;
  }
  try {
    const link = await ctr.rtnl.findLink(req.ifname);
    const rec = findAttachment(ctr.id(), req.ifname);
    const ours = rec && link && rec.ifindex === link.index;
    if (link && !ours && req.onlyRecorded)
      throw new PluginError(
        `container interface ${req.ifname} in ${ctr.label}`,
        req.ifname === 'eth0'
          ? "was not made by tsnet attach: it is the container's own interface on its network (the engine's eth0)"
          : 'was not made by tsnet attach (it is not in the attachment registry)',
        req.ifname === 'eth0'
          ? `to take the container off a network use 'tsnet network disconnect <network> ${req.container}'; 'tsnet attach ls' lists what attach made`
          : `'tsnet attach ls' lists what attach made; add --force to delete ${req.ifname} all the same`,
        AttachErrorCode.BadArgument,
      );
    if (ours && rec.phys) {
      // --direct-phys: the NIC goes back to the host as it was, not deleted.
      const host = env.host!;
      if (host.id() !== rec.phys.hostNetns)
        throw new PluginError(
          `NIC ${rec.phys.name} (${req.ifname} in ${ctr.label})`,
          `came from another network namespace (${rec.phys.hostNetns}) than the one tsnet runs in (${host.id()})`,
          'run tsnet detach in the network namespace the NIC came from',
          AttachErrorCode.BadArgument,
        );
      if (rec.dhcp) await stopLeaseKeeper(rec.dhcp.keeper);
      const failed = await givePhysBack(host, ctr, req.ifname, rec.phys);
      removeAttachment(rec);
      if (failed.length)
        throw new PluginError(
          `NIC ${rec.phys.name}`,
          `is back in ${host.label}, but restoring it was incomplete (${failed.join('; ')})`,
          'check its addresses and routes (ip addr, ip route) and put back what is missing',
          AttachErrorCode.Kernel,
        );
      return true;
    }
    if (rec?.dhcp) await stopLeaseKeeper(rec.dhcp.keeper); // the client releases the lease while the interface is still there
    if (rec) removeAttachment(rec);
    if (!link) {
      if (req.missingOk) return false;
      throw new PluginError(
        `container interface ${req.ifname}`,
        `does not exist in ${ctr.label}`,
        `list the container's interfaces with 'ip -n <netns> link', and pass the attached one with -i`,
      );
    }
    await ctr.rtnl.deleteVeth(link.index, null); // a veth's host end is in the current namespace; other kinds: plain delete
    return true;
  } finally {
    ctr.close();
  }
}
