import assert from 'node:assert/strict';
import { test } from 'node:test';
import { humanDuration, psFilter, statusText } from './ps.js';

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

test('ps --filter as Docker reads it: one key any value, several keys all; status shows stopped ones without -a', () => {
  const mk = (name: string, status: 'running' | 'exited' | 'created', extra: Record<string, unknown> = {}) => ({
    config: {
      id: `${name.charCodeAt(0).toString(16)}${'0'.repeat(62)}`,
      name,
      image: name === 'web' ? 'nginx:1.25' : 'bb:latest',
      imageId: name === 'web' ? 'abc123' : 'def456',
      created: '',
      cmd: ['sh'],
      env: [],
      workdir: '/',
      hostname: 'h',
      net: 'bridge',
      ports: [],
      limits: {},
      autoRemove: false,
      detached: true,
    },
    state: { status, ...extra } as any,
  });
  const web = mk('web', 'running', { network: { networks: { front: {}, back: {} } } });
  const db = mk('db', 'exited', { exitCode: 0, network: { networks: { back: {} } } });
  const job = mk('job', 'exited', { exitCode: 3 });
  const all = [web, db, job];
  const names = (specs: string[]) => all.filter(psFilter(specs).match).map((c) => c.config.name);
  assert.deepEqual(names([]), ['web', 'db', 'job']);
  assert.deepEqual(names(['name=^web$']), ['web']);
  assert.deepEqual(names(['name=/d']), ['db'], "the name with its leading '/'");
  assert.deepEqual(
    names(['name=b']),
    ['web', 'db', 'job'].filter((n) => /b/.test(n)),
  );
  assert.deepEqual(names(['name=web', 'name=job']), ['web', 'job'], 'one key: any of its values');
  assert.deepEqual(names(['status=exited']), ['db', 'job']);
  assert.deepEqual(names(['status=exited', 'name=j']), ['job'], 'several keys: all');
  assert.deepEqual(names(['exited=3']), ['job']);
  assert.deepEqual(names(['network=back']), ['web', 'db']);
  assert.deepEqual(names(['ancestor=nginx:1.25']), ['web']);
  assert.deepEqual(names(['ancestor=bb']), ['db', 'job'], 'a name without tag is :latest');
  assert.deepEqual(names(['ancestor=abc1']), ['web'], 'an image id prefix');
  assert.deepEqual(names([`id=${web.config.id.slice(0, 4)}`]), ['web']);
  assert.equal(psFilter(['status=exited']).all, true, 'a status filter lists stopped containers without -a');
  assert.equal(psFilter(['name=x']).all, false);
  assert.throws(() => psFilter(['bogus=1']), /invalid filter 'bogus'/);
  assert.throws(() => psFilter(['status=bogus']), /invalid filter 'status=bogus'/);
  assert.throws(() => psFilter(['exited=x']), /not an exit status/);
  assert.throws(() => psFilter(['name=(']), /not a regular expression/);
});
