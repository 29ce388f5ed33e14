// A foreground container's output: the CLI pipes the init helper's stdout/stderr into the container's log and
// onto its own. (A detached container's output goes straight to the log.)
import type { Readable } from 'node:stream';
import { readSync, writeFileSync } from 'node:fs';

/** Where a foreground container's output goes besides its log. */
export interface ForegroundIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

/** How the init helper's own lines start. */
export const HELPER_PREFIX = 'tsnet-init:';

/** A tee of the helper's output. */
export interface Tee {
  /** The init helper's own lines, for the one-line error of a start that failed. */
  setupErr(): string;
  /**
   * Passes on, now, whatever the pipes still hold (read until they are empty, not until end of file): once the
   * container's processes are gone, all they wrote is there, while the supervisor still holds the pipes.
   */
  drainNow(): void;
  /**
   * Passes on what the pipes hold now (as drainNow) and closes the log: later output (an exit hook's) goes to
   * `io` only. For a log about to be removed (--rm): removed while this process still held it, the file would
   * be freed — its blocks discarded, on this disk synchronously — only at this process's exit.
   */
  closeLog(): void;
}

/** Reads a non-blocking fd until it is empty (or at its end). */
function readAvailable(fd: number, each: (d: Buffer) => void): void {
  const buf = Buffer.allocUnsafe(65536);
  for (;;) {
    let n: number;
    try {
      n = readSync(fd, buf, 0, buf.length, null);
    } catch {
      return; // EAGAIN: empty (or the fd is gone)
    }
    if (n <= 0) return;
    each(Buffer.from(buf.subarray(0, n)));
  }
}

/**
 * Tees the helper's stdout and stderr (non-blocking pipes: `fds.stdout`, `fds.stderr`, read as `stdout`, `stderr`)
 * into the log (`log.fd`, closed with `log.close`) and onto `io`. The init helper's own lines on stderr
 * (`tsnet-init: …`, its setup failures) are kept back, not passed through.
 */
export function teeOutput(
  stdout: Readable,
  stderr: Readable,
  fds: { stdout: number; stderr: number },
  log: { fd: number; close: () => void },
  io: ForegroundIo,
): Tee {
  let setupErr = '';
  let logOpen = true;
  const toLog = (d: Buffer) => {
    if (logOpen) writeFileSync(log.fd, d);
  };
  const out = (d: Buffer) => {
    toLog(d);
    io.stdout.write(d);
  };
  const err = (d: Buffer) => {
    toLog(d);
    const s = d.toString();
    if (s.includes(HELPER_PREFIX)) {
      const lines = s.split('\n');
      setupErr += lines.filter((l) => l.startsWith(HELPER_PREFIX)).join('\n') + '\n';
      const rest = lines.filter((l) => !l.startsWith(HELPER_PREFIX)).join('\n');
      if (rest.trim()) io.stderr.write(rest);
    } else io.stderr.write(d);
  };
  stdout.on('data', out);
  stderr.on('data', err);
  const passOnAvailable = () => {
    readAvailable(fds.stdout, out);
    readAvailable(fds.stderr, err);
  };
  return {
    setupErr: () => setupErr,
    drainNow() {
      passOnAvailable();
      stdout.destroy();
      stderr.destroy();
    },
    closeLog() {
      passOnAvailable();
      logOpen = false;
      log.close();
    },
  };
}
