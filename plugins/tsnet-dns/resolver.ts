// What the resolver answers, as a pure function of the name records: a DNS query (wire bytes, decoded and
// encoded with dns-packet) that arrived on one network's resolver address from one client address becomes
// either a reply or "forward it to the host's resolvers".
//
// Scope, as Docker's embedded DNS: a container resolves the names and aliases of the containers on every
// network it is attached to — the network the query arrived on first, then its others — and nothing of
// networks it is not on. The client is told apart by its source address on the arrival network; a client the
// records do not know (the host itself, a container whose record is gone) sees the arrival network only.
// Names answer bare (`web`) and under the network's domain (`web.dns.tsnet`); a miss under the domain is
// NXDOMAIN from here (the domain is ours), any other miss goes to the host's resolvers. Reverse lookups of a
// container address in scope answer its name. TTL 0, as dnsmasq answers names it knows locally (podman's
// dnsname): a name is gone the moment its container is. An overlay network's names of other hosts (the records'
// `remote`) answer as local ones do.
import dnsPacket from 'dns-packet';
import type { Answer, DecodedPacket, Packet, Question } from 'dns-packet';
import ipaddr from 'ipaddr.js';
import { isIPv4, isIPv6 } from 'node:net';
import type { NamesFile, NameEntry } from '../shared/dns-names.js';

export const ANSWER_TTL = 0;

/** RFC 1035 / 6895 response codes used here. */
const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4 } as const;

/** Plain DNS over UDP without EDNS: 512 bytes (RFC 1035 2.3.4); with EDNS, the client's size up to this. */
const UDP_PLAIN = 512;
const UDP_EDNS_MAX = 1232;

interface NetIndex {
  domain: string;
  /** Lower-case name or alias → the records that carry it (several containers may share an alias). */
  byName: Map<string, NameEntry[]>;
  /** Address → record. */
  byIp: Map<string, NameEntry>;
}

function normalize(name: string): string {
  return name.toLowerCase().replace(/\.$/, '');
}

/** Canonical text of an address (IPv6 in its compressed form, IPv4-mapped as IPv4), or undefined. */
function canonicalIp(ip: string): string | undefined {
  try {
    return ipaddr.process(ip).toString();
  } catch {
    return undefined;
  }
}

/** `4.3.2.1.in-addr.arpa` → 1.2.3.4; nibble form under ip6.arpa → the IPv6 address; else undefined. */
export function reverseToIp(name: string): string | undefined {
  const n = normalize(name);
  let m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.in-addr\.arpa$/.exec(n);
  if (m) {
    const ip = [m[4], m[3], m[2], m[1]].join('.');
    return isIPv4(ip) ? ip : undefined;
  }
  m = /^((?:[0-9a-f]\.){32})ip6\.arpa$/.exec(n);
  if (m) {
    const nibbles = m[1]!.split('.').filter(Boolean).reverse();
    const bytes = [];
    for (let i = 0; i < 32; i += 2) bytes.push(parseInt(nibbles[i]! + nibbles[i + 1]!, 16));
    return ipaddr.fromByteArray(bytes).toString();
  }
  return undefined;
}

export type Resolution = { rcode: number; answers: Answer[]; authoritative: boolean } | 'forward';

/** Indexes one record by its names and aliases and, unless `replaceIp` is false and one is there, by its addresses. */
function indexEntry(idx: NetIndex, e: NameEntry, replaceIp: boolean): void {
  for (const n of new Set([e.name, ...e.aliases].filter(Boolean).map(normalize))) {
    const list = idx.byName.get(n) ?? [];
    list.push(e);
    idx.byName.set(n, list);
  }
  for (const ip of e.ips) {
    const c = canonicalIp(ip);
    if (c && (replaceIp || !idx.byIp.has(c))) idx.byIp.set(c, e);
  }
}

/** The records, indexed for answering; rebuilt whenever the names file changes. */
export class NameIndex {
  private readonly nets = new Map<string, NetIndex>();
  /** Resolver address → network (the address a query arrived on tells its network). */
  private readonly resolverNet = new Map<string, string>();
  /** Container id → the networks it has records on, in the order they were recorded. */
  private readonly containerNets = new Map<string, string[]>();

  constructor(readonly names: NamesFile) {
    for (const [network, net] of Object.entries(names.networks)) {
      const idx: NetIndex = { domain: normalize(net.domain), byName: new Map(), byIp: new Map() };
      for (const e of net.entries) {
        indexEntry(idx, e, true);
        const nets = this.containerNets.get(e.containerId) ?? [];
        if (!nets.includes(network)) nets.push(network);
        this.containerNets.set(e.containerId, nets);
      }
      // an overlay network's containers on other hosts (tsnetd's copy): answered like local ones, never clients
      // here, and a local record keeps its address's reverse name
      for (const e of names.remote?.[network] ?? []) indexEntry(idx, e, false);
      this.nets.set(network, idx);
      for (const r of net.resolvers) {
        const c = canonicalIp(r);
        if (c) this.resolverNet.set(c, network);
      }
    }
  }

  /** Every address the resolver should listen on, with its network. */
  listenAddresses(): { address: string; network: string }[] {
    return [...this.resolverNet].map(([address, network]) => ({ address, network }));
  }

  networkOf(resolverAddress: string): string | undefined {
    const c = canonicalIp(resolverAddress);
    return c ? this.resolverNet.get(c) : undefined;
  }

  /** The networks whose names `client` sees when asking on `arrival`'s resolver. */
  scope(arrival: string, client: string): string[] {
    const c = canonicalIp(client);
    const me = c ? this.nets.get(arrival)?.byIp.get(c) : undefined;
    if (!me) return this.nets.has(arrival) ? [arrival] : [];
    const others = (this.containerNets.get(me.containerId) ?? []).filter((n) => n !== arrival);
    return [arrival, ...others];
  }

  resolve(q: Question, arrival: string, client: string): Resolution {
    const scope = this.scope(arrival, client);
    const name = normalize(q.name);
    if (q.type === 'PTR') {
      const ip = reverseToIp(name);
      if (ip) {
        for (const network of scope) {
          const idx = this.nets.get(network)!;
          const e = idx.byIp.get(ip);
          const target = e && (e.name || e.aliases[0]);
          if (target)
            return {
              rcode: RCODE.NOERROR,
              authoritative: true,
              answers: [{ type: 'PTR', name: q.name, ttl: ANSWER_TTL, data: `${target}.${idx.domain}` }],
            };
        }
      }
      return 'forward';
    }
    for (const network of scope) {
      const idx = this.nets.get(network)!;
      const inDomain = name.endsWith(`.${idx.domain}`);
      const hits = idx.byName.get(name) ?? (inDomain ? idx.byName.get(name.slice(0, -idx.domain.length - 1)) : undefined);
      if (hits?.length) return { rcode: RCODE.NOERROR, authoritative: true, answers: addressAnswers(q, hits) };
    }
    for (const network of scope) {
      const d = this.nets.get(network)!.domain;
      if (name === d || name.endsWith(`.${d}`)) return { rcode: RCODE.NXDOMAIN, authoritative: true, answers: [] };
    }
    return 'forward';
  }
}

function addressAnswers(q: Question, hits: NameEntry[]): Answer[] {
  const t = q.type as string; // dns-packet decodes QTYPE 255 as 'ANY', which its types do not list
  const want4 = t === 'A' || t === 'ANY';
  const want6 = t === 'AAAA' || t === 'ANY';
  const out: Answer[] = [];
  const seen = new Set<string>();
  for (const e of hits) {
    for (const ip of e.ips) {
      if (seen.has(ip)) continue;
      seen.add(ip);
      if (want4 && isIPv4(ip)) out.push({ type: 'A', name: q.name, ttl: ANSWER_TTL, data: ip });
      else if (want6 && isIPv6(ip)) out.push({ type: 'AAAA', name: q.name, ttl: ANSWER_TTL, data: ip });
    }
  }
  return out; // the name exists: no address of the asked family is NOERROR with no answer (NODATA)
}

/** What to do with one query: send `reply`, forward it as it came, or drop it (undecodable, or not a query). */
export type Handling = { reply: Buffer } | { forward: true } | { drop: true };

function udpLimit(query: DecodedPacket): number {
  const opt = query.additionals?.find((a) => a.type === 'OPT') as { udpPayloadSize?: number } | undefined;
  return opt ? Math.max(UDP_PLAIN, Math.min(opt.udpPayloadSize ?? UDP_PLAIN, UDP_EDNS_MAX)) : UDP_PLAIN;
}

function encodeReply(query: DecodedPacket, rcode: number, answers: Answer[], authoritative: boolean, maxBytes: number): Buffer {
  const edns = query.additionals?.some((a) => a.type === 'OPT');
  const base =
    (authoritative ? dnsPacket.AUTHORITATIVE_ANSWER : 0) |
    dnsPacket.RECURSION_AVAILABLE |
    (query.flag_rd ? dnsPacket.RECURSION_DESIRED : 0);
  const packet: Packet = {
    type: 'response',
    id: query.id,
    flags: base | rcode,
    questions: query.questions ?? [],
    answers,
    additionals: edns
      ? [{ type: 'OPT', name: '.', udpPayloadSize: UDP_EDNS_MAX, extendedRcode: 0, ednsVersion: 0, flags: 0, flag_do: false, options: [] }]
      : [],
  };
  let buf = dnsPacket.encode(packet);
  // Too big for the client's UDP limit: as many answers as fit, and TC so that it asks again over TCP.
  while (buf.length > maxBytes && packet.answers!.length) {
    packet.answers = packet.answers!.slice(0, packet.answers!.length - 1);
    packet.flags = base | rcode | dnsPacket.TRUNCATED_RESPONSE;
    buf = dnsPacket.encode(packet);
  }
  return buf;
}

/**
 * One query's handling. `transport` 'udp' limits the reply to what the client can take (TC beyond it);
 * over TCP any size goes (up to 64 KiB).
 */
export function handleQuery(index: NameIndex, wire: Buffer, arrival: string, client: string, transport: 'udp' | 'tcp'): Handling {
  let query: DecodedPacket;
  try {
    query = dnsPacket.decode(wire);
  } catch {
    return { drop: true };
  }
  if (query.type !== 'query') return { drop: true };
  const limit = transport === 'udp' ? udpLimit(query) : 65535;
  const opcode = (query as DecodedPacket & { opcode?: string }).opcode;
  if (opcode !== 'QUERY') return { reply: encodeReply(query, RCODE.NOTIMP, [], false, limit) };
  if (query.questions?.length !== 1) return { reply: encodeReply(query, RCODE.FORMERR, [], false, limit) };
  const r = index.resolve(query.questions[0]!, arrival, client);
  if (r === 'forward') return { forward: true };
  return { reply: encodeReply(query, r.rcode, r.answers, r.authoritative, limit) };
}

/** A SERVFAIL for a query that could not be forwarded (no upstream answered, or none is configured). */
export function servfail(wire: Buffer): Buffer | undefined {
  try {
    const query = dnsPacket.decode(wire);
    return encodeReply(query, RCODE.SERVFAIL, [], false, UDP_PLAIN);
  } catch {
    return undefined;
  }
}
