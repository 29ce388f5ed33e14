import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NoFreeSubnetError, pickSubnet, type Occupied } from './picker.js';
import { DEFAULT_POOLS } from './pools.js';

const route = (p: string, dev = 'x0'): Occupied => ({ prefix: p, what: `route ${p} dev ${dev}` });

test('default pools start at 172.17.0.0/16 and follow Docker, then 10.0.0.0/8 in /24s', () => {
  assert.equal(DEFAULT_POOLS[0]!.base, '172.17.0.0/16');
  assert.equal(DEFAULT_POOLS[14]!.base, '172.31.0.0/16');
  assert.deepEqual(DEFAULT_POOLS[15], { base: '192.168.0.0/16', size: 20 });
  assert.deepEqual(DEFAULT_POOLS[16], { base: '10.0.0.0/8', size: 24 });
  assert.equal(pickSubnet({ occupied: [] }).cidr, '172.17.0.0/16');
});

test('routes covering 172.17/16 and 172.18/16 → 172.19.0.0/16', () => {
  const p = pickSubnet({ occupied: [route('172.17.0.0/16', 'docker0'), route('172.18.0.0/16', 'br-1')] });
  assert.equal(p.cidr, '172.19.0.0/16');
});

test('an interface address with host bits blocks its subnet; a default route blocks nothing', () => {
  const p = pickSubnet({
    occupied: [
      { prefix: '0.0.0.0/0', what: 'route default via 10.0.2.2 dev eth0' },
      { prefix: '::/0', what: 'route default via fe80::1 dev eth0' },
      { prefix: '172.17.0.1/16', what: 'address 172.17.0.1/16 on docker0' },
    ],
  });
  assert.equal(p.cidr, '172.18.0.0/16');
});

test('all of 172.16-31 covered → 192.168.0.0/20, then the next free /20', () => {
  const all172 = route('172.16.0.0/12', 'vpn0');
  assert.equal(pickSubnet({ occupied: [all172] }).cidr, '192.168.0.0/20');
  const p = pickSubnet({ occupied: [all172, { prefix: '192.168.1.10/24', what: 'address 192.168.1.10/24 on wlan0' }] });
  assert.equal(p.cidr, '192.168.16.0/20');
});

test('then 10.0.0.0/8 in /24s, skipping used /24s quickly', () => {
  const occupied = [
    route('172.16.0.0/12'),
    route('192.168.0.0/16'),
    route('10.0.0.0/16'),
    { prefix: '10.1.0.0/24', what: 'tsnet network a' },
  ];
  assert.equal(pickSubnet({ occupied }).cidr, '10.1.1.0/24');
});

test('prefixLength overrides pool sizes; a pool too small for it is reported', () => {
  assert.equal(pickSubnet({ prefixLength: 24, occupied: [route('172.17.0.0/24')] }).cidr, '172.17.1.0/24');
  assert.throws(
    () => pickSubnet({ prefixLength: 12, pools: [{ base: '172.17.0.0/16', size: 16 }], occupied: [] }),
    (e: unknown) => e instanceof NoFreeSubnetError && /cannot hold a \/12/.test(e.message),
  );
});

test('IPv6 pools work, IPv4 blockers do not affect them', () => {
  const p = pickSubnet({ pools: [{ base: 'fd00:dead::/48', size: 64 }], occupied: [route('0.0.0.0/8'), route('fd00:dead::/64')] });
  assert.equal(p.cidr, 'fd00:dead:0:1::/64');
});

test('exhausted: the error names every pool and summarises the blockers', () => {
  const occupied = [
    route('172.16.0.0/12', 'vpn0'),
    { prefix: '192.168.0.0/17', what: 'tsnet network a' },
    { prefix: '192.168.128.0/17', what: 'tsnet network b' },
    ...Array.from({ length: 256 }, (_, i) => ({ prefix: `10.${i}.0.0/16`, what: `route 10.${i}.0.0/16 dev tun${i}` })),
  ];
  assert.throws(
    () => pickSubnet({ occupied }),
    (e: unknown) => {
      assert.ok(e instanceof NoFreeSubnetError);
      assert.equal(e.report.length, 17);
      assert.match(e.message, /172\.17\.0\.0\/16: every subnet overlaps something in use: route 172\.16\.0\.0\/12 dev vpn0/);
      assert.match(e.message, /192\.168\.0\.0\/16 in \/20s: .*tsnet network a, tsnet network b/);
      assert.match(e.message, /10\.0\.0\.0\/8 in \/24s: .*tun0.*and 253 more/);
      assert.match(e.message, /Fix: give an explicit subnet/);
      return true;
    },
  );
});

test('bad occupied entries are named', () => {
  assert.throws(() => pickSubnet({ occupied: [{ prefix: 'bogus', what: 'route bogus' }] }), /route bogus/);
});
