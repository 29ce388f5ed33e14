import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TsnetError } from '../../common/errors.js';
import { formatError } from './format-error.js';

test('errors print as tsnet: thing: reason (fix)', () => {
  assert.equal(
    formatError(new TsnetError('container x', 'not found', "see 'tsnet ps -a'")),
    "tsnet: container x: not found (see 'tsnet ps -a')",
  );
});
