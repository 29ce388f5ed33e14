import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TsnetError } from '../common/errors.js';
import { newId, shortId, validateName } from './ids.js';

test('ids: 64 hex, short 12, names validated', () => {
  const id = newId();
  assert.match(id, /^[0-9a-f]{64}$/);
  assert.equal(shortId(id), id.slice(0, 12));
  assert.equal(validateName('web_1.a-b'), 'web_1.a-b');
  assert.throws(() => validateName('-bad'), TsnetError);
  assert.throws(() => validateName('a/b'), TsnetError);
});
