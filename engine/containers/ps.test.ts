import assert from 'node:assert/strict';
import { test } from 'node:test';
import { statusText } from './ps.js';

test('ps status text', () => {
  const config = {
    id: 'a'.repeat(64),
    name: 'n',
    image: 'i',
    imageId: 'x',
    created: '',
    cmd: ['sh'],
    env: [],
    workdir: '/',
    hostname: 'h',
  };
  const base = { config: { ...config, net: 'none', ports: [], limits: {}, autoRemove: false, detached: true } };
  const now = Date.parse('2024-01-01T00:01:00Z');
  assert.equal(
    statusText({ ...base, state: { status: 'exited', exitCode: 137, oomKilled: true, finishedAt: '2024-01-01T00:00:00Z' } }, now),
    'Exited (137) 1 minutes ago (OOM killed)',
  );
  assert.equal(statusText({ ...base, state: { status: 'running', startedAt: '2024-01-01T00:00:30Z' } }, now), 'Up 30 seconds');
});
