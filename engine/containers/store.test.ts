// state.json is replaced without fsync (store.ts): after a power loss it may be unreadable, and then reads as a
// container that never started — listed, removable — instead of breaking every command that lists containers.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { listContainers, loadContainer, updateState } from './store.js';

test('an unreadable state.json reads as a container that never started', (t) => {
  const root = mkdtempSync(join(tmpdir(), 'tsnet-store-'));
  const saved = process.env.TSNET_ROOT;
  process.env.TSNET_ROOT = root;
  t.after(() => {
    process.env.TSNET_ROOT = saved;
    if (saved === undefined) delete process.env.TSNET_ROOT;
    rmSync(root, { recursive: true, force: true });
  });
  const id = 'b'.repeat(64);
  const dir = join(root, 'containers', id);
  mkdirSync(dir, { recursive: true });
  const config = { id, name: 'torn', image: 'i', imageId: 'x', created: '', cmd: ['sh'], env: [], workdir: '/', hostname: 'h' };
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...config, net: 'none', ports: [], limits: {}, autoRemove: false }));
  writeFileSync(join(dir, 'state.json'), '{"status": "runn'); // torn
  const c = loadContainer(id);
  assert.equal(c?.state.status, 'created');
  assert.match(c?.state.error ?? '', /unreadable/);
  assert.deepEqual(
    listContainers().map((x) => x.config.name),
    ['torn'],
  );
  assert.equal(updateState(id, { status: 'exited' }).status, 'exited', 'a state written over it is read again');
  assert.equal(loadContainer(id)?.state.status, 'exited');
});
