import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import fc from 'fast-check';
import { sha256 } from './sha256.js';
import { sha256Hex } from './random.js';

const ref = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

test('sha256 matches node:crypto at every padding boundary and on random input', () => {
  assert.equal(hex(sha256(new Uint8Array())), 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  for (let n = 0; n < 200; n++) {
    const b = Uint8Array.from({ length: n }, (_, i) => (i * 31 + n) & 0xff);
    assert.equal(hex(sha256(b)), ref(b), `length ${n}`);
  }
  fc.assert(fc.property(fc.uint8Array({ maxLength: 2000 }), (b) => hex(sha256(b)) === ref(b)));
  fc.assert(fc.property(fc.string({ unit: 'grapheme' }), (s) => sha256Hex(s) === createHash('sha256').update(s).digest('hex')));
});
