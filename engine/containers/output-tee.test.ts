// The tee of a foreground container's output: into its log and onto the CLI's own stdout/stderr, the init
// helper's lines kept back; closeLog passes on what the pipes hold, then writes to the log no more (an --rm
// container's log is removed next).
import assert from 'node:assert/strict';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { native } from '../../native/addon.js';
import { teeOutput } from './output-tee.js';

const sink = (into: string[]) => new Writable({ write: (d: Buffer, _e, cb) => (into.push(d.toString()), cb()) });

test('closeLog: what the pipes hold goes into the log first; later output is passed on, not logged', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tsnet-tee-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const logPath = join(dir, 'container.log');
  const logFd = openSync(logPath, 'a');
  let closes = 0;
  const out = native().pipe();
  const err = native().pipe();
  const stdout = new Socket({ fd: out[0], readable: true, writable: false });
  const stderr = new Socket({ fd: err[0], readable: true, writable: false });
  const seenOut: string[] = [];
  const seenErr: string[] = [];
  const tee = teeOutput(
    stdout,
    stderr,
    { stdout: out[0], stderr: err[0] },
    { fd: logFd, close: () => (closes++, closeSync(logFd)) },
    { stdout: sink(seenOut), stderr: sink(seenErr) },
  );
  writeSync(out[1], 'before\n');
  writeSync(err[1], 'tsnet-init: a setup line\nwarn\n');
  tee.closeLog(); // at once: read from the pipes now, not by the streams later
  assert.equal(closes, 1, 'the log closed once');
  assert.equal(readFileSync(logPath, 'utf8'), 'before\ntsnet-init: a setup line\nwarn\n');
  writeSync(out[1], 'after\n');
  tee.drainNow();
  closeSync(out[1]);
  closeSync(err[1]);
  assert.equal(seenOut.join(''), 'before\nafter\n', 'everything passed on');
  assert.equal(seenErr.join(''), 'warn\n', "the helper's line kept back");
  assert.equal(tee.setupErr(), 'tsnet-init: a setup line\n');
  assert.equal(readFileSync(logPath, 'utf8'), 'before\ntsnet-init: a setup line\nwarn\n', 'nothing logged after closeLog');
});
