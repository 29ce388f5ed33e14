import assert from 'node:assert/strict';
import { test } from 'node:test';
import { endpointAliases } from './endpoint.js';

const ID = `0123456789ab${'c'.repeat(52)}`;

test('on a user network the short id follows the aliases given, once; none on the default bridge or attach:', () => {
  const net = { kind: 'network', name: 'front' } as const;
  assert.deepEqual(endpointAliases(ID, net, undefined), ['0123456789ab']);
  assert.deepEqual(endpointAliases(ID, net, ['web', 'www', 'web']), ['web', 'www', '0123456789ab']);
  assert.deepEqual(endpointAliases(ID, net, ['0123456789ab', 'web']), ['0123456789ab', 'web']);
  assert.equal(endpointAliases(ID, { kind: 'bridge' }, undefined), undefined);
  assert.deepEqual(endpointAliases(ID, { kind: 'bridge' }, ['x']), ['x']);
  assert.equal(endpointAliases(ID, { kind: 'attach', spec: 'br0:10.1.0.5/24' }, []), undefined);
});
