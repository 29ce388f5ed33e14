import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import fc from 'fast-check';
import { randomBytes, randomInt, sha256Hex } from './random.js';

test('sha256Hex is the SHA-256 of the UTF-8 text, as node:crypto computes it', () => {
  assert.equal(sha256Hex(''), 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  fc.assert(fc.property(fc.string({ unit: 'grapheme' }), (s) => sha256Hex(s) === createHash('sha256').update(s).digest('hex')));
});

test('random bytes and integers from the pool: the lengths asked, integers in range', () => {
  for (const n of [0, 1, 255, 256, 257, 1000]) assert.equal(randomBytes(n).length, n);
  for (let i = 0; i < 1000; i++) {
    const v = randomInt(7);
    assert.ok(Number.isInteger(v) && v >= 0 && v < 7);
  }
});
