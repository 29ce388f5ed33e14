// tsnet-linger's hold: a descriptor handed over stays open after the handing process closed its copy, and is
// released once that process has exited — by the helper, whose end the handing process does not wait for.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { closeSync, readSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { native } from './addon.js';

/** True when `fd` (a pipe's read end) has reached its end within `ms`; false while a writer still holds it. */
async function endsWithin(fd: number, ms: number): Promise<boolean> {
  try {
    await native().pollReadable([fd], ms);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ETIMEDOUT') return false;
    throw e;
  }
  return readSync(fd, Buffer.alloc(1), 0, 1, null) === 0;
}

test('holdUntilExit: the fd outlives its close here, and is released once this process has exited', async () => {
  const lingerJs = fileURLToPath(new URL('./linger.js', import.meta.url));
  // the child hands over fd 3 (the write end of our pipe), says so, and exits when its stdin ends
  const script = `import(${JSON.stringify(lingerJs)}).then(async ({ holdUntilExit }) => {
    await holdUntilExit(3);
    process.stdout.write('handed\\n');
    process.stdin.resume();
    process.stdin.on('end', () => process.exit(0));
  });`;
  const [r, w] = native().pipe();
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['pipe', 'pipe', 'inherit', w] });
  closeSync(w);
  try {
    const said = await new Promise<string>((resolve) => child.stdout!.once('data', (d: Buffer) => resolve(d.toString())));
    assert.equal(said, 'handed\n');
    assert.equal(await endsWithin(r, 300), false, 'still held after the child closed its copy');
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.stdin!.end();
    await exited;
    assert.equal(await endsWithin(r, 10_000), true, 'released once the child has exited');
  } finally {
    child.kill('SIGKILL');
    closeSync(r);
  }
});
