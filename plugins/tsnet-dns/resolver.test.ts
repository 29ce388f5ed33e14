// The resolver's answers as a pure function of the records: scope by network and by the asking container,
// aliases, the domain, NXDOMAIN vs forwarding, reverse lookups, truncation, and the host's resolv.conf.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import dnsPacket from 'dns-packet';
import type { DecodedPacket } from 'dns-packet';
import type { NamesFile } from '../shared/dns-names.js';
import { dropEntriesExcept, dropEntry, putEntry, setRemote } from '../shared/dns-names.js';
import { handleQuery, NameIndex, reverseToIp } from './resolver.js';
import { nextTcpMessage, parseUpstreams, tcpFrame } from './upstream.js';

const names: NamesFile = {
  generation: 3,
  networks: {
    front: {
      resolvers: ['10.1.0.1'],
      domain: 'dns.tsnet',
      entries: [
        { containerId: 'c-web', ifname: 'eth0', name: 'web', aliases: ['www', 'shared'], ips: ['10.1.0.2'] },
        { containerId: 'c-proxy', ifname: 'eth0', name: 'proxy', aliases: ['shared'], ips: ['10.1.0.3', 'fd00:1::3'] },
      ],
    },
    back: {
      resolvers: ['10.2.0.1'],
      domain: 'dns.tsnet',
      entries: [
        { containerId: 'c-db', ifname: 'eth0', name: 'db', aliases: ['postgres'], ips: ['10.2.0.2'] },
        // proxy is on both networks (connected later, eth1)
        { containerId: 'c-proxy', ifname: 'eth1', name: 'proxy', aliases: [], ips: ['10.2.0.3'] },
      ],
    },
  },
};

function ask(index: NameIndex, name: string, type: string, arrival: string, client: string, opts: { id?: number; edns?: boolean } = {}) {
  const q = dnsPacket.encode({
    type: 'query',
    id: opts.id ?? 4242,
    flags: dnsPacket.RECURSION_DESIRED,
    questions: [{ type: type as 'A', name }],
    additionals: opts.edns
      ? [{ type: 'OPT', name: '.', udpPayloadSize: 4096, extendedRcode: 0, ednsVersion: 0, flags: 0, flag_do: false, options: [] }]
      : [],
  });
  const h = handleQuery(index, q, arrival, client, 'udp');
  if ('forward' in h) return 'forward' as const;
  if ('drop' in h) return 'drop' as const;
  return dnsPacket.decode(h.reply) as DecodedPacket & { rcode: string };
}

const data = (r: ReturnType<typeof ask>) => (typeof r === 'string' ? r : (r.answers ?? []).map((a) => (a as { data: string }).data).sort());

describe('tsnet-dns resolver', () => {
  const idx = new NameIndex(names);

  it('answers a name of the network the query arrived on, bare and under the domain, authoritatively with TTL 0', () => {
    const r = ask(idx, 'web', 'A', 'front', '10.1.0.3');
    assert.notEqual(typeof r, 'string');
    const p = r as DecodedPacket & { rcode: string };
    assert.equal(p.id, 4242);
    assert.equal(p.rcode, 'NOERROR');
    assert.equal(p.flag_aa, true);
    assert.equal(p.flag_rd, true, 'RD echoed');
    assert.deepEqual(data(r), ['10.1.0.2']);
    assert.equal((p.answers![0] as { ttl: number }).ttl, 0);
    assert.deepEqual(data(ask(idx, 'WEB.dns.tsnet.', 'A', 'front', '10.1.0.3')), ['10.1.0.2'], 'case and trailing dot do not matter');
    assert.deepEqual(data(ask(idx, 'www', 'A', 'front', '10.1.0.3')), ['10.1.0.2'], 'an alias');
  });

  it('an alias several containers share answers all of their addresses (round robin, as Docker)', () => {
    assert.deepEqual(data(ask(idx, 'shared', 'A', 'front', '10.1.0.2')), ['10.1.0.2', '10.1.0.3']);
  });

  it('AAAA answers IPv6 addresses; a name without one is NOERROR with no answer (not NXDOMAIN, not forwarded)', () => {
    assert.deepEqual(data(ask(idx, 'proxy', 'AAAA', 'front', '10.1.0.2')), ['fd00:1::3']);
    const r = ask(idx, 'web', 'AAAA', 'front', '10.1.0.3') as DecodedPacket & { rcode: string };
    assert.equal(r.rcode, 'NOERROR');
    assert.deepEqual(r.answers, []);
    const mx = ask(idx, 'web', 'MX', 'front', '10.1.0.3') as DecodedPacket & { rcode: string };
    assert.equal(mx.rcode, 'NOERROR');
    assert.deepEqual(mx.answers, []);
  });

  it('names of another network are not seen: a bare miss is forwarded, a miss under the domain is NXDOMAIN', () => {
    assert.equal(ask(idx, 'db', 'A', 'front', '10.1.0.2'), 'forward', 'web is not on back');
    const r = ask(idx, 'db.dns.tsnet', 'A', 'front', '10.1.0.2') as DecodedPacket & { rcode: string };
    assert.equal(r.rcode, 'NXDOMAIN');
    assert.equal(r.flag_aa, true);
    assert.equal(ask(idx, 'example.org', 'A', 'front', '10.1.0.2'), 'forward');
  });

  it('a container on two networks sees the names of both, each at its address on that network', () => {
    assert.deepEqual(data(ask(idx, 'db', 'A', 'front', '10.1.0.3')), ['10.2.0.2'], 'proxy asks on front, db is on back');
    assert.deepEqual(data(ask(idx, 'postgres.dns.tsnet', 'A', 'front', '10.1.0.3')), ['10.2.0.2']);
    assert.deepEqual(data(ask(idx, 'proxy', 'A', 'back', '10.2.0.2')), ['10.2.0.3'], "on back, proxy's back address");
    assert.deepEqual(data(ask(idx, 'proxy', 'A', 'front', '10.1.0.3')), ['10.1.0.3'], 'the arrival network comes first');
    // A client the records do not know (the host) sees the arrival network only.
    assert.equal(ask(idx, 'db', 'A', 'front', '10.1.0.99'), 'forward');
  });

  it('reverse lookups of a container address in scope answer its name; others are forwarded', () => {
    assert.equal(reverseToIp('2.0.1.10.in-addr.arpa'), '10.1.0.2');
    assert.equal(reverseToIp('3.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.1.0.0.0.0.0.d.f.ip6.arpa.'), 'fd00:1::3');
    assert.equal(reverseToIp('1.2.3.in-addr.arpa'), undefined);
    assert.deepEqual(data(ask(idx, '2.0.1.10.in-addr.arpa', 'PTR', 'front', '10.1.0.3')), ['web.dns.tsnet']);
    assert.equal(ask(idx, '2.0.2.10.in-addr.arpa', 'PTR', 'front', '10.1.0.2'), 'forward', 'db is not in scope for web');
  });

  it('drops what is not a query, refuses other opcodes, and truncates past the UDP limit', () => {
    assert.deepEqual(handleQuery(idx, Buffer.from([1, 2, 3]), 'front', '10.1.0.2', 'udp'), { drop: true });
    const resp = dnsPacket.encode({ type: 'response', id: 1, questions: [{ type: 'A', name: 'web' }] });
    assert.deepEqual(handleQuery(idx, resp, 'front', '10.1.0.2', 'udp'), { drop: true });
    const many: NamesFile = {
      generation: 1,
      networks: {
        n: {
          resolvers: ['10.9.0.1'],
          domain: 'dns.tsnet',
          entries: Array.from({ length: 60 }, (_, i) => ({
            containerId: `c${i}`,
            ifname: 'eth0',
            name: `n${i}`,
            aliases: ['a-very-long-alias-shared-by-every-one-of-these-containers'],
            ips: [`10.9.0.${i + 2}`],
          })),
        },
      },
    };
    const big = new NameIndex(many);
    const r = ask(big, 'a-very-long-alias-shared-by-every-one-of-these-containers', 'A', 'n', '10.9.0.2') as DecodedPacket;
    assert.equal(r.flag_tc, true, 'TC set');
    assert.ok(dnsPacket.encode(r).length <= 512);
    assert.ok(r.answers!.length > 0 && r.answers!.length < 60);
    const e = ask(big, 'a-very-long-alias-shared-by-every-one-of-these-containers', 'A', 'n', '10.9.0.2', { edns: true }) as DecodedPacket;
    assert.ok(e.answers!.length > r.answers!.length, 'EDNS lets more through');
    const tcp = handleQuery(
      big,
      dnsPacket.encode({
        type: 'query',
        id: 7,
        questions: [{ type: 'A', name: 'a-very-long-alias-shared-by-every-one-of-these-containers' }],
      }),
      'n',
      '10.9.0.2',
      'tcp',
    );
    assert.ok('reply' in tcp);
    assert.equal((dnsPacket.decode((tcp as { reply: Buffer }).reply).answers ?? []).length, 60, 'over TCP all of them');
  });

  it('listens where the records say', () => {
    assert.deepEqual(idx.listenAddresses(), [
      { address: '10.1.0.1', network: 'front' },
      { address: '10.2.0.1', network: 'back' },
    ]);
    assert.equal(idx.networkOf('::ffff:10.2.0.1'), 'back');
  });
});

describe('tsnet-dns name records', () => {
  it('put replaces the record of the same attachment, drop removes it and the network with its last', () => {
    const n: NamesFile = { generation: 0, networks: {} };
    const meta = { resolvers: ['10.1.0.1'], domain: 'dns.tsnet' };
    assert.equal(putEntry(n, 'a', meta, { containerId: 'c1', ifname: 'eth0', name: 'x', aliases: [], ips: ['10.1.0.2'] }), true);
    assert.equal(
      putEntry(n, 'a', meta, { containerId: 'c1', ifname: 'eth0', name: 'x', aliases: [], ips: ['10.1.0.2'] }),
      false,
      'same again',
    );
    putEntry(n, 'a', meta, { containerId: 'c1', ifname: 'eth0', name: 'y', aliases: [], ips: ['10.1.0.2'] });
    assert.equal(n.networks.a!.entries.length, 1);
    assert.equal(n.networks.a!.entries[0]!.name, 'y');
    putEntry(n, 'a', meta, { containerId: 'c2', ifname: 'eth0', name: 'z', aliases: [], ips: ['10.1.0.3'] });
    assert.equal(dropEntry(n, 'a', 'c1', 'eth1'), false);
    assert.equal(dropEntry(n, 'a', 'c1', 'eth0'), true);
    assert.equal(
      dropEntriesExcept(n, 'a', () => false),
      1,
    );
    assert.deepEqual(n.networks, {});
  });
});

describe('tsnet-dns on an overlay network: resolvers per block, names of other hosts', () => {
  it('listens on the resolver address of every record, and stops listening on one whose last record went', () => {
    const n: NamesFile = { generation: 0, networks: {} };
    const at = (r: string) => ({ resolvers: [r], domain: 'dns.tsnet' });
    putEntry(n, 'ov', at('10.9.0.1'), { containerId: 'a', ifname: 'eth0', name: 'a', aliases: [], ips: ['10.9.0.2'] });
    putEntry(n, 'ov', at('10.9.0.64'), { containerId: 'b', ifname: 'eth0', name: 'b', aliases: [], ips: ['10.9.0.65'] });
    assert.deepEqual(n.networks.ov!.resolvers.sort(), ['10.9.0.1', '10.9.0.64'], 'two blocks, two resolver addresses');
    dropEntry(n, 'ov', 'a', 'eth0');
    assert.deepEqual(n.networks.ov!.resolvers, ['10.9.0.64']);
  });

  it("answers the other hosts' names (and their reverse) like local ones, on a network with a resolver here", () => {
    const n: NamesFile = structuredClone(names);
    const remote = { containerId: 'r1', ifname: 'eth0', name: 'far', aliases: ['faraway'], ips: ['10.1.0.70'], host: 'h2' };
    assert.equal(setRemote(n, { front: [remote], elsewhere: [] }), true);
    assert.equal(setRemote(n, { front: [remote] }), false, 'the same again: no change');
    const idx = new NameIndex(n);
    assert.deepEqual(data(ask(idx, 'far', 'A', 'front', '10.1.0.2')), ['10.1.0.70']);
    assert.deepEqual(data(ask(idx, 'faraway.dns.tsnet', 'A', 'front', '10.1.0.2')), ['10.1.0.70']);
    assert.deepEqual(data(ask(idx, '70.0.1.10.in-addr.arpa', 'PTR', 'front', '10.1.0.2')), ['far.dns.tsnet']);
    assert.deepEqual(data(ask(idx, 'far', 'A', 'back', '10.2.0.2')), 'forward', 'not on the network asked');
    assert.equal(setRemote(n, {}), true);
    assert.equal(n.remote, undefined);
    assert.deepEqual(data(ask(new NameIndex(n), 'far', 'A', 'front', '10.1.0.2')), 'forward', 'gone with its record');
  });
});

describe("tsnet-dns upstreams (the host's resolv.conf)", () => {
  it('takes the nameservers in order, loopback stubs included, without our own addresses; caps the timeout', () => {
    const up = parseUpstreams(
      '# generated\nnameserver 127.0.0.53\nnameserver 10.1.0.1\nnameserver FE80::1%eth0\nnameserver bogus\nsearch lan\noptions edns0 timeout:5 attempts:2\n',
      new Set(['10.1.0.1']),
    );
    assert.deepEqual(up.servers, ['127.0.0.53', 'fe80::1']);
    assert.equal(up.timeoutMs, 2000);
    assert.equal(up.attempts, 2);
    assert.deepEqual(parseUpstreams('').servers, []);
  });

  it('frames TCP messages with their length', () => {
    const a = Buffer.from('hello');
    const stream = Buffer.concat([tcpFrame(a), tcpFrame(Buffer.from('x')).subarray(0, 2)]);
    const m = nextTcpMessage(stream)!;
    assert.equal(m.message.toString(), 'hello');
    assert.equal(nextTcpMessage(m.rest), undefined, 'the second is not all there yet');
  });
});
