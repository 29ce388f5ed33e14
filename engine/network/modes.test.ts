import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TsnetError } from '../../common/errors.js';
import { formatNetMode, parseNetMode } from './modes.js';

test('--net modes', () => {
  assert.deepEqual(parseNetMode(undefined), { kind: 'bridge' });
  assert.deepEqual(parseNetMode('host'), { kind: 'host' });
  assert.deepEqual(parseNetMode('none'), { kind: 'none' });
  assert.deepEqual(parseNetMode('container:web'), { kind: 'container', ref: 'web' });
  assert.deepEqual(parseNetMode('attach:br0:10.1.0.5/24@10.1.0.1'), { kind: 'attach', spec: 'br0:10.1.0.5/24@10.1.0.1' });
  assert.deepEqual(parseNetMode('mynet'), { kind: 'network', name: 'mynet' });
  assert.throws(() => parseNetMode('container:'), TsnetError);
  assert.throws(() => parseNetMode('bad net'), TsnetError);
  for (const s of ['host', 'none', 'bridge', 'container:a', 'mynet']) assert.equal(formatNetMode(parseNetMode(s)), s);
});
