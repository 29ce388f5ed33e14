// A foreground container's output: the CLI pipes the init helper's stdout/stderr into the container's log and
// onto its own. (A detached container's output goes straight to the log.)
import type { Readable } from 'node:stream';
import { writeFileSync } from 'node:fs';

/** Where a foreground container's output goes besides its log. */
export interface ForegroundIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

/** How the init helper's own lines start. */
export const HELPER_PREFIX = 'tsnet-init:';

/**
 * Tees the helper's stdout and stderr into `logFd` and onto `io`. The init helper's own lines on stderr
 * (`tsnet-init: …`, its setup failures) are kept back, not passed through: the returned function gives them,
 * for the one-line error of a start that failed.
 */
export function teeOutput(stdout: Readable, stderr: Readable, logFd: number, io: ForegroundIo): () => string {
  let setupErr = '';
  stdout.on('data', (d: Buffer) => {
    writeFileSync(logFd, d);
    io.stdout.write(d);
  });
  stderr.on('data', (d: Buffer) => {
    writeFileSync(logFd, d);
    const s = d.toString();
    if (s.includes(HELPER_PREFIX)) {
      const lines = s.split('\n');
      setupErr += lines.filter((l) => l.startsWith(HELPER_PREFIX)).join('\n') + '\n';
      const rest = lines.filter((l) => !l.startsWith(HELPER_PREFIX)).join('\n');
      if (rest.trim()) io.stderr.write(rest);
    } else io.stderr.write(d);
  });
  return () => setupErr;
}
