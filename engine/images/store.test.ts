import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TsnetError } from '../../common/errors.js';
import { normalizeImageName, validateImageName } from './store.js';

test('image names default to :latest', () => {
  assert.equal(normalizeImageName('busybox'), 'busybox:latest');
  assert.equal(normalizeImageName('busybox:1.36'), 'busybox:1.36');
  assert.equal(normalizeImageName('localhost:5000/x'), 'localhost:5000/x:latest');
  assert.throws(() => validateImageName('Bad Name'), TsnetError);
});
