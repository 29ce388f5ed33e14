import assert from 'node:assert/strict';
import { test } from 'node:test';
import { humanDuration, statusText } from './ps.js';

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
    'Exited (137) About a minute ago (OOM killed)',
  );
  assert.equal(statusText({ ...base, state: { status: 'running', startedAt: '2024-01-01T00:00:30Z' } }, now), 'Up 30 seconds');
});

test("durations worded as Docker's ps words them (go-units HumanDuration)", () => {
  const s = 1000;
  const h = 3600 * s;
  for (const [ms, text] of [
    [0, 'Less than a second'],
    [999, 'Less than a second'],
    [1 * s, '1 second'],
    [1999, '1 second'],
    [59 * s, '59 seconds'],
    [60 * s, 'About a minute'],
    [119 * s, 'About a minute'],
    [120 * s, '2 minutes'],
    [59 * 60 * s + 59 * s, '59 minutes'],
    [h, 'About an hour'],
    [h + 29 * 60 * s, 'About an hour'],
    [h + 30 * 60 * s, '2 hours'],
    [47 * h, '47 hours'],
    [48 * h, '2 days'],
    [14 * 24 * h, '2 weeks'],
    [60 * 24 * h, '2 months'],
    [2 * 365 * 24 * h, '2 years'],
  ] as const)
    assert.equal(humanDuration(ms), text, `${ms} ms`);
});
