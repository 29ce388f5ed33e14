// The init helper's go=1 handshake (native/init/tsnet-init.c), driven directly: the helper is started before
// the container's network is ready and waits for the engine's word on the notify socket. "no" (the engine's ADD
// failed and it undoes the rest itself): the helper exits 125, with no exit file and no exit hook. End of file
// (the engine died): a setup failure like any other — exit file, then the hook — even when the engine's end of
// the helper's stderr is gone too (a write there must not kill the supervisor before its hook). Asserted from
// the files the helper and its hook leave, never from timing.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Socket } from 'node:net';
import { test, type TestContext } from 'node:test';
import { initBinary } from '../engine/runtime/init-binary.js';
import { encodeInitConfig } from '../engine/runtime/init-config.js';
import { needsRoot, world } from './harness.js';

/** A helper for a `true` container in the host's namespaces, waiting for the word (fd 3: the notify socket). */
function helper(t: TestContext): { dir: string; child: ReturnType<typeof spawn>; notify: Socket; ended: Promise<number | null> } {
  const w = world(t);
  const dir = w.tmpdir();
  for (const d of ['lower', 'upper', 'work', 'rootfs']) mkdirSync(join(dir, d));
  const conf = join(dir, 'init.conf');
  writeFileSync(
    conf,
    encodeInitConfig({
      rootfs: join(dir, 'rootfs'),
      lower: [join(dir, 'lower')],
      upper: join(dir, 'upper'),
      work: join(dir, 'work'),
      notify: 3,
      go: 1,
      exitfile: join(dir, 'exit'),
      arg: ['true'],
      onexit: ['/bin/sh', '-c', `echo hooked > ${join(dir, 'hook')}`],
    }),
  );
  const child = spawn(initBinary(), ['run', conf], { stdio: ['ignore', 'ignore', 'pipe', 'pipe'] });
  const ended = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  w.defer(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await ended;
    }
  });
  return { dir, child, notify: child.stdio[3] as Socket, ended };
}

test('go=1, told "no": the helper exits 125 with no exit file and no exit hook', { skip: needsRoot }, async (t) => {
  const { dir, notify, ended } = helper(t);
  notify.end('no\n');
  assert.equal(await ended, 125);
  assert.ok(!existsSync(join(dir, 'exit')), 'no exit file');
  assert.ok(!existsSync(join(dir, 'hook')), 'no exit hook');
});

test('go=1, the engine gone before its word (stderr too): exit file 125, then the exit hook', { skip: needsRoot }, async (t) => {
  const { dir, child, notify, ended } = helper(t);
  child.stderr!.destroy(); // the helper's stderr now has no reader: its setup error meets EPIPE
  notify.destroy(); // end of file, no word
  assert.equal(await ended, 0, "the exit hook (exec'd by the supervisor) ended well");
  assert.equal(readFileSync(join(dir, 'exit'), 'utf8').trim(), '125');
  assert.equal(readFileSync(join(dir, 'hook'), 'utf8'), 'hooked\n');
});
