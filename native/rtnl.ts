// rtnetlink operations on one network namespace: links, addresses, routes, neighbours — the verbs of `ip`.
// Links may be named or given by index; names are resolved with one RTM_GETLINK.
import { constants } from 'node:os';
import { closeSync, readSync } from 'node:fs';
import { isSysError, native } from './addon.js';
import { encodeAddress, AddressSpec, Address, decodeAddress, ifaddrmsg } from './netlink/addr.js';
import { str, u32 } from './netlink/attrs.js';
import * as C from './netlink/constants.js';
import { NetlinkError, isNetlinkError } from './netlink/errors.js';
import { decodeLink, encodeLinkChange, encodeLinkCreate, ifinfomsg, Link, LinkChange, LinkSpec } from './netlink/link.js';
import { decodeNeighbour, encodeFdb, encodeNeighbour, ndmsg, Neighbour, NeighbourSpec } from './netlink/neigh.js';
import { decodeRoute, encodeRoute, RouteEntry, RouteSpec, rtmsg } from './netlink/route.js';
import type { NlMsg } from './netlink/message.js';
import { decodeNsid, encodeNsidQuery, RTM_GETNSID } from './netlink/nsid.js';
import { decodeRule, encodeRule, RTM_DELRULE, RTM_GETRULE, RTM_NEWRULE, type RuleEntry, type RuleSpec } from './netlink/rule.js';
import {
  decodeQdisc,
  encodeQdisc,
  RTM_DELQDISC,
  RTM_GETQDISC,
  RTM_NEWQDISC,
  tcmsg,
  type QdiscEntry,
  type QdiscSpec,
} from './netlink/tc.js';
import { NetlinkSocket, NetlinkRequest, SocketOptions } from './netlink/socket.js';

export type LinkRef = number | string;

export interface RouteFilter {
  family?: number;
  /** Default: main. Use 'all' for every table. */
  table?: number | 'all';
  oif?: number;
}

/** How long deleteVeth waits for the kernel before giving up (it always answers; this means it is stuck). */
const DELETE_TIMEOUT_MS = 30_000;

const ENODEV = 19;

export class Rtnl {
  private readonly sock: NetlinkSocket;

  /** @param where a label for error messages, e.g. "netns /run/netns/c1" */
  constructor(
    private readonly nsPath: string | null,
    private readonly where: string,
    private readonly opts: SocketOptions = {},
  ) {
    this.sock = new NetlinkSocket(nsPath, opts);
  }

  close(): void {
    this.sock.close();
  }

  /** True while a request on this socket is queued or waiting for its answer. */
  get busy(): boolean {
    return this.sock.busy;
  }

  private op(what: string): string {
    return `${what} in ${this.where}`;
  }

  // ---- links

  /** Every link, or with `master` only the ports of that bridge (filtered by the kernel, and again here). */
  async links(filter: { master?: number } = {}): Promise<Link[]> {
    const master = filter.master;
    const attrs = master === undefined ? [] : [u32(C.IFLA_MASTER, master)];
    const msgs = await this.sock.dump(
      C.RTM_GETLINK,
      ifinfomsg(),
      attrs,
      this.op(master === undefined ? 'list links' : `list the ports of link #${master}`),
    );
    const links = msgs.filter((m) => m.type === C.RTM_NEWLINK).map((m) => decodeLink(m.payload));
    return master === undefined ? links : links.filter((l) => l.masterIndex === master);
  }

  /** The link, or a NetlinkError ENODEV naming it. */
  async link(ref: LinkRef): Promise<Link> {
    const byName = typeof ref === 'string';
    const m = await this.sock.get(
      C.RTM_GETLINK,
      ifinfomsg(byName ? 0 : ref),
      byName ? [str(C.IFLA_IFNAME, ref)] : [],
      this.op(`find link ${JSON.stringify(ref)}`),
    );
    return decodeLink(m.payload);
  }

  /** The link, or undefined when there is none by that name/index. */
  async findLink(ref: LinkRef): Promise<Link | undefined> {
    const byName = typeof ref === 'string';
    const m = await this.sock.find(
      C.RTM_GETLINK,
      ifinfomsg(byName ? 0 : ref),
      byName ? [str(C.IFLA_IFNAME, ref)] : [],
      this.op(`find link ${JSON.stringify(ref)}`),
      ENODEV,
    );
    return m && decodeLink(m.payload);
  }

  async index(ref: LinkRef): Promise<number> {
    return typeof ref === 'number' ? ref : (await this.link(ref)).index;
  }

  /**
   * Creates a link (fails with EEXIST if the name is taken) and returns it as the kernel reports it.
   * `up` goes with the creation (one request; the kernel brings the new link up before it enslaves it, and a
   * veth after its peer exists); if the link cannot come up, the kernel does not keep it.
   */
  async createLink(spec: LinkSpec): Promise<Link> {
    const { fixed, attrs } = encodeLinkCreate(spec);
    const what = this.op(`create ${spec.kind} link "${spec.name}"`);
    let echoed: NlMsg[];
    try {
      echoed = await this.sock.requestEcho(C.RTM_NEWLINK, C.NLM_F_CREATE | C.NLM_F_EXCL, fixed, attrs, what);
    } catch (e) {
      if (isNetlinkError(e, 'EOPNOTSUPP') && /unknown device type/i.test(e.extack ?? e.message)) {
        const unsupported = new NetlinkError(
          e.errno,
          what,
          `this kernel has no "${spec.kind}" link support (driver not built or module not loadable)`,
        );
        unsupported.unsupportedKind = spec.kind;
        throw unsupported;
      }
      throw e;
    }
    // The kernel's echo of the new link (6.1+); older kernels send none, and the link is read back. The echo
    // is sent before the kernel enslaves the link: the master it was created with is filled in.
    const made = echoed
      .filter((m) => m.type === C.RTM_NEWLINK)
      .map((m) => decodeLink(m.payload))
      .find((l) => l.name === spec.name);
    return made
      ? { ...made, ...(spec.masterIndex !== undefined && made.masterIndex === undefined ? { masterIndex: spec.masterIndex } : {}) }
      : await this.link(spec.name);
  }

  async setLink(ref: LinkRef, change: LinkChange): Promise<void> {
    const r = this.setLinkRequest(await this.index(ref), change, ref);
    await this.apply(r);
  }

  /** setLink as a request for inOneTrip. */
  setLinkRequest(index: number, change: LinkChange, ref: LinkRef = index): NetlinkRequest {
    const { fixed, attrs } = encodeLinkChange(index, change);
    return {
      type: C.RTM_NEWLINK,
      flags: 0,
      fixed,
      attrs,
      operation: this.op(`change link ${JSON.stringify(ref)} (${Object.keys(change).join(', ')})`),
    };
  }

  /** Sends one request built by a `…Request` method and waits for its ACK. */
  private apply(r: NetlinkRequest): Promise<void> {
    return this.sock.request(r.type, r.flags, r.fixed, r.attrs, r.operation);
  }

  /**
   * Sends the requests in one datagram; the kernel applies them in order, each on its own (a failed one
   * does not stop the next). Resolves with each one's NetlinkError, or undefined where it succeeded.
   */
  inOneTrip(reqs: readonly NetlinkRequest[]): Promise<(NetlinkError | undefined)[]> {
    return this.sock.requestAll(reqs);
  }

  async deleteLink(ref: LinkRef): Promise<void> {
    const byName = typeof ref === 'string';
    await this.sock.request(
      C.RTM_DELLINK,
      0,
      ifinfomsg(byName ? 0 : ref),
      byName ? [str(C.IFLA_IFNAME, ref)] : [],
      this.op(`delete link ${JSON.stringify(ref)}`),
    );
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

  /**
   * Deletes a veth pair by one end (here) and resolves as soon as the kernel has unlinked both ends — each
   * end's RTM_DELLINK notification, sent once the device is out of every list, detached from its master
   * (bridge), its addresses and routes gone and its name free — instead of when the kernel has also
   * released them: that last step ends in an RCU barrier (tens of ms; bench/README.md) which holds no lock and changes
   * nothing anyone can observe, but keeps the deleting thread in sendmsg() until it is over. The request is
   * sent from a thread of its own, so the event loop is never blocked by it either.
   *
   * `peerNs` is where the other end lives (nsfs path; null: this process's namespace). Falls back to a plain
   * delete, answered by the kernel's ACK, for a link that is not a veth whose peer is found there, for
   * blocking sockets (a one-shot process waits for that thread at exit anyway), and when a notification is
   * lost. Returns whether the link existed.
   */
  async deleteVeth(ref: LinkRef, peerNs: string | null): Promise<boolean> {
    const link = await this.findLink(ref);
    if (!link) return false;
    if (this.opts.blocking || link.kind !== 'veth' || !link.linkIndex) return this.deleteLinkIfExists(link.index);
    const peerRtnl = new Rtnl(peerNs, 'the peer namespace', this.opts);
    let peer: Link | undefined;
    try {
      peer = await peerRtnl.findLink(link.linkIndex);
    } finally {
      peerRtnl.close();
    }
    if (!peer || peer.kind !== 'veth' || peer.linkIndex !== link.index) return this.deleteLinkIfExists(link.index);

    const operation = this.op(`delete link ${JSON.stringify(ref)}`);
    const monitors = new Map<NetlinkSocket, number>();
    let req: NetlinkSocket | undefined;
    let sent = -1;
    try {
      // Listen before asking: a notification sent before the monitor exists would be missed.
      monitors.set(new NetlinkSocket(this.nsPath, { ...this.opts, groups: C.RTMGRP_LINK }), link.index);
      monitors.set(new NetlinkSocket(peerNs, { ...this.opts, groups: C.RTMGRP_LINK }), peer.index);
      req = new NetlinkSocket(this.nsPath, this.opts);
      const r = await req.sendDetached(C.RTM_DELLINK, 0, ifinfomsg(link.index), []);
      sent = r.sent;
      let watching = true;
      for (;;) {
        try {
          if (req.takeAck(r.seq, operation) === null) return true; // the kernel finished everything
        } catch (e) {
          if (isNetlinkError(e, 'ENODEV')) return false; // deleted by someone else meanwhile
          throw e;
        }
        if (watching) {
          try {
            for (const [mon, index] of monitors) {
              // The device's own notification (family AF_UNSPEC), sent once it is fully unregistered — not the
              // bridge's AF_BRIDGE one about the port, which comes earlier, while the port is being removed.
              if (
                mon
                  .recvQueued()
                  .some(
                    (m) =>
                      m.type === C.RTM_DELLINK &&
                      m.payload.length >= 8 &&
                      m.payload[0] === C.AF_UNSPEC &&
                      m.payload.readInt32LE(4) === index,
                  )
              ) {
                monitors.delete(mon);
                mon.close();
              }
            }
          } catch (e) {
            if (!isSysError(e, 'ENOBUFS')) throw e;
            watching = false; // notifications were dropped: wait for the ACK instead
          }
          if (monitors.size === 0) return true;
        }
        const fds = [req.descriptor, ...(sent >= 0 ? [sent] : []), ...(watching ? [...monitors.keys()].map((m) => m.descriptor) : [])];
        const ready = await native()
          .pollReadable(fds, DELETE_TIMEOUT_MS)
          .catch((e: unknown) => {
            if (isSysError(e, 'ETIMEDOUT'))
              throw new NetlinkError(
                constants.errno.ETIMEDOUT,
                operation,
                `the kernel did not answer within ${DELETE_TIMEOUT_MS / 1000} s`,
              );
            throw e;
          });
        if (sent >= 0 && ready.includes(sent)) {
          const v = Buffer.alloc(8);
          const got = readSync(sent, v, 0, 8, null);
          closeSync(sent);
          sent = -1;
          // nothing to read: the sender (a tsnet-linger) ended without a word — killed before it sent the request
          if (got < 8) throw new NetlinkError(constants.errno.EIO, operation, 'the process sending the request ended before sending it');
          const errno = Number(v.readBigUInt64LE(0)) - 1;
          if (errno > 0) throw new NetlinkError(errno, operation, 'sendmsg failed');
        }
      }
    } finally {
      for (const mon of monitors.keys()) mon.close();
      req?.close();
      if (sent >= 0) closeSync(sent);
    }
  }

  // ---- addresses

  async addresses(filter: { family?: number; link?: LinkRef } = {}): Promise<Address[]> {
    const index = filter.link === undefined ? undefined : await this.index(filter.link);
    // The kernel filters by index (strict dump checking); the filter below also covers kernels that do not.
    const msgs = await this.sock.dump(
      C.RTM_GETADDR,
      ifaddrmsg(filter.family ?? C.AF_UNSPEC, 0, 0, 0, index ?? 0),
      [],
      this.op('list addresses'),
    );
    return msgs
      .filter((m) => m.type === C.RTM_NEWADDR)
      .map((m) => decodeAddress(m.payload))
      .filter((a) => index === undefined || a.index === index);
  }

  async addAddress(link: LinkRef, cidr: string, opts: Omit<AddressSpec, 'index' | 'cidr'> = {}, replace = false): Promise<void> {
    const r = this.addAddressRequest(await this.index(link), cidr, opts, replace, link);
    await this.apply(r);
  }

  /** addAddress as a request for inOneTrip. */
  addAddressRequest(
    index: number,
    cidr: string,
    opts: Omit<AddressSpec, 'index' | 'cidr'> = {},
    replace = false,
    link: LinkRef = index,
  ): NetlinkRequest {
    const { fixed, attrs } = encodeAddress({ ...opts, index, cidr });
    return {
      type: C.RTM_NEWADDR,
      flags: C.NLM_F_CREATE | (replace ? C.NLM_F_REPLACE : C.NLM_F_EXCL),
      fixed,
      attrs,
      operation: this.op(`add address ${cidr} to link ${JSON.stringify(link)}`),
    };
  }

  async deleteAddress(link: LinkRef, cidr: string): Promise<void> {
    const index = await this.index(link);
    const { fixed, attrs } = encodeAddress({ index, cidr, broadcast: null });
    await this.sock.request(C.RTM_DELADDR, 0, fixed, attrs, this.op(`delete address ${cidr} from link ${JSON.stringify(link)}`));
  }

  // ---- routes

  async routes(filter: RouteFilter = {}): Promise<RouteEntry[]> {
    const family = filter.family ?? C.AF_UNSPEC;
    const msgs = await this.sock.dump(
      C.RTM_GETROUTE,
      rtmsg({ family, dstLen: 0, table: 0, protocol: 0, scope: 0, type: 0 }),
      [],
      this.op('list routes'),
    );
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
    const r = this.replaceRouteRequest(spec);
    await this.apply(r);
  }

  /** replaceRoute as a request for inOneTrip. */
  replaceRouteRequest(spec: RouteSpec): NetlinkRequest {
    return this.newRouteRequest(spec, C.NLM_F_REPLACE, 'replace');
  }

  /**
   * A route added beside any the kernel has for the same destination and metric (NLM_F_CREATE|NLM_F_APPEND,
   * `ip route append`; for IPv6 routes with gateways, another path of a multipath route): nothing is
   * replaced. The very same route present already answers EEXIST. As a request for inOneTrip.
   */
  appendRouteRequest(spec: RouteSpec): NetlinkRequest {
    return this.newRouteRequest(spec, C.NLM_F_APPEND, 'append');
  }

  /** RTM_NEWROUTE with NLM_F_CREATE and `flag` (replace or append). */
  private newRouteRequest(spec: RouteSpec, flag: number, verb: string): NetlinkRequest {
    const { fixed, attrs } = encodeRoute(spec);
    return { type: C.RTM_NEWROUTE, flags: C.NLM_F_CREATE | flag, fixed, attrs, operation: this.op(`${verb} route ${describeRoute(spec)}`) };
  }

  async deleteRoute(spec: RouteSpec): Promise<void> {
    const { fixed, attrs } = encodeRoute(spec, true);
    await this.sock.request(C.RTM_DELROUTE, 0, fixed, attrs, this.op(`delete route ${describeRoute(spec)}`));
  }

  // ---- policy routing rules (`ip rule`)

  async rules(family: number = C.AF_UNSPEC): Promise<RuleEntry[]> {
    const msgs = await this.sock.dump(RTM_GETRULE, Buffer.from([family, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]), [], this.op('list rules'));
    return msgs.filter((m) => m.type === RTM_NEWRULE).map((m) => decodeRule(m.payload));
  }

  async addRule(spec: RuleSpec): Promise<void> {
    const { fixed, attrs } = encodeRule(spec);
    await this.sock.request(RTM_NEWRULE, C.NLM_F_CREATE | C.NLM_F_EXCL, fixed, attrs, this.op('add rule'));
  }

  async deleteRule(spec: RuleSpec): Promise<void> {
    const { fixed, attrs } = encodeRule(spec, true);
    await this.sock.request(RTM_DELRULE, 0, fixed, attrs, this.op('delete rule'));
  }

  // ---- queueing disciplines (`tc qdisc`, root only)

  async qdiscs(link?: LinkRef): Promise<QdiscEntry[]> {
    const index = link === undefined ? undefined : await this.index(link);
    const msgs = await this.sock.dump(RTM_GETQDISC, tcmsg(0, 0, 0), [], this.op('list qdiscs'));
    return msgs
      .filter((m) => m.type === RTM_NEWQDISC)
      .map((m) => decodeQdisc(m.payload))
      .filter((q) => index === undefined || q.index === index);
  }

  /** Sets (adds or replaces) the root qdisc of a link. */
  async replaceRootQdisc(link: LinkRef, spec: QdiscSpec): Promise<void> {
    const { fixed, attrs } = encodeQdisc(await this.index(link), spec);
    await this.sock.request(
      RTM_NEWQDISC,
      C.NLM_F_CREATE | C.NLM_F_REPLACE,
      fixed,
      attrs,
      this.op(`set root qdisc ${spec.kind} on ${JSON.stringify(link)}`),
    );
  }

  /** Removes the root qdisc of a link (the kernel's default comes back). */
  async deleteRootQdisc(link: LinkRef): Promise<void> {
    const { fixed, attrs } = encodeQdisc(await this.index(link), undefined);
    await this.sock.request(RTM_DELQDISC, 0, fixed, attrs, this.op(`delete root qdisc of ${JSON.stringify(link)}`));
  }

  // ---- namespace ids

  /**
   * The id this namespace gives the namespace behind `fd` (an fd of its file, e.g. Netns.fd()), the number a
   * veth's IFLA_LINK_NETNSID carries; NSID_NOT_ASSIGNED (-1) when it has given that namespace none.
   */
  async nsidOf(fd: number): Promise<number> {
    const { fixed, attrs } = encodeNsidQuery(fd);
    return decodeNsid((await this.sock.get(RTM_GETNSID, fixed, attrs, this.op(`get the id of namespace fd ${fd}`))).payload);
  }

  // ---- neighbours

  async neighbours(filter: { family?: number; link?: LinkRef } = {}): Promise<Neighbour[]> {
    const index = filter.link === undefined ? undefined : await this.index(filter.link);
    // strict dump checking refuses an ifindex in the header: filtered here
    const msgs = await this.sock.dump(C.RTM_GETNEIGH, ndmsg(filter.family ?? C.AF_UNSPEC, 0, 0), [], this.op('list neighbours'));
    return msgs
      .filter((m) => m.type === C.RTM_NEWNEIGH)
      .map((m) => decodeNeighbour(m.payload))
      .filter((n) => index === undefined || n.index === index);
  }

  /** Adds or replaces a neighbour entry (like `ip neigh replace`). */
  async setNeighbour(spec: Omit<NeighbourSpec, 'index'> & { link: LinkRef }): Promise<void> {
    const index = await this.index(spec.link);
    const { fixed, attrs } = encodeNeighbour({ ...spec, index });
    await this.sock.request(
      C.RTM_NEWNEIGH,
      C.NLM_F_CREATE | C.NLM_F_REPLACE,
      fixed,
      attrs,
      this.op(`set neighbour ${spec.ip} lladdr ${spec.mac}`),
    );
  }

  /** Deletes a neighbour entry; false when there was none. */
  async deleteNeighbour(spec: { link: LinkRef; ip: string }): Promise<boolean> {
    const index = await this.index(spec.link);
    const { fixed, attrs } = encodeNeighbour({ index, ip: spec.ip, mac: '00:00:00:00:00:00' });
    try {
      await this.sock.request(C.RTM_DELNEIGH, 0, fixed, attrs.slice(0, 1), this.op(`delete neighbour ${spec.ip}`));
      return true;
    } catch (e) {
      if (e instanceof NetlinkError && (e.code === 'ENOENT' || e.code === 'ESRCH')) return false;
      throw e;
    }
  }

  // ---- forwarding database of a device (vxlan remotes)

  /** The device's own FDB entries (NTF_SELF) that carry a remote: MAC → dst. */
  async fdb(link: LinkRef): Promise<{ mac: string; dst: string }[]> {
    const index = await this.index(link);
    const msgs = await this.sock.dump(C.RTM_GETNEIGH, ndmsg(C.AF_BRIDGE, 0, 0), [], this.op('list fdb'));
    return msgs
      .filter((m) => m.type === C.RTM_NEWNEIGH)
      .map((m) => decodeNeighbour(m.payload))
      .filter((n) => n.index === index && n.ip !== undefined && n.mac !== undefined)
      .map((n) => ({ mac: n.mac as string, dst: n.ip as string }));
  }

  /** Adds MAC → dst to the device's FDB (`bridge fdb append … self`); several dsts per MAC (all-zero MAC: flooding list). */
  async appendFdb(spec: { link: LinkRef; mac: string; dst: string }): Promise<void> {
    const index = await this.index(spec.link);
    const { fixed, attrs } = encodeFdb({ index, mac: spec.mac, dst: spec.dst });
    try {
      await this.sock.request(
        C.RTM_NEWNEIGH,
        C.NLM_F_CREATE | C.NLM_F_APPEND,
        fixed,
        attrs,
        this.op(`append fdb ${spec.mac} dst ${spec.dst}`),
      );
    } catch (e) {
      if (e instanceof NetlinkError && e.code === 'EEXIST') return;
      throw e;
    }
  }

  /** Removes MAC → dst from the device's FDB; false when it was not there. */
  async deleteFdb(spec: { link: LinkRef; mac: string; dst: string }): Promise<boolean> {
    const index = await this.index(spec.link);
    const { fixed, attrs } = encodeFdb({ index, mac: spec.mac, dst: spec.dst });
    try {
      await this.sock.request(C.RTM_DELNEIGH, 0, fixed, attrs, this.op(`delete fdb ${spec.mac} dst ${spec.dst}`));
      return true;
    } catch (e) {
      if (e instanceof NetlinkError && (e.code === 'ENOENT' || e.code === 'ESRCH')) return false;
      throw e;
    }
  }
}

export function describeRoute(r: RouteSpec): string {
  return [
    r.dst,
    r.gateway && `via ${r.gateway}`,
    r.oif !== undefined && `dev #${r.oif}`,
    r.table !== undefined && `table ${r.table}`,
    r.priority !== undefined && `metric ${r.priority}`,
  ]
    .filter(Boolean)
    .join(' ');
}

export { NetlinkError };
