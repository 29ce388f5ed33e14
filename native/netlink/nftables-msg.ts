// nf_tables over NETLINK_NETFILTER: nfgenmsg framing, batches, tables, chains and rules, and the expressions
// tsnet's rules use (meta, payload, bitwise, cmp, fib, immediate, nat, masq, ct, and iptables' conntrack match
// through nft_compat). nf_tables attributes are big-endian, unlike rtnetlink's. Numbers from
// linux/netfilter/nfnetlink.h, nf_tables.h, nf_conntrack_common.h and xt_conntrack.h.
import { endianness } from 'node:os';
import { Attr, AttrMap, attrsSize, bytes, encodeAttrs, nest, str } from './attrs.js';
import { NLM_F_ACK, NLM_F_APPEND, NLM_F_CREATE, NLM_F_REQUEST } from './constants.js';
import { NLMSG_HDRLEN } from './message.js';
import { ipToBytes, parsePrefix } from './wire-values.js';

export const NETLINK_NETFILTER = 12;
const NFNL_SUBSYS_NFTABLES = 10;
const NFNL_MSG_BATCH_BEGIN = 16;
const NFNL_MSG_BATCH_END = 17;
export const NFT_MSG_NEWTABLE = 0;
export const NFT_MSG_DELTABLE = 2;
export const NFT_MSG_NEWCHAIN = 3;
export const NFT_MSG_GETCHAIN = 4;
export const NFT_MSG_DELCHAIN = 5;
export const NFT_MSG_NEWRULE = 6;
export const NFT_MSG_GETRULE = 7;
export const NFT_MSG_DELRULE = 8;

const NFTA_TABLE_NAME = 1;
export const NFTA_CHAIN_TABLE = 1;
export const NFTA_CHAIN_NAME = 3;
const NFTA_CHAIN_HOOK = 4;
const NFTA_CHAIN_POLICY = 5;
const NFTA_CHAIN_TYPE = 7;
const NFTA_HOOK_HOOKNUM = 1;
const NFTA_HOOK_PRIORITY = 2;
export const NFTA_RULE_TABLE = 1;
export const NFTA_RULE_CHAIN = 2;
export const NFTA_RULE_HANDLE = 3;
const NFTA_RULE_EXPRESSIONS = 4;
const NFTA_RULE_POSITION = 6;
export const NFTA_RULE_USERDATA = 7;
const NFTA_LIST_ELEM = 1;
const NFTA_EXPR_NAME = 1;
const NFTA_EXPR_DATA = 2;
const NFTA_DATA_VALUE = 1;
const NFT_REG_1 = 1;
const NFT_REG_2 = 2;

export const NFPROTO_UNSPEC = 0;
export const NFPROTO_INET = 1;
export const NFPROTO_IPV4 = 2;
export const NFPROTO_IPV6 = 10;
export const NF_INET_PRE_ROUTING = 0;
export const NF_INET_FORWARD = 2;
export const NF_INET_LOCAL_OUT = 3;
export const NF_INET_POST_ROUTING = 4;
export const NF_DROP = 0;
export const NF_ACCEPT = 1;
/** libnftnl's user-data TLV type for a rule comment (what `nft … comment "x"` stores). */
const NFTNL_UDATA_RULE_COMMENT = 0;

const be32 = (type: number, v: number): Attr => {
  const b = Buffer.alloc(4);
  b.writeInt32BE(v);
  return bytes(type, b);
};
const be64 = (type: number, v: bigint): Attr => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(v);
  return bytes(type, b);
};
const data = (type: number, value: Buffer): Attr => nest(type, [bytes(NFTA_DATA_VALUE, value)], true);
const expr = (name: string, attrs: Attr[]): Attr =>
  nest(NFTA_LIST_ELEM, [str(NFTA_EXPR_NAME, name), nest(NFTA_EXPR_DATA, attrs, true)], true);

/** A message of the nf_tables subsystem: nlmsghdr + nfgenmsg (family, version 0, res_id) + attributes. */
function nfMessage(type: number, flags: number, seq: number, family: number, attrs: Attr[], resId = 0): Buffer {
  const len = NLMSG_HDRLEN + 4 + attrsSize(attrs);
  const buf = Buffer.alloc(len);
  buf.writeUInt32LE(len, 0);
  buf.writeUInt16LE(type, 4);
  buf.writeUInt16LE(flags, 6);
  buf.writeUInt32LE(seq >>> 0, 8);
  buf.writeUInt8(family, NLMSG_HDRLEN);
  buf.writeUInt16BE(resId, NLMSG_HDRLEN + 2);
  encodeAttrs(attrs, buf, NLMSG_HDRLEN + 4);
  return buf;
}

/** nfgenmsg for dumps and GETs (used with NetlinkSocket.dump). */
export function nfgenmsg(family: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt8(family, 0);
  return b;
}

export const nftType = (msg: number): number => (NFNL_SUBSYS_NFTABLES << 8) | msg;

/** One operation of a batch. */
export interface NftOp {
  msg: number;
  flags: number;
  attrs: Attr[];
  /** Its table's family (NFPROTO_*); the batch's (inet) when absent. */
  family?: number;
}

/**
 * BEGIN, the operations (the last one with NLM_F_ACK), END — applied by the kernel all or nothing, whatever
 * tables and families they touch.
 */
export function encodeBatch(ops: NftOp[], firstSeq: number, family = NFPROTO_INET): Buffer {
  const parts = [nfMessage(NFNL_MSG_BATCH_BEGIN, NLM_F_REQUEST, firstSeq, 0, [], NFNL_SUBSYS_NFTABLES)];
  ops.forEach((op, i) => {
    const ack = i === ops.length - 1 ? NLM_F_ACK : 0;
    parts.push(nfMessage(nftType(op.msg), NLM_F_REQUEST | op.flags | ack, firstSeq + 1 + i, op.family ?? family, op.attrs));
  });
  parts.push(nfMessage(NFNL_MSG_BATCH_END, NLM_F_REQUEST, firstSeq + ops.length + 1, 0, [], NFNL_SUBSYS_NFTABLES));
  return Buffer.concat(parts);
}

/** Messages in a batch: BEGIN + ops + END. */
export const batchCount = (ops: NftOp[]): number => ops.length + 2;

export const newTable = (table: string): NftOp => ({ msg: NFT_MSG_NEWTABLE, flags: NLM_F_CREATE, attrs: [str(NFTA_TABLE_NAME, table)] });
export const delTable = (table: string): NftOp => ({ msg: NFT_MSG_DELTABLE, flags: 0, attrs: [str(NFTA_TABLE_NAME, table)] });

/** A base chain at a hook, policy accept (`type nat|filter hook … priority …; policy accept;`). */
export function newBaseChain(table: string, chain: string, hook: number, priority: number, type: 'nat' | 'filter'): NftOp {
  return {
    msg: NFT_MSG_NEWCHAIN,
    flags: NLM_F_CREATE,
    attrs: [
      str(NFTA_CHAIN_TABLE, table),
      str(NFTA_CHAIN_NAME, chain),
      nest(NFTA_CHAIN_HOOK, [be32(NFTA_HOOK_HOOKNUM, hook), be32(NFTA_HOOK_PRIORITY, priority)], true),
      be32(NFTA_CHAIN_POLICY, NF_ACCEPT),
      str(NFTA_CHAIN_TYPE, type),
    ],
  };
}

/** A base chain of type nat at a hook, policy accept (`type nat hook … priority …`). */
export const newNatChain = (table: string, chain: string, hook: number, priority: number): NftOp =>
  newBaseChain(table, chain, hook, priority, 'nat');

/** A regular chain (no hook: reached by jumps), made if missing. */
export function newChain(table: string, chain: string): NftOp {
  return { msg: NFT_MSG_NEWCHAIN, flags: NLM_F_CREATE, attrs: [str(NFTA_CHAIN_TABLE, table), str(NFTA_CHAIN_NAME, chain)] };
}

/** Deletes a chain (empty by then: its rules and the jumps to it deleted earlier in the batch). */
export function delChain(table: string, chain: string): NftOp {
  return { msg: NFT_MSG_DELCHAIN, flags: 0, attrs: [str(NFTA_CHAIN_TABLE, table), str(NFTA_CHAIN_NAME, chain)] };
}

export function delRule(table: string, chain: string, handle: bigint, family?: number): NftOp {
  return {
    msg: NFT_MSG_DELRULE,
    flags: 0,
    attrs: [str(NFTA_RULE_TABLE, table), str(NFTA_RULE_CHAIN, chain), be64(NFTA_RULE_HANDLE, handle)],
    ...(family === undefined ? {} : { family }),
  };
}

/**
 * A rule with `comment` (libnftnl's user data: what `nft list` and iptables-nft show as its comment), appended
 * to the chain, with `insert` put first in it (NEWRULE without NLM_F_APPEND and no position), or with `after`
 * put right after the rule of that handle (NLM_F_APPEND with NFTA_RULE_POSITION).
 */
export function newRule(
  table: string,
  chain: string,
  exprs: Attr[],
  comment: string,
  opts: { insert?: boolean; after?: bigint; family?: number } = {},
): NftOp {
  const text = Buffer.concat([Buffer.from(comment, 'utf8'), Buffer.from([0])]);
  if (text.length > 255) throw new RangeError(`nftables rule comment longer than 254 bytes: ${comment}`);
  const udata = Buffer.concat([Buffer.from([NFTNL_UDATA_RULE_COMMENT, text.length]), text]);
  return {
    msg: NFT_MSG_NEWRULE,
    flags: NLM_F_CREATE | (opts.insert && opts.after === undefined ? 0 : NLM_F_APPEND),
    attrs: [
      str(NFTA_RULE_TABLE, table),
      str(NFTA_RULE_CHAIN, chain),
      ...(opts.after === undefined ? [] : [be64(NFTA_RULE_POSITION, opts.after)]),
      nest(NFTA_RULE_EXPRESSIONS, exprs, true),
      bytes(NFTA_RULE_USERDATA, udata),
    ],
    ...(opts.family === undefined ? {} : { family: opts.family }),
  };
}

/** A chain as a dump reports it: its family (NFPROTO_*), table and name; hook, priority and policy for a base chain. */
export interface ChainInfo {
  family: number;
  table: string;
  name: string;
  hook?: number;
  priority?: number;
  /** NF_ACCEPT or NF_DROP (base chains only). */
  policy?: number;
  type?: string;
}

export function decodeChain(payload: Buffer): ChainInfo {
  const a = AttrMap.parse(payload, 4);
  const info: ChainInfo = { family: payload.readUInt8(0), table: a.str(NFTA_CHAIN_TABLE) ?? '', name: a.str(NFTA_CHAIN_NAME) ?? '' };
  const hook = a.nested(NFTA_CHAIN_HOOK);
  if (hook) {
    const num = hook.raw(NFTA_HOOK_HOOKNUM);
    const prio = hook.raw(NFTA_HOOK_PRIORITY);
    if (num?.length === 4) info.hook = num.readUInt32BE(0);
    if (prio?.length === 4) info.priority = prio.readInt32BE(0);
  }
  const policy = a.raw(NFTA_CHAIN_POLICY);
  if (policy?.length === 4) info.policy = policy.readUInt32BE(0);
  const type = a.str(NFTA_CHAIN_TYPE);
  if (type !== undefined) info.type = type;
  return info;
}

/** A rule as a dump reports it. */
export interface RuleInfo {
  chain: string;
  handle: bigint;
  comment?: string;
  /** The chains its verdicts jump or go to (`jump DOCKER-USER`, iptables' `-j DOCKER-USER`). */
  jumps: string[];
}

/** The chain names of the jump/goto verdicts among a rule's expressions (immediate expressions only). */
function verdictChains(exprs: AttrMap | undefined): string[] {
  const out: string[] = [];
  for (const el of exprs?.all ?? []) {
    if (el.type !== NFTA_LIST_ELEM) continue;
    const e = AttrMap.parse(el.value);
    if (e.str(NFTA_EXPR_NAME) !== 'immediate') continue;
    const chain = e.nested(NFTA_EXPR_DATA)?.nested(2 /* NFTA_IMMEDIATE_DATA */)?.nested(NFTA_DATA_VERDICT)?.str(NFTA_VERDICT_CHAIN);
    if (chain) out.push(chain);
  }
  return out;
}

export function decodeRule(payload: Buffer): RuleInfo {
  const a = AttrMap.parse(payload, 4);
  const handle = a.raw(NFTA_RULE_HANDLE);
  const info: RuleInfo = {
    chain: a.str(NFTA_RULE_CHAIN) ?? '',
    handle: handle && handle.length === 8 ? handle.readBigUInt64BE(0) : 0n,
    jumps: verdictChains(a.nested(NFTA_RULE_EXPRESSIONS)),
  };
  const ud = a.raw(NFTA_RULE_USERDATA);
  for (let off = 0; ud && off + 2 <= ud.length;) {
    const type = ud[off]!;
    const len = ud[off + 1]!;
    if (off + 2 + len > ud.length) break;
    if (type === NFTNL_UDATA_RULE_COMMENT) info.comment = ud.toString('utf8', off + 2, off + 2 + len).replace(/\0+$/, '');
    off += 2 + len;
  }
  return info;
}

// ---- expressions

const NFT_META_NFPROTO = 15;
const NFT_META_L4PROTO = 16;
const NFT_CMP_EQ = 0;
const NFT_CMP_NEQ = 1;
const NFT_PAYLOAD_NETWORK_HEADER = 1;
const NFT_PAYLOAD_TRANSPORT_HEADER = 2;
const NFT_FIB_RESULT_ADDRTYPE = 3;
const NFTA_FIB_F_DADDR = 2;
const NFT_NAT_DNAT = 1;
const RTN_LOCAL = 2;
const IPPROTO: Record<'tcp' | 'udp', number> = { tcp: 6, udp: 17 };

const meta = (key: number): Attr => expr('meta', [be32(1 /* DREG */, NFT_REG_1), be32(2 /* KEY */, key)]);
const cmp = (op: number, value: Buffer, reg = NFT_REG_1): Attr =>
  expr('cmp', [be32(1 /* SREG */, reg), be32(2 /* OP */, op), data(3 /* DATA */, value)]);
const payload = (base: number, offset: number, len: number): Attr =>
  expr('payload', [be32(1 /* DREG */, NFT_REG_1), be32(2 /* BASE */, base), be32(3 /* OFFSET */, offset), be32(4 /* LEN */, len)]);
function bitwiseMask(len: number, mask: Buffer): Attr {
  return expr('bitwise', [
    be32(1 /* SREG */, NFT_REG_1),
    be32(2 /* DREG */, NFT_REG_1),
    be32(3 /* LEN */, len),
    data(4 /* MASK */, mask),
    data(5 /* XOR */, Buffer.alloc(len)),
  ]);
}
const immediate = (reg: number, value: Buffer): Attr => expr('immediate', [be32(1 /* DREG */, reg), data(2 /* DATA */, value)]);

type Family = 4 | 6;
const famOf = (ip: string): Family => (ipToBytes(ip.split('/')[0]!).family === 2 ? 4 : 6);

/** `meta nfproto ipv4|ipv6`: nft adds this dependency in inet tables before an address match. */
function nfproto(f: Family): Attr[] {
  return [meta(NFT_META_NFPROTO), cmp(NFT_CMP_EQ, Buffer.from([f === 4 ? NFPROTO_IPV4 : NFPROTO_IPV6]))];
}

function maskOf(len: number, bytesLen: number): Buffer {
  const m = Buffer.alloc(bytesLen);
  for (let i = 0; i < bytesLen; i++) m[i] = len >= (i + 1) * 8 ? 0xff : len <= i * 8 ? 0 : (0xff << (8 - (len - i * 8))) & 0xff;
  return m;
}

/** `ip saddr|daddr [!=] ADDR[/LEN]` (without the nfproto dependency). */
function addrMatch(field: 'saddr' | 'daddr', cidrOrIp: string, negate = false): Attr[] {
  const p = cidrOrIp.includes('/') ? parsePrefix(cidrOrIp) : parsePrefix(`${cidrOrIp}/${cidrOrIp.includes(':') ? 128 : 32}`);
  const v4 = p.family === 2;
  const size = v4 ? 4 : 16;
  const offset = v4 ? (field === 'saddr' ? 12 : 16) : field === 'saddr' ? 8 : 24;
  const out: Attr[] = [payload(NFT_PAYLOAD_NETWORK_HEADER, offset, size)];
  const full = p.prefixLen === size * 8;
  const mask = maskOf(p.prefixLen, size);
  const net = Buffer.from(p.bytes.map((b, i) => b & mask[i]!));
  if (!full) out.push(bitwiseMask(size, mask));
  out.push(cmp(negate ? NFT_CMP_NEQ : NFT_CMP_EQ, full ? p.bytes : net));
  return out;
}

/** `meta l4proto tcp|udp PROTO dport PORT` */
function dportMatch(proto: 'tcp' | 'udp', port: number): Attr[] {
  const pb = Buffer.alloc(2);
  pb.writeUInt16BE(port);
  return [
    meta(NFT_META_L4PROTO),
    cmp(NFT_CMP_EQ, Buffer.from([IPPROTO[proto]])),
    payload(NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2),
    cmp(NFT_CMP_EQ, pb),
  ];
}

/** `ip saddr SADDR [ip daddr != NOT_DADDR] [ip daddr DADDR] [PROTO dport PORT] masquerade` */
export function masqueradeRule(m: { saddr: string; notDaddr?: string; daddr?: string; proto?: 'tcp' | 'udp'; dport?: number }): Attr[] {
  const out = [...nfproto(famOf(m.saddr)), ...addrMatch('saddr', m.saddr)];
  if (m.notDaddr) out.push(...addrMatch('daddr', m.notDaddr, true));
  if (m.daddr) out.push(...addrMatch('daddr', m.daddr));
  if (m.proto && m.dport !== undefined) out.push(...dportMatch(m.proto, m.dport));
  out.push(expr('masq', []));
  return out;
}

/**
 * `meta nfproto ipv4 (ip daddr HOSTIP | fib daddr type local) PROTO dport PORT dnat ip to TO:TOPORT`; ipv6 and
 * `dnat ip6 to [TO]:TOPORT` when TO is an IPv6 address (a host IP, if given, must be one too).
 */
export function dnatRule(d: { hostIp?: string; proto: 'tcp' | 'udp'; port: number; to: string; toPort: number }): Attr[] {
  const fam = famOf(d.to);
  if (d.hostIp && famOf(d.hostIp) !== fam) throw new RangeError(`DNAT from ${d.hostIp} to ${d.to}: the addresses differ in family`);
  const out = [...nfproto(fam)];
  if (d.hostIp) out.push(...addrMatch('daddr', d.hostIp));
  else {
    const local = Buffer.alloc(4);
    local.writeUInt32LE(RTN_LOCAL); // fib's addrtype result is in host order
    out.push(
      expr('fib', [be32(1 /* DREG */, NFT_REG_1), be32(2 /* RESULT */, NFT_FIB_RESULT_ADDRTYPE), be32(3 /* FLAGS */, NFTA_FIB_F_DADDR)]),
      cmp(NFT_CMP_EQ, local),
    );
  }
  out.push(...dportMatch(d.proto, d.port));
  const port = Buffer.alloc(2);
  port.writeUInt16BE(d.toPort);
  out.push(immediate(NFT_REG_1, ipToBytes(d.to).bytes), immediate(NFT_REG_2, port));
  out.push(
    expr('nat', [
      be32(1 /* TYPE */, NFT_NAT_DNAT),
      be32(2 /* FAMILY */, fam === 4 ? NFPROTO_IPV4 : NFPROTO_IPV6),
      be32(3 /* REG_ADDR_MIN */, NFT_REG_1),
      be32(5 /* REG_PROTO_MIN */, NFT_REG_2),
    ]),
  );
  return out;
}

// ---- forwarding: interface names, conntrack, verdicts

const NFT_META_IIFNAME = 6;
const NFT_META_OIFNAME = 7;
const NFT_REG_VERDICT = 0;
const NFTA_DATA_VERDICT = 2;
const NFTA_VERDICT_CODE = 1;
const NFTA_VERDICT_CHAIN = 2;
const NFT_JUMP = -3;
const NFT_RETURN = -5;
const NFT_CT_STATE = 0;
const NFT_CT_STATUS = 2;
const IFNAMSIZ = 16;
/** IPS_DST_NAT (nf_conntrack_common.h): the connection's destination was rewritten (a published port). */
const IPS_DST_NAT = 1 << 5;
/** nft's ct state bits: NF_CT_STATE_BIT(ctinfo) = 1 << (ctinfo + 1). */
const CT_STATE = { established: 1 << 1, related: 1 << 2, new: 1 << 3 } as const;
export type CtState = keyof typeof CT_STATE;

/** A u32 in the host's byte order (what ct keys load into a register). */
function hostU32(v: number): Buffer {
  const b = Buffer.alloc(4);
  if (endianness() === 'LE') b.writeUInt32LE(v >>> 0);
  else b.writeUInt32BE(v >>> 0);
  return b;
}

/** `iifname|oifname [!=] NAME`: the name zero-padded to IFNAMSIZ, as nft encodes it (iptables-nft reads it back as -i/-o). */
export function ifnameMatch(dir: 'iif' | 'oif', name: string, negate = false): Attr[] {
  const b = Buffer.alloc(IFNAMSIZ);
  if (Buffer.byteLength(name) >= IFNAMSIZ) throw new RangeError(`interface name longer than 15 bytes: ${name}`);
  b.write(name, 'utf8');
  return [meta(dir === 'iif' ? NFT_META_IIFNAME : NFT_META_OIFNAME), cmp(negate ? NFT_CMP_NEQ : NFT_CMP_EQ, b)];
}

/** `ct state S1,S2 …` (any of them). */
export function ctStateMatch(states: CtState[]): Attr[] {
  const mask = states.reduce((m, s) => m | CT_STATE[s], 0);
  return [
    expr('ct', [be32(1 /* DREG */, NFT_REG_1), be32(2 /* KEY */, NFT_CT_STATE)]),
    expr('bitwise', [be32(1, NFT_REG_1), be32(2, NFT_REG_1), be32(3, 4), data(4, hostU32(mask)), data(5, Buffer.alloc(4))]),
    cmp(NFT_CMP_NEQ, Buffer.alloc(4)),
  ];
}

/** `ct status dnat`: the connection was DNAT'd (a published port). */
export function ctStatusDnat(): Attr[] {
  return [
    expr('ct', [be32(1 /* DREG */, NFT_REG_1), be32(2 /* KEY */, NFT_CT_STATUS)]),
    expr('bitwise', [be32(1, NFT_REG_1), be32(2, NFT_REG_1), be32(3, 4), data(4, hostU32(IPS_DST_NAT)), data(5, Buffer.alloc(4))]),
    cmp(NFT_CMP_NEQ, Buffer.alloc(4)),
  ];
}

// xt_conntrack's match (revision 3) through nft_compat: what `iptables -m conntrack --ctstate …` writes. Rules
// in an iptables-nft table must use it: iptables-nft cannot read nft's native ct expression back, and a table
// it cannot read breaks every iptables user of it (dockerd included).
const XT_CONNTRACK_STATE = 1 << 0;
const IP_CT_NUMBER = 5;
const XT_STATE: Record<CtState | 'dnat', number> = { ...CT_STATE, dnat: 1 << (IP_CT_NUMBER + 2) };
/** sizeof(struct xt_conntrack_mtinfo3) is 164; the kernel compares XT_ALIGN()ed sizes (168). */
const MTINFO3_SIZE = 168;

/** `-m conntrack --ctstate S1,S2 …` (DNAT: the connection was DNAT'd), as iptables-nft encodes it. */
export function xtConntrackMatch(states: (CtState | 'dnat')[]): Attr[] {
  const info = Buffer.alloc(MTINFO3_SIZE);
  const u16 = (off: number, v: number) => (endianness() === 'LE' ? info.writeUInt16LE(v, off) : info.writeUInt16BE(v, off));
  // 8 × union nf_inet_addr (128 bytes), expires_min/max (8), l4proto (2), 4 ports (8), then:
  u16(146, XT_CONNTRACK_STATE); // match_flags
  u16(
    150,
    states.reduce((m, s) => m | XT_STATE[s], 0),
  ); // state_mask
  return [expr('match', [str(1 /* NAME */, 'conntrack'), be32(2 /* REV */, 3), bytes(3 /* INFO */, info)])];
}

function verdict(code: number, chain?: string): Attr {
  const v = [be32(NFTA_VERDICT_CODE, code), ...(chain ? [str(NFTA_VERDICT_CHAIN, chain)] : [])];
  return expr('immediate', [be32(1 /* DREG */, NFT_REG_VERDICT), nest(2 /* DATA */, [nest(NFTA_DATA_VERDICT, v, true)], true)]);
}
export const accept = (): Attr => verdict(NF_ACCEPT);
export const drop = (): Attr => verdict(NF_DROP);
/** `return`: back to the chain that jumped here. */
export const ret = (): Attr => verdict(NFT_RETURN);
export const jump = (chain: string): Attr => verdict(NFT_JUMP, chain);
/** `masquerade` (no match of its own: follows the rule's matches). */
export const masquerade = (): Attr => expr('masq', []);
