import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { NetworkRecord } from '../../ipam/networks.js';
import { parseConfig } from '../../plugins/cni/conflist.js';
import { TsnetError } from '../../common/errors.js';
import { attachConflist, conflistFor } from './conflists.js';

const rec = (name: string, options?: NetworkRecord['options']): NetworkRecord => ({
  name,
  id: 'f'.repeat(64),
  created: '',
  driver: 'bridge',
  subnet: '10.99.0.0/24',
  auto: false,
  ranges: [],
  ...(options ? { options } : {}),
});

test('a network conflist is the same list its JSON text would parse to', () => {
  for (const [r, primary] of [
    [rec('bridge', { bridge: 'tsnet0' }), true],
    [rec('web', { mtu: 1400, ipMasq: false }), false],
  ] as const) {
    const list = conflistFor(r, primary);
    assert.deepEqual(list, parseConfig(list.bytes, list.source));
    assert.equal(list.plugins[0]!.type, 'bridge');
    assert.deepEqual(list.plugins[0]!.ipam, { type: 'tsnet-ipam', network: r.name });
  }
  assert.equal(conflistFor(rec('web')).plugins[0]!.bridge, 'br-ffffffffffff');
  assert.equal(conflistFor(rec('web'), false).plugins[0]!.isDefaultGateway, false);
});

test('every network is isolated; --internal has no way out; icc=false isolates the ports', () => {
  const plain = conflistFor(rec('web')).plugins[0]!;
  assert.equal(plain.isolation, true);
  assert.equal(plain.internal, undefined);
  assert.equal(plain.portIsolation, undefined);
  assert.equal(plain.ipMasq, true);
  assert.equal(plain.isDefaultGateway, true);
  const internal = conflistFor(rec('db', { internal: true })).plugins[0]!;
  assert.equal(internal.internal, true);
  assert.equal(internal.ipMasq, false, 'no masquerade');
  assert.equal(internal.isDefaultGateway, false, 'no route out');
  assert.equal(conflistFor(rec('quiet', { icc: false })).plugins[0]!.portIsolation, true);
  assert.equal(conflistFor(rec('chatty', { icc: true })).plugins[0]!.portIsolation, undefined);
});

test('--net attach:… becomes an attach conflist keyed by its bridge', () => {
  const { list, key } = attachConflist('br0:192.168.115.10/24@192.168.115.2:02:42:c0:a8:73:0a');
  assert.equal(key, 'br0');
  assert.deepEqual(list, parseConfig(list.bytes, list.source));
  assert.deepEqual(list.plugins[0], {
    type: 'attach',
    bridge: 'br0',
    address: '192.168.115.10/24',
    gateway: '192.168.115.2',
    mac: '02:42:c0:a8:73:0a',
    name: 'attach-br0',
    cniVersion: '1.1.0',
  });
  assert.throws(() => attachConflist('br0'), TsnetError);
});

test('user networks chain tsnet-dns after the bridge; the default network and --disable-dns do not', () => {
  const types = (r: NetworkRecord) => conflistFor(r).plugins.map((p) => p.type);
  assert.deepEqual(types(rec('web')), ['bridge', 'tsnet-dns']);
  assert.deepEqual(types(rec('bridge', { bridge: 'tsnet0' })), ['bridge']);
  assert.deepEqual(types(rec('quiet', { dns: false })), ['bridge']);
  const dns = conflistFor(rec('web')).plugins[1]!;
  assert.deepEqual(dns.capabilities, { aliases: true }, 'aliases arrive as runtimeConfig');
  assert.match(String(dns.dataDir), /\/dns$/);
});

test('an overlay network chains tsnet-dns after the overlay plugin, which gives the container a resolver; not with --disable-dns', () => {
  const ov = (options: NetworkRecord['options']): NetworkRecord => ({ ...rec('ov', options), driver: 'overlay' });
  const list = conflistFor(ov({ store: 'etcd://10.0.0.1:2379', vni: 4096 }));
  assert.deepEqual(
    list.plugins.map((p) => p.type),
    ['overlay', 'tsnet-dns'],
  );
  assert.equal(list.plugins[0]!.resolver, true);
  assert.deepEqual(list.plugins[1]!.capabilities, { aliases: true });
  const quiet = conflistFor(ov({ store: 'etcd://10.0.0.1:2379', vni: 4096, dns: false }));
  assert.deepEqual(
    quiet.plugins.map((p) => p.type),
    ['overlay'],
  );
  assert.equal(quiet.plugins[0]!.resolver, undefined);
});
