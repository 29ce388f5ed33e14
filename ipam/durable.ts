// Durable file primitives: atomic replace (temp + fsync + rename + fsync of the directory), appends that reach
// the disk before we report success, and space kept aside so that releases can be written on a full disk.
// State is root's alone: files are made 0600 and directories 0700 (a umask can only take bits away), and a
// looser mode left by an older tsnet is tightened when the state is next written.
import {
  chmodSync,
  closeSync,
  fchmodSync,
  fdatasyncSync,
  fstatSync,
  fsync,
  fsyncSync,
  mkdirSync,
  openSync,
  renameSync,
  rmSync,
  statSync,
  writeSync,
  constants,
} from 'node:fs';
import { randomBytes } from '../common/random.js';
import { dirname } from 'node:path';
import { promisify } from 'node:util';

const fsyncAsync = promisify(fsync);

/** Modes of state files and directories: root's alone. */
export const FILE_MODE = 0o600;
export const DIR_MODE = 0o700;

export function fsyncDir(dir: string): void {
  const fd = openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** mkdir -p (new directories 0700), then fsync the parent so a new directory survives a crash. An existing one is tightened. */
export function ensureDir(dir: string): void {
  const made = mkdirSync(dir, { recursive: true, mode: DIR_MODE });
  if (made !== undefined) fsyncDir(dirname(dir));
  else tightenPath(dir, DIR_MODE);
}

/** Takes group and other bits off `path` (a file or directory left looser by an older tsnet). */
export function tightenPath(path: string, mode: number): void {
  if ((statSync(path).mode & 0o077) !== 0) ownersOnly(() => chmodSync(path, mode));
}

/** The same for an open file. */
export function tightenFd(fd: number, mode = FILE_MODE): void {
  if ((fstatSync(fd).mode & 0o077) !== 0) ownersOnly(() => fchmodSync(fd, mode));
}

/** A chmod only the owner (or root) may make: someone else's file keeps its mode, and the write goes on. */
function ownersOnly(chmod: () => void): void {
  try {
    chmod();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EPERM') throw e;
  }
}

export function writeAll(fd: number, data: Buffer): void {
  let off = 0;
  while (off < data.length) off += writeSync(fd, data, off, data.length - off);
}

/**
 * Replace `path` atomically: readers see the old or the new content, never a mix, even after SIGKILL or power
 * loss. The waits for the disk (the file, then its directory) run on a libuv worker: a long-lived process
 * (tsnetd) goes on serving other requests meanwhile. The new file is 0600.
 */
export async function writeFileAtomic(path: string, data: string | Buffer): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'w', FILE_MODE);
  try {
    try {
      tightenFd(fd); // a temp file left by a killed process keeps its old mode
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

/**
 * Space kept aside: makes `path` a file of `bytes` written bytes (blocks the filesystem has handed out, not a
 * sparse hole; random, so that a compressing filesystem stores them too), so that deleting it later frees that
 * much for writes that must not fail on a full disk. Throws (ENOSPC) when the disk cannot hold it; what was
 * written stays, and the next call completes it. Costs one stat when the space is kept already.
 */
export function ensureReserve(path: string, bytes: number): void {
  try {
    if (statSync(path).size >= bytes) return;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  const fd = openSync(path, constants.O_WRONLY | constants.O_CREAT, FILE_MODE);
  try {
    const piece = randomBytes(Math.min(bytes, 64 * 1024));
    for (let off = 0; off < bytes; off += piece.length) {
      const n = Math.min(piece.length, bytes - off);
      let done = 0;
      while (done < n) done += writeSync(fd, piece, done, n - done, off + done);
    }
    fdatasyncSync(fd); // the blocks are the disk's now (a delayed allocation is not yet)
  } finally {
    closeSync(fd);
  }
}

/** Gives the space kept at `path` back to the filesystem; false when there was none. */
export function releaseReserve(path: string): boolean {
  try {
    rmSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw e;
  }
  // Some filesystems (ext4) reuse freed blocks only once the deletion is committed: commit it now.
  fsyncDir(dirname(path));
  return true;
}
