// The CLI's launcher (dist/engine/cli/tsnet.cjs, built from launch.ts by `npm run build:cni`): V8's code cache
// of the CLI is kept per command under <state root>/cache/v8, used only where no one else could have written
// it, and written again when missing, not private, or rejected by V8 — the command working the same every time.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';

const LAUNCHER = fileURLToPath(new URL('./tsnet.cjs', import.meta.url));

function tsnet(root: string, ...args: string[]): string {
  return tsnetWith([], root, ...args);
}

function tsnetWith(nodeFlags: string[], root: string, ...args: string[]): string {
  const r = spawnSync(process.execPath, [...nodeFlags, LAUNCHER, ...args], { env: { ...process.env, TSNET_ROOT: root }, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout;
}

test(
  'the launcher keeps a private code cache per command and rewrites one it cannot trust',
  { skip: !existsSync(LAUNCHER) && 'launcher not built' },
  (t) => {
    const root = mkdtempSync(join(tmpdir(), 'tsnet-launch-')); // 0700, ours
    t.after(() => rmSync(root, { recursive: true, force: true }));
    const dir = join(root, 'cache', 'v8');
    const out = tsnet(root, 'ps', '-a');
    assert.match(out, /CONTAINER ID/);
    const files = readdirSync(dir);
    assert.equal(files.length, 1, files.join());
    const file = join(dir, files[0]!);
    assert.match(files[0]!, /^cli-ps-/);
    assert.equal(statSync(dir).mode & 0o777, 0o700);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    const first = statSync(file);

    // used, not written again
    assert.equal(tsnet(root, 'ps', '-a'), out);
    assert.equal(statSync(file).ino, first.ino);

    // another command: a cache of its own
    tsnet(root, 'ps', '-q');
    assert.equal(readdirSync(dir).length, 1, 'ps -q is the ps command');
    tsnet(root, 'inspect', '--help');
    assert.equal(readdirSync(dir).filter((f) => f.startsWith('cli-inspect-')).length, 1);

    // writable by others: not used, replaced by a private one
    chmodSync(file, 0o666);
    assert.equal(tsnet(root, 'ps', '-a'), out);
    assert.notEqual(statSync(file).ino, first.ino);
    assert.equal(statSync(file).mode & 0o777, 0o600);

    // garbage V8 rejects: the command works, the cache is written again
    writeFileSync(file, Buffer.alloc(4096, 7), { mode: 0o600 });
    assert.equal(tsnet(root, 'ps', '-a'), out);
    assert.notEqual(statSync(file).size, 4096);

    // caches of other builds go when one is written
    writeFileSync(join(dir, 'cli-ps-1-2-3-v0-x64.v8'), 'old', { mode: 0o600 });
    rmSync(file);
    tsnet(root, 'ps', '-a');
    assert.ok(!existsSync(join(dir, 'cli-ps-1-2-3-v0-x64.v8')), 'stale cache removed');

    // Node started with other flags: a cache of its own, and neither replaces the other
    tsnetWith(['--min-semi-space-size=16'], root, 'ps', '-a');
    const both = readdirSync(dir).filter((f) => f.startsWith('cli-ps-'));
    assert.equal(both.length, 2, both.join());
    const inodes = both.map((f) => statSync(join(dir, f)).ino);
    tsnet(root, 'ps', '-a');
    tsnetWith(['--min-semi-space-size=16'], root, 'ps', '-a');
    assert.deepEqual(
      both.map((f) => statSync(join(dir, f)).ino),
      inodes,
      'both used, neither written again',
    );

    // a state root others can write: no cache at all
    const open = mkdtempSync(join(tmpdir(), 'tsnet-launch-open-'));
    t.after(() => rmSync(open, { recursive: true, force: true }));
    chmodSync(open, 0o777);
    assert.match(tsnet(open, 'ps', '-a'), /CONTAINER ID/);
    assert.ok(!existsSync(join(open, 'cache')), 'nothing cached under a root others can write');
  },
);

test(
  'the CLI bundle has no import() left: the launcher runs it through vm.Script, where V8 refuses a dynamic import',
  { skip: !existsSync(LAUNCHER) && 'launcher not built' },
  () => {
    const bundle = readFileSync(fileURLToPath(new URL('./tsnet-cli.cjs', import.meta.url)), 'utf8');
    // `tsnet network create --subnet …` imported node:net so, and failed: "A dynamic import callback was not specified"
    assert.deepEqual(bundle.match(/\bimport\(\s*["'`][^"'`]*["'`]\s*\)/g) ?? [], []);
  },
);
