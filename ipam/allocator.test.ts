import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Allocator, ExhaustedError, RangeIter, RequestedAddressError } from './allocator.js';
import { formatAddr } from './cidr.js';
import { canonicalizeRange, canonicalizeRangeSet, canonicalizeRangeSets, capacity, RangeConfigError, type RangeSpec } from './ranges.js';
import { IpamState } from './state.js';

const owner = (c: string, i = 'eth0') => ({ containerID: c, ifname: i });

function alloc(specs: RangeSpec[]) {
  const state = new IpamState();
  const a = new Allocator(canonicalizeRangeSet(specs), state, '0', 'net1');
  return { state, a, get: (c: string, req?: string) => a.get(owner(c), req).address };
}

test('range defaults follow host-local: start .1 (gateway skipped), end before broadcast, gateway .1', () => {
  const r = canonicalizeRange({ subnet: '10.0.0.0/24' });
  assert.equal(formatAddr({ family: 4, value: r.start }), '10.0.0.1');
  assert.equal(formatAddr({ family: 4, value: r.end }), '10.0.0.254');
  assert.equal(formatAddr({ family: 4, value: r.gateway! }), '10.0.0.1');
  assert.equal(capacity([r]), 253n);
  const v6 = canonicalizeRange({ subnet: 'fd00::/120' });
  assert.equal(formatAddr({ family: 6, value: v6.end }), 'fd00::ff');
});

test('range validation errors name the field and the fix', () => {
  assert.throws(() => canonicalizeRange({ subnet: '10.0.0.1/24' }), /host bits set.*10\.0\.0\.0\/24/);
  assert.throws(
    () => canonicalizeRange({ subnet: '10.0.0.0/24', rangeStart: '10.0.1.1' }),
    /rangeStart 10\.0\.1\.1 is not inside subnet 10\.0\.0\.0\/24/,
  );
  assert.throws(() => canonicalizeRange({ subnet: '10.0.0.0/24', rangeStart: '10.0.0.9', rangeEnd: '10.0.0.3' }), /after rangeEnd/);
  assert.throws(() => canonicalizeRangeSet([{ subnet: '10.0.0.0/24' }, { subnet: 'fd00::/64' }]), /mixes IPv4 and IPv6/);
  assert.throws(
    () => canonicalizeRangeSets([[{ subnet: '10.0.0.0/24' }], [{ subnet: '10.0.0.0/25' }]]),
    /range set 0 overlaps with range set 1/,
  );
  assert.throws(() => canonicalizeRangeSets([]), /no IP ranges specified/);
});

test('next-fit: sequential, wraps after the last reserved, reuses released addresses only after a full turn', () => {
  const { a, get } = alloc([{ subnet: '10.0.0.0/29' }]); // usable .2-.6 (gateway .1)
  assert.deepEqual(
    ['a', 'b', 'c'].map((c) => get(c)),
    ['10.0.0.2/29', '10.0.0.3/29', '10.0.0.4/29'],
  );
  a.release(owner('a'));
  assert.equal(get('d'), '10.0.0.5/29'); // not .2: round-robin continues after the last reserved
  assert.equal(get('e'), '10.0.0.6/29');
  assert.equal(get('f'), '10.0.0.2/29'); // wrapped, skipping the gateway
  assert.throws(
    () => get('g'),
    (e: unknown) =>
      e instanceof ExhaustedError && /network "net1".*range set 0 \(10\.0\.0\.1-10\.0\.0\.6\): 5 of 5 addresses are held/.test(e.message),
  );
});

test('rangeStart/rangeEnd/gateway exclusions, IPv6, several ranges in one set', () => {
  const { get } = alloc([{ subnet: '10.1.0.0/24', rangeStart: '10.1.0.10', rangeEnd: '10.1.0.12', gateway: '10.1.0.11' }]);
  assert.deepEqual(
    ['a', 'b'].map((c) => get(c)),
    ['10.1.0.10/24', '10.1.0.12/24'],
  );
  assert.throws(() => get('c'), ExhaustedError);

  const six = alloc([{ subnet: 'fd00:1::/64', rangeStart: 'fd00:1::ffff', rangeEnd: 'fd00:1::1:1' }]);
  assert.deepEqual(
    ['a', 'b', 'c'].map((c) => six.get(c)),
    ['fd00:1::ffff/64', 'fd00:1::1:0/64', 'fd00:1::1:1/64'],
  );

  const multi = alloc([{ subnet: '10.2.0.0/30' }, { subnet: '10.3.0.0/30' }]);
  assert.deepEqual(
    ['a', 'b'].map((c) => multi.get(c)),
    ['10.2.0.2/30', '10.3.0.2/30'],
  );
  assert.throws(() => multi.get('c'), /10\.2\.0\.1-10\.2\.0\.2,10\.3\.0\.1-10\.3\.0\.2\): 2 of 2/);
});

test('/31, /32, /127 and /128 are refused as host-local does, naming the subnet, why and the fix; a /30 holds gateway + one', () => {
  for (const [subnet, count, fix] of [
    ['10.9.0.0/31', '2 addresses', '/30'],
    ['10.9.0.7/32', '1 address', '/30'],
    ['fd00:9::/127', '2 addresses', '/126'],
    ['fd00:9::7/128', '1 address', '/126'],
  ] as const) {
    for (const spec of [{ subnet }, { subnet, gateway: subnet.replace(/\/.*/, '') }]) {
      assert.throws(
        () => canonicalizeRange(spec),
        (e: unknown) =>
          e instanceof RangeConfigError &&
          e.reason === `subnet ${subnet} is too small to allocate from: its ${count} leave no room for both a gateway and a container` &&
          e.fix!.startsWith(`use a ${fix} or larger subnet`),
        subnet,
      );
    }
  }
  assert.throws(
    () => canonicalizeRangeSets([[{ subnet: '10.9.0.0/24' }], [{ subnet: '10.9.1.0/24' }, { subnet: '10.9.2.0/31' }]]),
    (e: unknown) =>
      e instanceof RangeConfigError && /^range set 1, range 1: subnet 10\.9\.2\.0\/31 is too small/.test(e.reason) && /\/30/.test(e.fix!),
  );
  const { a, get } = alloc([{ subnet: '10.9.0.0/30' }]);
  assert.equal(get('a'), '10.9.0.2/30');
  assert.equal(a.get(owner('a')).gateway, '10.9.0.1');
  assert.throws(() => get('b'), ExhaustedError);
});

test('static requests: reserved, next-fit continues after them; gateway, foreign and out-of-range refused', () => {
  const { get } = alloc([{ subnet: '10.0.0.0/24' }]);
  assert.equal(get('a', '10.0.0.50'), '10.0.0.50/24');
  assert.equal(get('b'), '10.0.0.51/24');
  assert.equal(get('a', '10.0.0.50'), '10.0.0.50/24'); // same owner: idempotent
  assert.throws(
    () => get('c', '10.0.0.50'),
    (e: unknown) => e instanceof RequestedAddressError && /held by a\/eth0/.test(e.message),
  );
  assert.throws(() => get('c', '10.0.0.1'), /is the gateway/);
  assert.throws(() => get('c', '10.0.1.1'), /not in range set 0/);
});

test('an owner asking again gets its address back; release is idempotent and per (container, ifname)', () => {
  const { a, state, get } = alloc([{ subnet: '10.0.0.0/24' }]);
  assert.equal(get('a'), '10.0.0.2/24');
  assert.equal(get('a'), '10.0.0.2/24');
  assert.equal(a.get(owner('a', 'eth1')).address, '10.0.0.3/24');
  assert.equal(a.release(owner('a')), 1);
  assert.equal(a.release(owner('a')), 0);
  assert.equal(state.size, 1);
  assert.equal(state.ownedBy(owner('a', 'eth1')).length, 1);
});

test('RangeIter visits each candidate once and stops', () => {
  const set = canonicalizeRangeSet([{ subnet: '10.0.0.0/29' }]);
  const it = new RangeIter(set, { family: 4, value: 0x0a000004n });
  const seen: string[] = [];
  for (let c = it.next(); c; c = it.next()) seen.push(formatAddr({ family: 4, value: c.value }));
  assert.deepEqual(seen, ['10.0.0.5', '10.0.0.6', '10.0.0.2', '10.0.0.3', '10.0.0.4']);
});
