// RTM_*LINK: struct ifinfomsg (16 bytes) + IFLA_* attributes, and the typed link kinds tsnet creates.
import { Attr, AttrMap, attrsSize, bytes, encodeAttrs, nest, str, u16be, u32, u8, NetlinkDecodeError } from './attrs.js';
import * as C from './constants.js';
import { bytesToIp, bytesToMac, ipToBytes, macToBytes } from './wire-values.js';

export function ifinfomsg(index = 0, flags = 0, change = 0, family = C.AF_UNSPEC): Buffer {
  const b = Buffer.alloc(16);
  b.writeUInt8(family, 0);
  b.writeInt32LE(index, 4);
  b.writeUInt32LE(flags >>> 0, 8);
  b.writeUInt32LE(change >>> 0, 12);
  return b;
}

export type OperState = 'unknown' | 'notpresent' | 'down' | 'lowerlayerdown' | 'testing' | 'dormant' | 'up';
const OPERSTATES: OperState[] = ['unknown', 'notpresent', 'down', 'lowerlayerdown', 'testing', 'dormant', 'up'];

export interface BridgeInfo {
  stpState?: number;
  forwardDelay?: number;
  ageingTime?: number;
  vlanFiltering?: boolean;
}
export interface VxlanInfo {
  vni?: number;
  local?: string;
  group?: string;
  port?: number;
  linkIndex?: number;
  learning?: boolean;
}
export interface BridgePortInfo {
  hairpin?: boolean;
  learning?: boolean;
  /** Port isolation: no forwarding between two isolated ports. */
  isolated?: boolean;
  state?: number;
}

/** A link as the kernel reports it. */
export interface Link {
  index: number;
  name: string;
  /** IFLA_INFO_KIND: 'veth', 'bridge', 'vxlan', … (absent for physical and loopback devices). */
  kind?: string;
  flags: number;
  up: boolean;
  operstate: OperState;
  mtu: number;
  mac?: string;
  masterIndex?: number;
  /** IFLA_LINK: the peer's index for a veth, the parent for vlan/macvlan. */
  linkIndex?: number;
  /** Set when IFLA_LINK refers to another namespace. */
  linkNetnsId?: number;
  txqlen?: number;
  promiscuity?: number;
  carrier?: boolean;
  alias?: string;
  slaveKind?: string;
  bridge?: BridgeInfo;
  vxlan?: VxlanInfo;
  vlanId?: number;
  bridgePort?: BridgePortInfo;
}

export function decodeLink(payload: Buffer): Link {
  if (payload.length < 16) throw new NetlinkDecodeError(`ifinfomsg needs 16 bytes, got ${payload.length}`);
  const index = payload.readInt32LE(4);
  const flags = payload.readUInt32LE(8);
  const a = AttrMap.parse(payload, 16);
  const link: Link = {
    index,
    name: a.str(C.IFLA_IFNAME) ?? '',
    flags,
    up: (flags & C.IFF_UP) !== 0,
    operstate: OPERSTATES[a.u8(C.IFLA_OPERSTATE) ?? 0] ?? 'unknown',
    mtu: a.u32(C.IFLA_MTU) ?? 0,
  };
  const mac = a.raw(C.IFLA_ADDRESS);
  if (mac && mac.length === 6) link.mac = bytesToMac(mac);
  const opt = <K extends keyof Link>(k: K, v: Link[K] | undefined) => {
    if (v !== undefined) link[k] = v;
  };
  opt('masterIndex', a.u32(C.IFLA_MASTER));
  opt('linkIndex', a.u32(C.IFLA_LINK));
  opt('linkNetnsId', a.s32(C.IFLA_LINK_NETNSID));
  opt('txqlen', a.u32(C.IFLA_TXQLEN));
  opt('promiscuity', a.u32(C.IFLA_PROMISCUITY));
  const carrier = a.u8(C.IFLA_CARRIER);
  if (carrier !== undefined) link.carrier = carrier === 1;
  opt('alias', a.str(C.IFLA_IFALIAS));
  const info = a.nested(C.IFLA_LINKINFO);
  if (info) {
    opt('kind', info.str(C.IFLA_INFO_KIND));
    opt('slaveKind', info.str(C.IFLA_INFO_SLAVE_KIND));
    const data = info.has(C.IFLA_INFO_DATA) ? info.nested(C.IFLA_INFO_DATA) : undefined;
    if (data && link.kind === 'bridge') {
      link.bridge = {
        stpState: data.u32(C.IFLA_BR_STP_STATE),
        forwardDelay: data.u32(C.IFLA_BR_FORWARD_DELAY),
        ageingTime: data.u32(C.IFLA_BR_AGEING_TIME),
        vlanFiltering: data.has(C.IFLA_BR_VLAN_FILTERING) ? data.u8(C.IFLA_BR_VLAN_FILTERING) === 1 : undefined,
      };
    } else if (data && link.kind === 'vxlan') {
      const local = data.raw(C.IFLA_VXLAN_LOCAL) ?? data.raw(C.IFLA_VXLAN_LOCAL6);
      const group = data.raw(C.IFLA_VXLAN_GROUP) ?? data.raw(C.IFLA_VXLAN_GROUP6);
      link.vxlan = {
        vni: data.u32(C.IFLA_VXLAN_ID),
        local: local ? bytesToIp(local) : undefined,
        group: group ? bytesToIp(group) : undefined,
        port: data.u16be(C.IFLA_VXLAN_PORT),
        linkIndex: data.u32(C.IFLA_VXLAN_LINK),
        learning: data.has(C.IFLA_VXLAN_LEARNING) ? data.u8(C.IFLA_VXLAN_LEARNING) === 1 : undefined,
      };
    } else if (data && link.kind === 'vlan') {
      link.vlanId = data.u16(C.IFLA_VLAN_ID);
    }
    const sdata = info.has(C.IFLA_INFO_SLAVE_DATA) ? info.nested(C.IFLA_INFO_SLAVE_DATA) : undefined;
    if (sdata && link.slaveKind === 'bridge') {
      link.bridgePort = {
        hairpin: sdata.has(C.IFLA_BRPORT_MODE) ? sdata.u8(C.IFLA_BRPORT_MODE) === 1 : undefined,
        learning: sdata.has(C.IFLA_BRPORT_LEARNING) ? sdata.u8(C.IFLA_BRPORT_LEARNING) === 1 : undefined,
        isolated: sdata.has(C.IFLA_BRPORT_ISOLATED) ? sdata.u8(C.IFLA_BRPORT_ISOLATED) === 1 : undefined,
        state: sdata.u8(C.IFLA_BRPORT_STATE),
      };
    }
  }
  return link;
}

/** Attributes every link kind can take at creation. */
export interface LinkCommon {
  name: string;
  mtu?: number;
  mac?: string;
  txqlen?: number;
  /** Transmit and receive queues the device is created with (default: the driver's, for veth one per CPU). */
  queues?: number;
  /** Index of the bridge to enslave to. */
  masterIndex?: number;
  up?: boolean;
}

/** The other end of a veth; `netnsFd` (see Netns.fd()) puts it straight into that namespace. Bring it up from there. */
export interface VethPeer {
  name: string;
  netnsFd?: number;
  mtu?: number;
  mac?: string;
  queues?: number;
}

export type LinkSpec = LinkCommon &
  (
    | { kind: 'veth'; peer: VethPeer }
    | { kind: 'bridge'; stpState?: number; forwardDelay?: number; vlanFiltering?: boolean }
    | {
        kind: 'vxlan';
        vni: number;
        local?: string;
        group?: string;
        port?: number;
        parentIndex?: number;
        learning?: boolean;
        proxy?: boolean;
      }
    | { kind: 'vlan'; parentIndex: number; vlanId: number }
    | { kind: 'macvlan'; parentIndex: number; mode?: 'bridge' }
    | { kind: 'dummy' }
  );

function commonAttrs(s: { name: string; mtu?: number; mac?: string; txqlen?: number; queues?: number; masterIndex?: number }): Attr[] {
  const attrs: Attr[] = [str(C.IFLA_IFNAME, s.name)];
  if (s.mtu !== undefined) attrs.push(u32(C.IFLA_MTU, s.mtu));
  if (s.queues !== undefined) attrs.push(u32(C.IFLA_NUM_TX_QUEUES, s.queues), u32(C.IFLA_NUM_RX_QUEUES, s.queues));
  if (s.mac !== undefined) attrs.push(bytes(C.IFLA_ADDRESS, macToBytes(s.mac)));
  if (s.txqlen !== undefined) attrs.push(u32(C.IFLA_TXQLEN, s.txqlen));
  if (s.masterIndex !== undefined) attrs.push(u32(C.IFLA_MASTER, s.masterIndex));
  return attrs;
}

/** Builds ifinfomsg + attributes for RTM_NEWLINK with NLM_F_CREATE|NLM_F_EXCL. */
export function encodeLinkCreate(spec: LinkSpec): { fixed: Buffer; attrs: Attr[] } {
  const attrs = commonAttrs(spec);
  const data: Attr[] = [];
  switch (spec.kind) {
    case 'veth': {
      const p = spec.peer;
      const peerAttrs = commonAttrs(p);
      if (p.netnsFd !== undefined) peerAttrs.push(u32(C.IFLA_NET_NS_FD, p.netnsFd));
      const peerFixed = ifinfomsg();
      // VETH_INFO_PEER's payload is a whole ifinfomsg followed by the peer's attributes.
      const inner = Buffer.alloc(16 + attrsSize(peerAttrs));
      peerFixed.copy(inner, 0);
      encodeAttrs(peerAttrs, inner, 16);
      data.push(bytes(C.VETH_INFO_PEER, inner));
      break;
    }
    case 'bridge':
      if (spec.stpState !== undefined) data.push(u32(C.IFLA_BR_STP_STATE, spec.stpState));
      if (spec.forwardDelay !== undefined) data.push(u32(C.IFLA_BR_FORWARD_DELAY, spec.forwardDelay));
      if (spec.vlanFiltering !== undefined) data.push(u8(C.IFLA_BR_VLAN_FILTERING, spec.vlanFiltering ? 1 : 0));
      break;
    case 'vxlan': {
      data.push(u32(C.IFLA_VXLAN_ID, spec.vni));
      if (spec.local) {
        const l = ipToBytes(spec.local);
        data.push(bytes(l.family === C.AF_INET ? C.IFLA_VXLAN_LOCAL : C.IFLA_VXLAN_LOCAL6, l.bytes));
      }
      if (spec.group) {
        const g = ipToBytes(spec.group);
        data.push(bytes(g.family === C.AF_INET ? C.IFLA_VXLAN_GROUP : C.IFLA_VXLAN_GROUP6, g.bytes));
      }
      if (spec.parentIndex !== undefined) data.push(u32(C.IFLA_VXLAN_LINK, spec.parentIndex));
      data.push(u16be(C.IFLA_VXLAN_PORT, spec.port ?? 4789));
      if (spec.learning !== undefined) data.push(u8(C.IFLA_VXLAN_LEARNING, spec.learning ? 1 : 0));
      if (spec.proxy !== undefined) data.push(u8(C.IFLA_VXLAN_PROXY, spec.proxy ? 1 : 0));
      break;
    }
    case 'vlan':
      attrs.push(u32(C.IFLA_LINK, spec.parentIndex));
      data.push({ type: C.IFLA_VLAN_ID, value: Buffer.from([spec.vlanId & 0xff, spec.vlanId >> 8]) });
      break;
    case 'macvlan':
      attrs.push(u32(C.IFLA_LINK, spec.parentIndex));
      data.push(u32(C.IFLA_MACVLAN_MODE, C.MACVLAN_MODE_BRIDGE));
      break;
    case 'dummy':
      break;
  }
  const info: Attr[] = [str(C.IFLA_INFO_KIND, spec.kind)];
  if (data.length) info.push(nest(C.IFLA_INFO_DATA, data));
  attrs.push(nest(C.IFLA_LINKINFO, info));
  const up = spec.up ? C.IFF_UP : 0;
  return { fixed: ifinfomsg(0, up, up), attrs };
}

/** Changes to an existing link (RTM_NEWLINK on an index, like `ip link set`). */
export interface LinkChange {
  up?: boolean;
  mtu?: number;
  mac?: string;
  name?: string;
  /** Bridge index to enslave to; 0 = nomaster. */
  masterIndex?: number;
  /** Move to the netns behind this fd. */
  netnsFd?: number;
  txqlen?: number;
  alias?: string;
  promisc?: boolean;
  /** Bridge-port settings (the link must be enslaved to a bridge). */
  bridgePort?: { hairpin?: boolean; learning?: boolean; isolated?: boolean };
  /** IPv4 settings of the interface, as in /proc/sys/net/ipv4/conf/IF (set over netlink: no /proc lookup). */
  ipv4Conf?: { arpNotify?: boolean };
}

export function encodeLinkChange(index: number, ch: LinkChange): { fixed: Buffer; attrs: Attr[] } {
  let flags = 0;
  let change = 0;
  if (ch.up !== undefined) {
    change |= C.IFF_UP;
    if (ch.up) flags |= C.IFF_UP;
  }
  if (ch.promisc !== undefined) {
    change |= C.IFF_PROMISC;
    if (ch.promisc) flags |= C.IFF_PROMISC;
  }
  const attrs: Attr[] = [];
  if (ch.name !== undefined) attrs.push(str(C.IFLA_IFNAME, ch.name));
  if (ch.mtu !== undefined) attrs.push(u32(C.IFLA_MTU, ch.mtu));
  if (ch.mac !== undefined) attrs.push(bytes(C.IFLA_ADDRESS, macToBytes(ch.mac)));
  if (ch.masterIndex !== undefined) attrs.push(u32(C.IFLA_MASTER, ch.masterIndex));
  if (ch.netnsFd !== undefined) attrs.push(u32(C.IFLA_NET_NS_FD, ch.netnsFd));
  if (ch.txqlen !== undefined) attrs.push(u32(C.IFLA_TXQLEN, ch.txqlen));
  if (ch.alias !== undefined) attrs.push(str(C.IFLA_IFALIAS, ch.alias));
  if (ch.bridgePort) {
    const d: Attr[] = [];
    if (ch.bridgePort.hairpin !== undefined) d.push(u8(C.IFLA_BRPORT_MODE, ch.bridgePort.hairpin ? 1 : 0));
    if (ch.bridgePort.learning !== undefined) d.push(u8(C.IFLA_BRPORT_LEARNING, ch.bridgePort.learning ? 1 : 0));
    if (ch.bridgePort.isolated !== undefined) d.push(u8(C.IFLA_BRPORT_ISOLATED, ch.bridgePort.isolated ? 1 : 0));
    attrs.push(nest(C.IFLA_LINKINFO, [str(C.IFLA_INFO_SLAVE_KIND, 'bridge'), nest(C.IFLA_INFO_SLAVE_DATA, d)]));
  }
  const af: Attr[] = [];
  if (ch.ipv4Conf?.arpNotify !== undefined)
    af.push(nest(C.AF_INET, [nest(C.IFLA_INET_CONF, [u32(C.IPV4_DEVCONF_ARP_NOTIFY, ch.ipv4Conf.arpNotify ? 1 : 0)])]));
  if (af.length) attrs.push(nest(C.IFLA_AF_SPEC, af));
  return { fixed: ifinfomsg(index, flags, change), attrs };
}
