// spawnInSession (the init helper's spawn, without node:child_process): the child gets exactly the fds asked
// for, a session of its own, every standard signal at its default (Node ignores SIGPIPE: a child must not inherit it)
// and none blocked; its end is reaped with its code or 128 + the signal; and a process that spawned one can exit
// while it runs (nothing waits for it). What is asserted comes from the child's /proc entries.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test, type TestContext } from 'node:test';
import { native } from './addon.js';
import { spawnInSession } from './spawn.js';

/** Runs `sh -c script` with fds [/dev/null, pipe, pipe, ...extra]; returns its output and exit code. */
async function sh(script: string, extra: number[] = []): Promise<{ out: string; code: number }> {
  const [r, w] = native().pipe();
  const spawning = spawnInSession('/bin/sh', ['-c', script], { PATH: '/usr/bin:/bin' }, ['null', w, w, ...extra]);
  closeSync(w); // at once: the child's copy was taken before spawnInSession returned
  const child = await spawning;
  const code = await child.exited();
  const out = readFileSync(r, 'utf8'); // the child is gone: everything it wrote is there, then end of file
  closeSync(r);
  return { out, code };
}

test('the child gets the fds asked for, a session of its own, default signals, none blocked', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tsnet-spawn-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const held = openSync(join(dir, 'held'), 'w');
  t.after(() => closeSync(held));
  assert.notEqual(
    (readFileSync('/proc/self/status', 'utf8').match(/^SigIgn:\s*(\S+)/m)?.[1] ?? '0').replace(/0/g, ''),
    '',
    'Node ignores some',
  );
  const { out, code } = await sh(
    'echo "pid $$"; echo "sid $(cut -d" " -f6 /proc/$$/stat)"; for fd in 0 3; do echo "fd$fd $(readlink /proc/$$/fd/$fd)"; done; ' +
      // the signals of the process itself (sh, exec'd into grep: what it was given), after the list of its fds
      'ls /proc/$$/fd; echo end; exec grep -E "^Sig(Ign|Blk)" /proc/self/status',
    [held],
  );
  assert.equal(code, 0, out);
  const pid = /^pid (\d+)$/m.exec(out)?.[1];
  assert.equal(/^sid (\d+)$/m.exec(out)?.[1], pid, `a session of its own: ${out}`);
  // none of the standard signals ignored (posix_spawn leaves the C library's internal 32 and 33 ignored: the
  // init helper sets those to default itself, as engine-run-path.test.ts checks in a container)
  const ign = BigInt(`0x${/^SigIgn:\s*(\S+)$/m.exec(out)?.[1]}`);
  assert.equal(ign & 0x7fffffffn, 0n, `no standard signal ignored: ${out}`);
  assert.match(out, /^SigBlk:\s*0+$/m, 'no signal blocked');
  assert.match(out, /^fd0 \/dev\/null$/m);
  assert.equal(/^fd3 (.*)$/m.exec(out)?.[1], readlinkSync(`/proc/self/fd/${held}`), 'fd 3 is the file given');
  // 0, 1, 2, 3 and the fd ls reads the directory with (>= 4): nothing else of this process leaked in
  const fds = out.slice(out.lastIndexOf('fd3 '), out.indexOf('end\n')).split('\n').slice(1).filter(Boolean).map(Number);
  assert.deepEqual(
    fds.filter((f) => f < 4),
    [0, 1, 2, 3],
  );
  assert.ok(fds.filter((f) => f >= 4).length <= 1, `no fd of ours leaked: ${fds}`);
});

test("the child's end: its exit code, or 128 + the signal that ended it", async () => {
  assert.equal((await sh('exit 7')).code, 7);
  assert.equal((await sh('kill -TERM $$')).code, 128 + 15);
});

/**
 * Runs a Node process that spawns `sleep 30` and then runs `then` (with `c`, the child); returns its result and the
 * sleeping child's pid (killed after the test).
 */
function spawnerRun(t: TestContext, then: string): { r: ReturnType<typeof spawnSync>; pid: number } {
  const spawnJs = fileURLToPath(new URL('./spawn.js', import.meta.url));
  const script = `import(${JSON.stringify(spawnJs)}).then(async ({ spawnInSession }) => {
    const c = await spawnInSession('/bin/sleep', ['30'], {}, ['null', 'null', 'null']);
    process.stdout.write(String(c.pid));
    ${then}
  });`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 20_000 });
  const pid = Number(r.stdout);
  t.after(() => {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  });
  return { r, pid };
}

test('a process that spawned a child can exit while the child runs: nothing waits for it', (t) => {
  const { r, pid } = spawnerRun(t, 'void c.exited(); process.exit(0);');
  assert.equal(r.status, 0, String(r.stderr));
  assert.ok(pid > 0);
  process.kill(pid, 0); // still there: the spawner's exit did not wait for it (throws ESRCH if it did)
});

test('letGo: the child is reaped once it ends, and nothing waits for it', async (t) => {
  const c = await spawnInSession('/bin/sh', ['-c', 'exit 3'], {}, ['null', 'null', 'null']);
  c.letGo();
  // reaped: its /proc entry goes (a zombie would keep it)
  for (let i = 0; i < 250 && existsSync(`/proc/${c.pid}`); i++) await new Promise((r) => setTimeout(r, 20));
  assert.equal(existsSync(`/proc/${c.pid}`), false, 'reaped');
  // then nothing is left for the spawner to do: its event loop ends, the child still sleeping
  const { r } = spawnerRun(t, 'c.letGo();');
  assert.equal(r.status, 0, `ended on its own, without waiting for the child: ${r.signal ?? ''} ${String(r.stderr)}`);
});
