// Round-trips of every message kind through the codec, nested attributes, and malformed input.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeAddress, encodeAddress } from './addr.js';
import { AttrMap, attrsSize, bytes, encodeAttrs, nest, NetlinkDecodeError, s32, str, u16, u32, u8 } from './attrs.js';
import * as C from './constants.js';
import { decodeLink, encodeLinkChange, encodeLinkCreate } from './link.js';
import { decodeError, encodeMessage, NLMSG_HDRLEN, splitMessages } from './message.js';
import { decodeNeighbour, encodeNeighbour } from './neigh.js';
import { decodeNsid, encodeNsidQuery, NSID_NOT_ASSIGNED } from './nsid.js';
import { decodeRoute, encodeRoute } from './route.js';

/** Frames fixed+attrs as the kernel would send them and decodes the one message back. */
function wire(type: number, e: { fixed: Buffer; attrs: ReturnType<typeof encodeLinkCreate>['attrs'] }) {
  const msgs = splitMessages(encodeMessage(type, 0, 7, e.fixed, e.attrs));
  assert.equal(msgs.length, 1);
  assert.equal(msgs[0]!.seq, 7);
  assert.equal(msgs[0]!.type, type);
  return msgs[0]!.payload;
}

describe('attributes', () => {
  it('nests, aligns and parses back', () => {
    const attrs = [
      str(1, 'abc'),
      nest(2, [u32(1, 0xdeadbeef), u8(2, 7), nest(3, [u16(9, 513)])], true),
      bytes(3, Buffer.from([1, 2, 3, 4, 5])),
    ];
    const buf = Buffer.alloc(attrsSize(attrs));
    assert.equal(encodeAttrs(attrs, buf, 0), buf.length);
    assert.equal(buf.length % 4, 0);
    const m = AttrMap.parse(buf);
    assert.equal(m.str(1), 'abc');
    const n = m.nested(2)!;
    assert.equal(n.u32(1), 0xdeadbeef);
    assert.equal(n.u8(2), 7);
    assert.equal(n.nested(3)!.u16(9), 513);
    assert.deepEqual([...m.raw(3)!], [1, 2, 3, 4, 5]);
    // NLA_F_NESTED is masked off the type on parse
    assert.equal(buf.readUInt16LE(8 + 2) & C.NLA_F_NESTED, C.NLA_F_NESTED);
  });

  it('rejects an attribute that overruns its container', () => {
    const buf = Buffer.alloc(8);
    buf.writeUInt16LE(12, 0);
    assert.throws(() => AttrMap.parse(buf), NetlinkDecodeError);
    buf.writeUInt16LE(2, 0);
    assert.throws(() => AttrMap.parse(buf), NetlinkDecodeError);
  });

  it('rejects a payload shorter than its type needs', () => {
    const buf = Buffer.alloc(8);
    encodeAttrs([u16(1, 5)], buf, 0);
    assert.throws(() => AttrMap.parse(buf).u32(1), NetlinkDecodeError);
  });
});

describe('links', () => {
  it('round-trips a bridge with its info data', () => {
    const link = decodeLink(
      wire(
        C.RTM_NEWLINK,
        encodeLinkCreate({ kind: 'bridge', name: 'br-test', mtu: 1450, mac: '02:42:ac:11:00:02', stpState: 0, up: true }),
      ),
    );
    assert.equal(link.name, 'br-test');
    assert.equal(link.kind, 'bridge');
    assert.equal(link.mtu, 1450);
    assert.equal(link.mac, '02:42:ac:11:00:02');
    assert.equal(link.up, true);
    assert.equal(link.bridge?.stpState, 0);
  });

  it('round-trips a veth whose peer carries a full ifinfomsg and a netns fd', () => {
    const payload = wire(C.RTM_NEWLINK, encodeLinkCreate({ kind: 'veth', name: 'vh0', peer: { name: 'eth0', netnsFd: 42, mtu: 1400 } }));
    const top = AttrMap.parse(payload, 16);
    const info = top.nested(C.IFLA_LINKINFO)!;
    assert.equal(info.str(C.IFLA_INFO_KIND), 'veth');
    const peer = info.nested(C.IFLA_INFO_DATA)!.raw(C.VETH_INFO_PEER)!;
    const peerAttrs = AttrMap.parse(peer, 16);
    assert.equal(peerAttrs.str(C.IFLA_IFNAME), 'eth0');
    assert.equal(peerAttrs.u32(C.IFLA_NET_NS_FD), 42);
    assert.equal(peerAttrs.u32(C.IFLA_MTU), 1400);
  });

  it('round-trips vxlan and vlan kinds', () => {
    const vx = decodeLink(
      wire(
        C.RTM_NEWLINK,
        encodeLinkCreate({ kind: 'vxlan', name: 'vx0', vni: 4242, local: '10.0.0.1', group: '239.1.1.1', port: 4789, learning: false }),
      ),
    );
    assert.deepEqual(
      { ...vx.vxlan },
      { vni: 4242, local: '10.0.0.1', group: '239.1.1.1', port: 4789, linkIndex: undefined, learning: false },
    );
    const vl = decodeLink(wire(C.RTM_NEWLINK, encodeLinkCreate({ kind: 'vlan', name: 'eth0.100', parentIndex: 3, vlanId: 100 })));
    assert.equal(vl.vlanId, 100);
    assert.equal(vl.linkIndex, 3);
  });

  it('encodes link changes as ip link set does', () => {
    const p = wire(
      C.RTM_NEWLINK,
      encodeLinkChange(5, { up: true, mtu: 9000, name: 'x', masterIndex: 0, bridgePort: { hairpin: true, isolated: true } }),
    );
    assert.equal(p.readInt32LE(4), 5);
    assert.equal(p.readUInt32LE(8) & C.IFF_UP, C.IFF_UP);
    assert.equal(p.readUInt32LE(12), C.IFF_UP);
    const l = decodeLink(p);
    assert.equal(l.mtu, 9000);
    assert.equal(l.name, 'x');
    assert.equal(l.masterIndex, 0);
    assert.equal(l.slaveKind, 'bridge');
    assert.equal(l.bridgePort?.hairpin, true);
    assert.equal(l.bridgePort?.isolated, true);
  });
});

describe('addresses', () => {
  it('round-trips IPv4 with a computed broadcast', () => {
    const a = decodeAddress(wire(C.RTM_NEWADDR, encodeAddress({ index: 3, cidr: '10.1.2.3/24', label: 'eth0' })));
    assert.deepEqual(
      { index: a.index, cidr: a.cidr, broadcast: a.broadcast, label: a.label, family: a.family },
      { index: 3, cidr: '10.1.2.3/24', broadcast: '10.1.2.255', label: 'eth0', family: C.AF_INET },
    );
  });
  it('round-trips IPv6 with flags', () => {
    const a = decodeAddress(wire(C.RTM_NEWADDR, encodeAddress({ index: 9, cidr: 'fd00:1::5/64', noDad: true })));
    assert.equal(a.cidr, 'fd00:1::5/64');
    assert.equal(a.flags & C.IFA_F_NODAD, C.IFA_F_NODAD);
    assert.equal(a.broadcast, undefined);
  });
  it('refuses an address without a prefix length', () => {
    assert.throws(() => encodeAddress({ index: 1, cidr: '10.0.0.1' }), /no prefix length/);
  });
});

describe('routes', () => {
  it('round-trips a gateway route with metric, table and metrics', () => {
    const r = decodeRoute(
      wire(C.RTM_NEWROUTE, encodeRoute({ dst: '192.168.0.0/16', gateway: '192.168.115.2', oif: 4, priority: 100, table: 1000, mtu: 1400 })),
    );
    assert.deepEqual(
      {
        dst: r.dst,
        gateway: r.gateway,
        oif: r.oif,
        priority: r.priority,
        table: r.table,
        mtu: r.mtu,
        scope: r.scope,
        protocol: r.protocol,
      },
      {
        dst: '192.168.0.0/16',
        gateway: '192.168.115.2',
        oif: 4,
        priority: 100,
        table: 1000,
        mtu: 1400,
        scope: C.RT_SCOPE_UNIVERSE,
        protocol: C.RTPROT_STATIC,
      },
    );
  });
  it('round-trips default routes for both families and an on-link flag', () => {
    const r4 = decodeRoute(wire(C.RTM_NEWROUTE, encodeRoute({ dst: 'default', gateway: '10.0.0.1', onlink: true })));
    assert.equal(r4.dst, 'default');
    assert.equal(r4.family, C.AF_INET);
    assert.equal(r4.flags & C.RTNH_F_ONLINK, C.RTNH_F_ONLINK);
    const r6 = decodeRoute(wire(C.RTM_NEWROUTE, encodeRoute({ dst: 'default', gateway: 'fd00::1' })));
    assert.equal(r6.family, C.AF_INET6);
    assert.equal(r6.gateway, 'fd00::1');
  });
  it('decodes the paths of a multipath route (RTA_MULTIPATH), and refuses a path that overruns it', () => {
    const hop = (ifindex: number, hops: number, gw: number[]) => {
      const attrs = [bytes(C.RTA_GATEWAY, Buffer.from(gw))];
      const b = Buffer.alloc(8 + attrsSize(attrs));
      b.writeUInt16LE(b.length, 0);
      b.writeUInt8(0, 2);
      b.writeUInt8(hops, 3);
      b.writeInt32LE(ifindex, 4);
      encodeAttrs(attrs, b, 8);
      return b;
    };
    const fixed = encodeRoute({ dst: 'default', gateway: '10.0.0.1' }).fixed;
    const paths = Buffer.concat([hop(3, 0, [10, 0, 0, 1]), hop(7, 2, [10, 0, 1, 1])]);
    const r = decodeRoute(wire(C.RTM_NEWROUTE, { fixed, attrs: [bytes(C.RTA_MULTIPATH, paths)] }));
    assert.equal(r.oif, undefined);
    assert.deepEqual(r.nexthops, [
      { oif: 3, gateway: '10.0.0.1', weight: 1, flags: 0 },
      { oif: 7, gateway: '10.0.1.1', weight: 3, flags: 0 },
    ]);
    const bad = Buffer.from(paths);
    bad.writeUInt16LE(200, 0);
    assert.throws(() => decodeRoute(wire(C.RTM_NEWROUTE, { fixed, attrs: [bytes(C.RTA_MULTIPATH, bad)] })), NetlinkDecodeError);
  });
  it('refuses a gateway of the other family', () => {
    assert.throws(() => encodeRoute({ dst: '10.0.0.0/8', gateway: 'fd00::1' }), /same family/);
  });
});

describe('neighbours', () => {
  it('round-trips a permanent entry', () => {
    const n = decodeNeighbour(wire(C.RTM_NEWNEIGH, encodeNeighbour({ index: 2, ip: '10.0.0.9', mac: 'aa:bb:cc:dd:ee:ff' })));
    assert.deepEqual({ ...n }, { family: C.AF_INET, index: 2, ip: '10.0.0.9', mac: 'aa:bb:cc:dd:ee:ff', state: C.NUD_PERMANENT, flags: 0 });
  });
});

describe('framing and errors', () => {
  it('splits several messages in one datagram', () => {
    const a = encodeMessage(C.RTM_NEWLINK, C.NLM_F_MULTI, 1, Buffer.alloc(16), [str(C.IFLA_IFNAME, 'a')]);
    const b = encodeMessage(C.NLMSG_DONE, C.NLM_F_MULTI, 1, Buffer.alloc(4));
    const msgs = splitMessages(Buffer.concat([a, b]));
    assert.deepEqual(
      msgs.map((m) => m.type),
      [C.RTM_NEWLINK, C.NLMSG_DONE],
    );
  });

  it('decodes an error with the kernel extended ACK text', () => {
    const orig = Buffer.alloc(NLMSG_HDRLEN);
    orig.writeUInt32LE(64, 0);
    orig.writeUInt16LE(C.RTM_NEWROUTE, 4);
    const tlv = Buffer.alloc(attrsSize([str(C.NLMSGERR_ATTR_MSG, 'Nexthop has invalid gateway')]));
    encodeAttrs([str(C.NLMSGERR_ATTR_MSG, 'Nexthop has invalid gateway')], tlv, 0);
    const errno = Buffer.alloc(4);
    errno.writeInt32LE(-101);
    const msg = splitMessages(encodeMessage(C.NLMSG_ERROR, C.NLM_F_CAPPED | C.NLM_F_ACK_TLVS, 3, Buffer.concat([errno, orig, tlv])))[0]!;
    assert.deepEqual(decodeError(msg), { errno: 101, requestType: C.RTM_NEWROUTE, extack: 'Nexthop has invalid gateway' });
  });

  it('rejects malformed datagrams with an error, never a crash', () => {
    const good = encodeMessage(C.RTM_NEWLINK, 0, 1, Buffer.alloc(16), [str(C.IFLA_IFNAME, 'eth0')]);
    const cases: Buffer[] = [];
    for (let cut = 1; cut < good.length; cut++) cases.push(good.subarray(0, cut));
    const badLen = Buffer.from(good);
    badLen.writeUInt32LE(8, 0);
    cases.push(badLen);
    const huge = Buffer.from(good);
    huge.writeUInt32LE(0xffff, 0);
    cases.push(huge);
    let rejected = 0;
    for (const c of cases) {
      try {
        for (const m of splitMessages(c)) decodeLink(m.payload);
      } catch (e) {
        assert.ok(e instanceof NetlinkDecodeError, `${(e as Error).name}: ${(e as Error).message}`);
        rejected++;
      }
    }
    // Cuts shorter than a header are ignored as "no message"; everything else must be rejected.
    assert.ok(rejected >= cases.length - 4, `${rejected} of ${cases.length} rejected`);
  });

  it('rejects an error message too short to hold the original header', () => {
    const msg = splitMessages(encodeMessage(C.NLMSG_ERROR, 0, 1, Buffer.alloc(4)))[0]!;
    assert.throws(() => decodeError(msg), NetlinkDecodeError);
  });

  it('asks for a namespace id by fd and reads the answer, -1 when none is assigned', () => {
    const withHdr = (attrs: Parameters<typeof attrsSize>[0]) => {
      const b = Buffer.alloc(4 + attrsSize(attrs));
      encodeAttrs(attrs, b, 4);
      return b;
    };
    const q = encodeNsidQuery(7);
    assert.equal(q.fixed.length, 4, 'rtgenmsg padded to NLMSG_ALIGN');
    assert.equal(AttrMap.parse(withHdr(q.attrs), 4).u32(3), 7, 'NETNSA_FD');
    assert.equal(decodeNsid(withHdr([s32(1, 5)])), 5);
    assert.equal(decodeNsid(withHdr([s32(1, -1)])), NSID_NOT_ASSIGNED);
    assert.equal(decodeNsid(withHdr([])), NSID_NOT_ASSIGNED);
    assert.throws(() => decodeNsid(Buffer.alloc(2)), NetlinkDecodeError);
  });
});
