import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { assertValid, jsonPointerToPath } from './validate.js';
import { bridgeValidator, hostLocalValidator, netconfValidator } from './validators.js';
import { repoRoot } from './testdata/bundle.js';
import { CniError } from './types.js';

function msg(v: typeof netconfValidator, data: unknown, label: string): string {
  try {
    assertValid(v, data, label);
  } catch (e) {
    assert.equal((e as CniError).code, 7);
    return (e as Error).message;
  }
  return 'valid';
}

test('pointer paths read like config paths', () => {
  assert.equal(jsonPointerToPath('/ipam/ranges/0/1/subnet'), '.ipam.ranges[0][1].subnet');
  assert.equal(jsonPointerToPath('/cni.dev~1valid-attachments/0'), '.cni.dev/valid-attachments[0]');
});

test('bridge keys', () => {
  const ok = {
    cniVersion: '1.0.0',
    name: 'n',
    type: 'bridge',
    bridge: 'tsnet0',
    isGateway: true,
    isDefaultGateway: true,
    forceAddress: false,
    ipMasq: true,
    mtu: 1500,
    hairpinMode: true,
    promiscMode: false,
    macspoofchk: true,
    vlan: 10,
    enabledad: false,
    ipam: { type: 'host-local' },
  };
  assert.equal(msg(bridgeValidator, ok, 'bridge'), 'valid');
  assert.equal(msg(bridgeValidator, { ...ok, mtu: 65536 }, 'bridge'), 'bridge.mtu: must be integer between 68 and 65535 (got 65536)');
  assert.equal(msg(bridgeValidator, { ...ok, mtu: '1500' }, 'bridge'), 'bridge.mtu: must be integer between 68 and 65535 (got "1500")');
  assert.equal(
    msg(bridgeValidator, { ...ok, bridge: '..' }, 'bridge'),
    "bridge.bridge: must be an interface name of 1-15 bytes without '/', ':' or whitespace (got \"..\")",
  );
  assert.equal(msg(bridgeValidator, { ...ok, macspoofchk: null }, 'bridge'), 'bridge.macspoofchk: must be true or false (got null)');
  assert.equal(
    msg(bridgeValidator, { ...ok, ipam: { type: 3 } }, 'bridge'),
    'bridge.ipam.type: must be an IPAM plugin name such as "host-local" (got 3)',
  );
});

test('host-local ipam keys', () => {
  const ok = {
    cniVersion: '1.0.0',
    name: 'n',
    type: 'bridge',
    ipam: {
      type: 'host-local',
      ranges: [[{ subnet: '10.1.0.0/24', rangeStart: '10.1.0.10', gateway: '10.1.0.1' }], [{ subnet: 'fd00::/64' }]],
      routes: [{ dst: '0.0.0.0/0' }],
      dataDir: '/var/lib/x',
    },
  };
  assert.equal(msg(hostLocalValidator, ok, 'host-local'), 'valid');
  const bad = structuredClone(ok);
  (bad.ipam.ranges[0][0] as any).subnet = '10.1.0.0/33';
  assert.equal(
    msg(hostLocalValidator, bad, 'host-local'),
    'host-local.ipam.ranges[0][0].subnet: must be a subnet in CIDR notation, e.g. 10.1.0.0/24 (got "10.1.0.0/33")',
  );
  assert.equal(
    msg(hostLocalValidator, { ...ok, ipam: { ...ok.ipam, ranges: [] } }, 'host-local'),
    'host-local.ipam.ranges: must be a non-empty array of range sets (arrays of ranges)',
  );
  assert.equal(
    msg(hostLocalValidator, { ...ok, ipam: { ...ok.ipam, routes: [{ gw: '10.1.0.1' }] } }, 'host-local'),
    'host-local.ipam.routes[0].dst: is required',
  );
  assert.equal(
    msg(hostLocalValidator, { ...ok, ipam: { ...ok.ipam, rangeStart: '10.1.0.300' } }, 'host-local'),
    'host-local.ipam.rangeStart: must be an IPv4 or IPv6 address (got "10.1.0.300")',
  );
  assert.equal(
    msg(hostLocalValidator, { ...ok, ipam: { ...ok.ipam, dataDir: 'rel' } }, 'host-local'),
    'host-local.ipam.dataDir: must be an absolute directory path (got "rel")',
  );
});

test('the generated validators match the schemas (regenerate with node plugins/cni/gen-validators.mjs)', async () => {
  const gen = (await import(pathToFileURL(join(repoRoot(), 'plugins', 'cni', 'gen-validators.mjs')).href)) as {
    generateValidatorsSource(): string;
    OUT_FILE: string;
  };
  assert.equal(gen.generateValidatorsSource(), readFileSync(gen.OUT_FILE, 'utf8'), 'validators.generated.ts is stale');
});
