// rtnetlink operations on one network namespace: links, addresses, routes, neighbours — the verbs of `ip`.
// Links may be named or given by index; names are resolved with one RTM_GETLINK.
import { encodeAddress, AddressSpec, Address, decodeAddress, ifaddrmsg } from './netlink/addr.js';
import { str } from './netlink/attrs.js';
import * as C from './netlink/constants.js';
import { NetlinkError, isNetlinkError } from './netlink/errors.js';
import { decodeLink, encodeLinkChange, encodeLinkCreate, ifinfomsg, Link, LinkChange, LinkSpec } from './netlink/link.js';
import { decodeNeighbour, encodeNeighbour, ndmsg, Neighbour, NeighbourSpec } from './netlink/neigh.js';
import { decodeRoute, encodeRoute, RouteEntry, RouteSpec, rtmsg } from './netlink/route.js';
import { NetlinkSocket, SocketOptions } from './netlink/socket.js';

export type LinkRef = number | string;

export interface RouteFilter {
  family?: number;
  /** Default: main. Use 'all' for every table. */
  table?: number | 'all';
  oif?: number;
}

export class Rtnl {
  private readonly sock: NetlinkSocket;

  /** @param where a label for error messages, e.g. "netns /run/netns/c1" */
  constructor(
    nsPath: string | null,
    private readonly where: string,
    opts: SocketOptions = {},
  ) {
    this.sock = new NetlinkSocket(nsPath, opts);
  }

  close(): void {
    this.sock.close();
  }

  private op(what: string): string {
    return `${what} in ${this.where}`;
  }

  // ---- links

  async links(): Promise<Link[]> {
    const msgs = await this.sock.dump(C.RTM_GETLINK, ifinfomsg(), [], this.op('list links'));
    return msgs.filter((m) => m.type === C.RTM_NEWLINK).map((m) => decodeLink(m.payload));
  }

  /** The link, or a NetlinkError ENODEV naming it. */
  async link(ref: LinkRef): Promise<Link> {
    const byName = typeof ref === 'string';
    const m = await this.sock.get(C.RTM_GETLINK, ifinfomsg(byName ? 0 : ref), byName ? [str(C.IFLA_IFNAME, ref)] : [], this.op(`find link ${JSON.stringify(ref)}`));
    return decodeLink(m.payload);
  }

  /** The link, or undefined when there is none by that name/index. */
  async findLink(ref: LinkRef): Promise<Link | undefined> {
    try {
      return await this.link(ref);
    } catch (e) {
      if (isNetlinkError(e, 'ENODEV')) return undefined;
      throw e;
    }
  }

  async index(ref: LinkRef): Promise<number> {
    return typeof ref === 'number' ? ref : (await this.link(ref)).index;
  }

  /**
   * Creates a link (fails with EEXIST if the name is taken) and returns it as the kernel reports it.
   * `up` is applied after creation, once the link (and a veth's peer) exists.
   */
  async createLink(spec: LinkSpec): Promise<Link> {
    const { fixed, attrs } = encodeLinkCreate({ ...spec, up: false });
    const what = this.op(`create ${spec.kind} link "${spec.name}"`);
    try {
      await this.sock.request(C.RTM_NEWLINK, C.NLM_F_CREATE | C.NLM_F_EXCL, fixed, attrs, what);
    } catch (e) {
      if (isNetlinkError(e, 'EOPNOTSUPP') && /unknown device type/i.test(e.extack ?? e.message)) {
        const unsupported = new NetlinkError(e.errno, what, `this kernel has no "${spec.kind}" link support (driver not built or module not loadable)`);
        unsupported.unsupportedKind = spec.kind;
        throw unsupported;
      }
      throw e;
    }
    const link = await this.link(spec.name);
    if (!spec.up) return link;
    await this.setLink(link.index, { up: true });
    return { ...link, up: true, flags: link.flags | C.IFF_UP };
  }

  async setLink(ref: LinkRef, change: LinkChange): Promise<void> {
    const index = await this.index(ref);
    const { fixed, attrs } = encodeLinkChange(index, change);
    await this.sock.request(C.RTM_NEWLINK, 0, fixed, attrs, this.op(`change link ${JSON.stringify(ref)} (${Object.keys(change).join(', ')})`));
  }

  async deleteLink(ref: LinkRef): Promise<void> {
    const byName = typeof ref === 'string';
    await this.sock.request(C.RTM_DELLINK, 0, ifinfomsg(byName ? 0 : ref), byName ? [str(C.IFLA_IFNAME, ref)] : [], this.op(`delete link ${JSON.stringify(ref)}`));
  }

  /** Deletes the link if present; returns whether it existed. */
  async deleteLinkIfExists(ref: LinkRef): Promise<boolean> {
    try {
      await this.deleteLink(ref);
      return true;
    } catch (e) {
      if (isNetlinkError(e, 'ENODEV')) return false;
      throw e;
    }
  }

  // ---- addresses

  async addresses(filter: { family?: number; link?: LinkRef } = {}): Promise<Address[]> {
    const index = filter.link === undefined ? undefined : await this.index(filter.link);
    // The kernel filters by index (strict dump checking); the filter below also covers kernels that do not.
    const msgs = await this.sock.dump(C.RTM_GETADDR, ifaddrmsg(filter.family ?? C.AF_UNSPEC, 0, 0, 0, index ?? 0), [], this.op('list addresses'));
    return msgs
      .filter((m) => m.type === C.RTM_NEWADDR)
      .map((m) => decodeAddress(m.payload))
      .filter((a) => index === undefined || a.index === index);
  }

  async addAddress(link: LinkRef, cidr: string, opts: Omit<AddressSpec, 'index' | 'cidr'> = {}, replace = false): Promise<void> {
    const index = await this.index(link);
    const { fixed, attrs } = encodeAddress({ ...opts, index, cidr });
    await this.sock.request(C.RTM_NEWADDR, C.NLM_F_CREATE | (replace ? C.NLM_F_REPLACE : C.NLM_F_EXCL), fixed, attrs, this.op(`add address ${cidr} to link ${JSON.stringify(link)}`));
  }

  async deleteAddress(link: LinkRef, cidr: string): Promise<void> {
    const index = await this.index(link);
    const { fixed, attrs } = encodeAddress({ index, cidr, broadcast: null });
    await this.sock.request(C.RTM_DELADDR, 0, fixed, attrs, this.op(`delete address ${cidr} from link ${JSON.stringify(link)}`));
  }

  // ---- routes

  async routes(filter: RouteFilter = {}): Promise<RouteEntry[]> {
    const family = filter.family ?? C.AF_UNSPEC;
    const msgs = await this.sock.dump(C.RTM_GETROUTE, rtmsg({ family, dstLen: 0, table: 0, protocol: 0, scope: 0, type: 0 }), [], this.op('list routes'));
    const table = filter.table ?? C.RT_TABLE_MAIN;
    return msgs
      .filter((m) => m.type === C.RTM_NEWROUTE)
      .map((m) => decodeRoute(m.payload))
      .filter((r) => (table === 'all' || r.table === table) && (filter.oif === undefined || r.oif === filter.oif));
  }

  async addRoute(spec: RouteSpec): Promise<void> {
    const { fixed, attrs } = encodeRoute(spec);
    await this.sock.request(C.RTM_NEWROUTE, C.NLM_F_CREATE | C.NLM_F_EXCL, fixed, attrs, this.op(`add route ${describeRoute(spec)}`));
  }

  async replaceRoute(spec: RouteSpec): Promise<void> {
    const { fixed, attrs } = encodeRoute(spec);
    await this.sock.request(C.RTM_NEWROUTE, C.NLM_F_CREATE | C.NLM_F_REPLACE, fixed, attrs, this.op(`replace route ${describeRoute(spec)}`));
  }

  async deleteRoute(spec: RouteSpec): Promise<void> {
    const { fixed, attrs } = encodeRoute(spec, true);
    await this.sock.request(C.RTM_DELROUTE, 0, fixed, attrs, this.op(`delete route ${describeRoute(spec)}`));
  }

  // ---- neighbours

  async neighbours(filter: { family?: number; link?: LinkRef } = {}): Promise<Neighbour[]> {
    const index = filter.link === undefined ? undefined : await this.index(filter.link);
    const msgs = await this.sock.dump(C.RTM_GETNEIGH, ndmsg(filter.family ?? C.AF_UNSPEC, index ?? 0, 0), [], this.op('list neighbours'));
    return msgs
      .filter((m) => m.type === C.RTM_NEWNEIGH)
      .map((m) => decodeNeighbour(m.payload))
      .filter((n) => index === undefined || n.index === index);
  }

  /** Adds or replaces a neighbour entry (like `ip neigh replace`). */
  async setNeighbour(spec: Omit<NeighbourSpec, 'index'> & { link: LinkRef }): Promise<void> {
    const index = await this.index(spec.link);
    const { fixed, attrs } = encodeNeighbour({ ...spec, index });
    await this.sock.request(C.RTM_NEWNEIGH, C.NLM_F_CREATE | C.NLM_F_REPLACE, fixed, attrs, this.op(`set neighbour ${spec.ip} lladdr ${spec.mac}`));
  }
}

export function describeRoute(r: RouteSpec): string {
  return [r.dst, r.gateway && `via ${r.gateway}`, r.oif !== undefined && `dev #${r.oif}`, r.table !== undefined && `table ${r.table}`, r.priority !== undefined && `metric ${r.priority}`]
    .filter(Boolean)
    .join(' ');
}

export { NetlinkError };
