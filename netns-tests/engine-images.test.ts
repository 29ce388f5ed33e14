// Images from tar archives: a `docker export` rootfs tar (import) and a `docker save` archive (load) whose
// second layer deletes a file and makes a directory opaque — overlayfs must show the merged result.
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { EngineFixture } from '../engine/testing/cli.js';
import { needsRoot, sh, world } from './harness.js';

test('engine images from archives', { skip: needsRoot }, async (t) => {
  const w = world(t);
  const e = new EngineFixture(w.tmpdir());
  w.defer(() => e.removeAll());
  const work = w.tmpdir();
  e.ok('image', 'from-host', 'base', '--bin', 'sh,ls,cat');
  const base = JSON.parse(e.ok('image', 'ls', '--json')).find((i: any) => i.name === 'base:latest');
  const baseLayer = join(e.root, 'layers', base.layers[0]);

  await t.test('image import: a rootfs tar runs', () => {
    const tar = join(work, 'rootfs.tar.gz');
    sh('tar', '-czf', tar, '-C', baseLayer, '.');
    e.ok('image', 'import', tar, 'imported:v1');
    assert.match(e.ok('image', 'ls'), /imported\s+v1/);
    assert.equal(e.ok('run', '--rm', '--net', 'none', 'imported:v1', 'cat', '/etc/group').split('\n')[0], 'root:x:0:');
  });

  await t.test('image load: layers stack, whiteouts and opaque dirs apply', () => {
    const save = join(work, 'save');
    const l1 = join(work, 'l1');
    const l2 = join(work, 'l2');
    mkdirSync(join(l1, 'dir'), { recursive: true });
    mkdirSync(join(l2, 'dir'), { recursive: true });
    writeFileSync(join(l1, 'a'), 'a\n');
    writeFileSync(join(l1, 'b'), 'b\n');
    writeFileSync(join(l1, 'dir', 'x'), 'x\n');
    writeFileSync(join(l2, '.wh.a'), '');
    writeFileSync(join(l2, 'dir', '.wh..wh..opq'), '');
    writeFileSync(join(l2, 'dir', 'y'), 'y\n');
    mkdirSync(join(save, 'base'), { recursive: true });
    mkdirSync(join(save, 'one'));
    mkdirSync(join(save, 'two'));
    sh('tar', '-cf', join(save, 'base', 'layer.tar'), '-C', baseLayer, '.');
    sh('tar', '-cf', join(save, 'one', 'layer.tar'), '-C', l1, '.');
    sh('tar', '-cf', join(save, 'two', 'layer.tar'), '-C', l2, '.');
    writeFileSync(
      join(save, 'cfg.json'),
      JSON.stringify({
        config: { Env: ['PATH=/usr/bin:/bin', 'FROM_IMAGE=yes'], Cmd: ['sh', '-c', 'echo $FROM_IMAGE'], WorkingDir: '/dir' },
      }),
    );
    writeFileSync(
      join(save, 'manifest.json'),
      JSON.stringify([{ Config: 'cfg.json', RepoTags: ['layered:1'], Layers: ['base/layer.tar', 'one/layer.tar', 'two/layer.tar'] }]),
    );
    const archive = join(work, 'saved.tar');
    sh('tar', '-cf', archive, '-C', save, '.');
    assert.match(e.ok('image', 'load', archive), /Loaded image: layered:1/);
    assert.equal(e.ok('run', '--rm', '--net', 'none', 'layered:1').trim(), 'yes', 'image Cmd and Env are used');
    const out = e.ok('run', '--rm', '--net', 'none', 'layered:1', 'sh', '-c', 'pwd; ls /a /b /dir 2>&1; cat /b /dir/y');
    assert.match(out, /^\/dir$/m);
    assert.match(out, /\/a'?: No such file/);
    assert.match(out, /^\/b$/m);
    assert.doesNotMatch(out, /^x$/m, 'dir is opaque in the top layer: x is hidden');
    assert.match(out, /^y$/m);
  });

  await t.test('image rm refuses while a container uses it, then removes the layers', () => {
    const id = e.ok('run', '-d', '--net', 'none', 'imported:v1', 'sh', '-c', 'exit 0').trim();
    const r = e.tsnet('image', 'rm', 'imported:v1');
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /^tsnet: image imported:v1: used by container/);
    e.ok('rm', '-f', id);
    e.ok('image', 'rm', 'imported:v1');
    assert.doesNotMatch(e.ok('image', 'ls'), /imported/);
  });

  await t.test('errors are one line naming the thing, the reason and the fix', () => {
    const r = e.tsnet('run', '--net', 'none', 'no-such-image', 'true');
    assert.equal(r.status, 125);
    assert.match(r.stderr.trim(), /^tsnet: image 'no-such-image': not found \(.+\)$/);
    const bad = e.tsnet('run', '--rm', '--net', 'none', 'base', 'no-such-command');
    assert.equal(bad.status, 127);
    assert.match(bad.stderr, /no-such-command/);
  });
});
