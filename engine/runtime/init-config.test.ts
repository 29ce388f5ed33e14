import assert from 'node:assert/strict';
import { test } from 'node:test';
import { encodeInitConfig } from './init-config.js';

test('init config: repeated keys keep order, newlines and backslashes are escaped', () => {
  const s = encodeInitConfig({ rootfs: '/r', lower: ['/top', '/bottom'], lo_up: 1, netns: undefined, arg: ['sh', '-c', 'echo a\nb\\c'] });
  assert.equal(
    s,
    '# tsnet-init config, written by the engine\nrootfs=/r\nlower=/top\nlower=/bottom\nlo_up=1\narg=sh\narg=-c\narg=echo a\\nb\\\\c\n',
  );
});
