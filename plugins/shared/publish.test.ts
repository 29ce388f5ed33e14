import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { RuleText } from '../../native/nftables.js';
import { PluginError } from './errors.js';
import { hostPortOfNote, hostPortsClash, portNote, publishRules, refuseTaken } from './publish.js';

test('published-port notes read back (IPv4 and IPv6), others are not taken for one', () => {
  for (const p of [
    { protocol: 'tcp', hostPort: 8080 },
    { hostIp: '127.0.0.1', protocol: 'udp', hostPort: 53 },
    { hostIp: '::', protocol: 'tcp', hostPort: 8080 },
    { hostIp: 'fd00::1', protocol: 'udp', hostPort: 53 },
  ] as const)
    assert.deepEqual(hostPortOfNote(portNote(p)), p);
  assert.equal(portNote({ hostIp: '10.0.0.1', protocol: 'tcp', hostPort: 80 }), 'ip daddr 10.0.0.1 tcp dport 80');
  assert.equal(portNote({ hostIp: '::', protocol: 'tcp', hostPort: 80 }), 'ip6 tcp dport 80');
  for (const other of [
    '',
    'tcp dport',
    'tcp dport x',
    'sctp dport 80',
    'ip daddr tcp dport 80',
    'tcp dport 80 extra',
    'docker network 8e0147a6f45d',
  ])
    assert.equal(hostPortOfNote(other), undefined, other);
});

test('host ports clash on the same protocol, port and family when their addresses overlap', () => {
  const any = { protocol: 'tcp', hostPort: 80 } as const;
  const lo = { ...any, hostIp: '127.0.0.1' };
  assert.ok(hostPortsClash(any, any));
  assert.ok(hostPortsClash(any, lo));
  assert.ok(hostPortsClash(lo, any));
  assert.ok(hostPortsClash(lo, { ...lo }));
  assert.ok(!hostPortsClash(lo, { ...lo, hostIp: '127.0.0.2' }));
  assert.ok(!hostPortsClash(any, { ...any, protocol: 'udp' }));
  assert.ok(!hostPortsClash(any, { ...any, hostPort: 8080 }));
  const any6 = { hostIp: '::', protocol: 'tcp', hostPort: 80 } as const;
  assert.ok(!hostPortsClash(any, any6), 'IPv4 any and IPv6 any are different sockets');
  assert.ok(hostPortsClash(any6, { ...any6, hostIp: 'fd00::1' }));
  assert.ok(!hostPortsClash({ ...any6, hostIp: 'fd00::2' }, { ...any6, hostIp: 'fd00::1' }));
});

test("a host port another owner's rules publish is refused, naming the holder; the owner's own rules are not in the way", () => {
  const rule = (owner: string, text: string, chain = 'prerouting'): RuleText => ({ owner, chain, text });
  const existing = [rule('ports:abc:eth0', 'tcp dport 8080'), rule('docker-ports:123', 'ip daddr 127.0.0.1 udp dport 53')];
  const p = { hostPort: 8080, containerPort: 80, protocol: 'tcp' } as const;
  assert.throws(
    () => refuseTaken('docker-ports:999', [p], existing, (o) => `holder ${o}`),
    (e: unknown) => e instanceof PluginError && /already published by holder ports:abc:eth0/.test(e.message),
  );
  refuseTaken('ports:abc:eth0', [p], existing);
  refuseTaken('x', [{ ...p, protocol: 'udp' }], existing);
  assert.throws(() => refuseTaken('x', [{ hostPort: 53, containerPort: 53, protocol: 'udp' }], existing), /tsnet rule docker-ports:123/);
  refuseTaken('x', [p], [rule('ports:abc:eth0', 'tcp dport 8080', 'output')]);
});

test('each port: DNAT from outside and from the host, the loopback and hairpin masquerades; IPv6 to the IPv6 address', () => {
  const rules = publishRules({ ipv4: '10.1.0.2' }, [{ protocol: 'tcp', hostPort: 8085, containerPort: 80 }]);
  assert.deepEqual(
    rules.map((r) => [r.chain, r.note]),
    [
      ['prerouting', 'tcp dport 8085'],
      ['output', 'tcp dport 8085'],
      ['postrouting', undefined],
      ['postrouting', undefined],
    ],
  );
  const v6 = { hostIp: '::', protocol: 'tcp', hostPort: 8085, containerPort: 80 } as const;
  assert.throws(() => publishRules({ ipv4: '10.1.0.2' }, [v6]), /no IPv6 address/);
  assert.deepEqual(
    publishRules({ ipv4: '10.1.0.2', ipv6: 'fd00::2' }, [v6]).map((r) => r.chain),
    ['prerouting', 'output', 'postrouting'],
    'no loopback masquerade for IPv6 (no route_localnet)',
  );
});
