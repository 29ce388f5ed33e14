// Durable file primitives: atomic replace (temp + fsync + rename + fsync of the directory) and appends
// that reach the disk before we report success.
import { closeSync, fsync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, writeSync, constants } from 'node:fs';
import { dirname } from 'node:path';
import { promisify } from 'node:util';

const fsyncAsync = promisify(fsync);

export function fsyncDir(dir: string): void {
  const fd = openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** mkdir -p, then fsync the parent so a new directory survives a crash. */
export function ensureDir(dir: string): void {
  const made = mkdirSync(dir, { recursive: true, mode: 0o755 });
  if (made !== undefined) fsyncDir(dirname(dir));
}

export function writeAll(fd: number, data: Buffer): void {
  let off = 0;
  while (off < data.length) off += writeSync(fd, data, off, data.length - off);
}

/**
 * Replace `path` atomically: readers see the old or the new content, never a mix, even after SIGKILL or power
 * loss. The waits for the disk (the file, then its directory) run on a libuv worker: a long-lived process
 * (tsnetd) goes on serving other requests meanwhile.
 */
export async function writeFileAtomic(path: string, data: string | Buffer): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'w', 0o644);
  try {
    try {
      writeAll(fd, typeof data === 'string' ? Buffer.from(data) : data);
      await fsyncAsync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true }); // never leave a half-written temp file behind
    throw e;
  }
  const dfd = openSync(dirname(path), constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    await fsyncAsync(dfd);
  } finally {
    closeSync(dfd);
  }
}
