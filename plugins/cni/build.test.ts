// The bundler: entries are discovered, bundles are single executable files that answer VERSION, and a bundle
// in dist/<dir>/ finds the native addon through native/addon.ts's own candidates (no TSNET_NATIVE).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { uid } from '../../netns-tests/harness.js';
import { buildModule, repoRoot } from './testdata/bundle.js';
import { SUPPORTED_VERSIONS } from './types.js';

test('discoverEntries finds every plugins/<type>/main.ts but not plugins/cni', async () => {
  const b = await buildModule();
  const entries = b.discoverEntries();
  for (const e of entries) {
    assert.ok(e.entry.endsWith(join('plugins', e.type, 'main.ts')));
    assert.notEqual(e.type, 'cni');
  }
});

for (const format of ['cjs', 'esm'] as const) {
  test(`a ${format} bundle in dist/ is an executable that answers VERSION and loads the addon lazily`, async (t) => {
    const b = await buildModule();
    const dir = join(repoRoot(), 'dist', `cni-buildtest-${uid()}`);
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const out = join(dir, 'probe');
    await b.bundlePlugin({ entry: join(repoRoot(), 'plugins', 'cni', 'testdata', 'probe-main.ts'), outfile: out, format });
    assert.equal(statSync(out).mode & 0o777, 0o755);
    assert.ok(readFileSync(out, 'utf8').startsWith(`${b.SHEBANG}\n`), 'starts with the interpreter line');
    assert.match(b.SHEBANG, /^#!\/usr\/bin\/env -S -u NODE_EXTRA_CA_CERTS node$/);
    const env = { PATH: process.env.PATH };
    const v = spawnSync(out, [], { env: { ...env, CNI_COMMAND: 'VERSION' }, encoding: 'utf8', input: '{"cniVersion":"1.0.0"}' });
    assert.equal(v.status, 0, v.stderr);
    assert.deepEqual(JSON.parse(v.stdout), { cniVersion: '1.0.0', supportedVersions: [...SUPPORTED_VERSIONS] });
    // /proc/self/ns/mnt passes the stat checks; only the addon's nsType can tell it is not a network namespace.
    const a = spawnSync(out, [], {
      env: { ...env, CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'c', CNI_NETNS: '/proc/self/ns/mnt', CNI_IFNAME: 'eth0', CNI_PATH: '/x' },
      encoding: 'utf8',
      input: '{"cniVersion":"1.0.0","name":"n","type":"probe"}',
    });
    assert.notEqual(a.status, 0);
    assert.match(JSON.parse(a.stdout).msg, /is a namespace but not a network namespace/, a.stdout);
  });
}
