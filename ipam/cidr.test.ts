import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  addresses,
  broadcastAddress,
  containsAddr,
  containsPrefix,
  formatAddr,
  formatPrefix,
  networkAddress,
  nth,
  overlaps,
  parseAddr,
  parseCidr,
  parsePrefix,
  size,
  subnets,
} from './cidr.js';

test('parse and format IPv4 and IPv6 addresses', () => {
  assert.equal(formatAddr(parseAddr('10.1.2.3')), '10.1.2.3');
  assert.equal(parseAddr('10.1.2.3').value, 0x0a010203n);
  assert.equal(formatAddr(parseAddr('2001:0db8:0000::0001')), '2001:db8::1');
  assert.equal(parseAddr('::ffff:10.0.0.1').family, 4);
  assert.throws(() => parseAddr('10'), /dotted-quad/);
  assert.throws(() => parseAddr('nope'), /not an IPv4 or IPv6/);
  assert.throws(() => parseAddr('fe80::1%eth0'), /zone/);
  // Plain dotted quads take a path of their own: same values, same formatting, same refusals.
  for (const a of ['0.0.0.0', '255.255.255.255', '192.168.0.1', '10.200.3.44', '128.0.0.0']) assert.equal(formatAddr(parseAddr(a)), a);
  assert.equal(parseAddr('255.255.255.255').value, 0xffffffffn);
  assert.equal(formatAddr({ family: 4, value: 0x80000001n }), '128.0.0.1');
  assert.throws(() => parseAddr('256.1.1.1'), /not an IPv4 or IPv6/);
  assert.throws(() => parseAddr('010.1.1.1'), /dotted-quad/);
  assert.throws(() => parseAddr('1.2.3'), /dotted-quad/);
  assert.equal(parseCidr('::ffff:10.0.0.1/120').prefix.family, 4);
});

test('parse prefixes: normalisation, strict host bits, bad lengths', () => {
  assert.equal(formatPrefix(parsePrefix('10.1.2.3/16')), '10.1.0.0/16');
  assert.throws(() => parsePrefix('10.1.2.3/16', { strict: true }), /host bits set.*10\.1\.0\.0\/16/);
  assert.throws(() => parsePrefix('10.0.0.0/33'), /longer than 32/);
  assert.throws(() => parsePrefix('10.0.0.0'), /CIDR notation/);
  assert.equal(formatPrefix(parsePrefix('fd00:1::/64')), 'fd00:1::/64');
  const c = parseCidr('192.168.1.7/24');
  assert.equal(formatAddr(c.addr), '192.168.1.7');
  assert.equal(formatPrefix(c.prefix), '192.168.1.0/24');
});

test('network, broadcast, nth, size, contains, overlap', () => {
  const p = parsePrefix('10.0.0.0/30');
  assert.equal(size(p), 4n);
  assert.equal(formatAddr(networkAddress(p)), '10.0.0.0');
  assert.equal(formatAddr(broadcastAddress(p)), '10.0.0.3');
  assert.equal(formatAddr(nth(p, 1)), '10.0.0.1');
  assert.equal(formatAddr(nth(p, -2)), '10.0.0.2');
  assert.throws(() => nth(p, 4), /no address number 4/);
  assert.ok(containsAddr(p, parseAddr('10.0.0.3')));
  assert.ok(!containsAddr(p, parseAddr('10.0.0.4')));
  assert.ok(!containsAddr(p, parseAddr('::a00:1')));
  assert.ok(overlaps(parsePrefix('10.0.0.0/8'), parsePrefix('10.5.0.0/16')));
  assert.ok(!overlaps(parsePrefix('10.0.0.0/24'), parsePrefix('10.0.1.0/24')));
  assert.ok(!overlaps(parsePrefix('0.0.0.0/0'), parsePrefix('::/0')));
  assert.ok(containsPrefix(parsePrefix('172.16.0.0/12'), parsePrefix('172.31.0.0/16')));
  assert.ok(!containsPrefix(parsePrefix('172.31.0.0/16'), parsePrefix('172.16.0.0/12')));
  const v6 = parsePrefix('2001:db8::/126');
  assert.deepEqual([...addresses(v6)].map(formatAddr), ['2001:db8::', '2001:db8::1', '2001:db8::2', '2001:db8::3']);
  assert.equal(formatAddr(broadcastAddress(parsePrefix('fd00::/64'))), 'fd00::ffff:ffff:ffff:ffff');
});

test('subnets cuts a prefix in order', () => {
  const s = [...subnets(parsePrefix('192.168.0.0/16'), 20)].map(formatPrefix);
  assert.equal(s.length, 16);
  assert.equal(s[0], '192.168.0.0/20');
  assert.equal(s[1], '192.168.16.0/20');
  assert.equal(s[15], '192.168.240.0/20');
  assert.throws(() => subnets(parsePrefix('10.0.0.0/24'), 16).next(), /cannot cut/);
});
