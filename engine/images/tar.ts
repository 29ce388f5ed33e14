// Extracts tar archives with the system `tar` (GNU tar), feeding it through a byte counter so long imports
// can show progress on a terminal. Compression is detected from the magic bytes.
import { createReadStream, openSync, readSync, closeSync, statSync } from 'node:fs';
import { Transform } from 'node:stream';
import { childProcess } from '../../common/builtins.js';
import { TsnetError } from '../../common/errors.js';

function compressionFlag(file: string): string[] {
  const fd = openSync(file, 'r');
  const b = Buffer.alloc(6);
  try {
    readSync(fd, b, 0, 6, 0);
  } finally {
    closeSync(fd);
  }
  if (b[0] === 0x1f && b[1] === 0x8b) return ['-z'];
  if (b[0] === 0x28 && b[1] === 0xb5 && b[2] === 0x2f && b[3] === 0xfd) return ['--zstd'];
  if (b[0] === 0xfd && b.subarray(1, 6).toString('latin1') === '7zXZ\0') return ['-J'];
  if (b.subarray(0, 3).toString('latin1') === 'BZh') return ['-j'];
  return [];
}

export interface ExtractOptions {
  /** Shown in the progress line, e.g. "importing alpine". */
  label?: string;
  /** Extra tar arguments (e.g. member names). */
  extra?: string[];
}

function human(n: number): string {
  return n >= 1 << 20 ? `${(n / (1 << 20)).toFixed(1)} MB` : `${(n / 1024).toFixed(0)} kB`;
}

/** Extracts `file` into `dir` (which must exist), preserving owners, modes and xattrs. */
export async function extractTar(file: string, dir: string, opts: ExtractOptions = {}): Promise<void> {
  let total: number;
  try {
    total = statSync(file).size;
  } catch (e) {
    throw new TsnetError(`archive '${file}'`, `cannot read (${(e as NodeJS.ErrnoException).code})`, 'check the path');
  }
  const args = [
    '-x',
    ...compressionFlag(file),
    '-f',
    '-',
    '-C',
    dir,
    '--numeric-owner',
    '-p',
    '--xattrs',
    '--xattrs-include=*',
    ...(opts.extra ?? []),
  ];
  const child = childProcess().spawn('tar', args, { stdio: ['pipe', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const showProgress = !!process.stderr.isTTY && total > 8 << 20 && !!opts.label;
  let done = 0;
  let last = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      done += chunk.length;
      const now = Date.now();
      if (showProgress && now - last > 100) {
        last = now;
        process.stderr.write(`\r${opts.label}: ${human(done)} / ${human(total)} (${Math.floor((done * 100) / total)}%)   `);
      }
      cb(null, chunk);
    },
  });
  const exit = new Promise<number>((res, rej) => {
    child.on('error', (e) =>
      rej(new TsnetError('tar', `cannot run (${(e as NodeJS.ErrnoException).code})`, 'install GNU tar: apt-get install tar')),
    );
    child.on('close', (code) => res(code ?? 1));
  });
  createReadStream(file).pipe(counter).pipe(child.stdin);
  child.stdin.on('error', () => {
    /* tar exited early; its status says why */
  });
  const code = await exit;
  if (showProgress) process.stderr.write(`\r${opts.label}: ${human(total)} done${' '.repeat(20)}\n`);
  if (code !== 0) {
    throw new TsnetError(
      `archive '${file}'`,
      `tar failed: ${stderr.trim().split('\n').slice(-2).join('; ') || `exit ${code}`}`,
      'is it a tar archive (docker export / docker save)?',
    );
  }
}
