// Small filesystem helpers: atomic writes (temp + fsync + rename) so a crash never leaves half a file.
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';

/**
 * Replaces `path` with a new file (0600: state is root's alone) holding `data`: a crashed process never leaves
 * half a file. With `sync` (the default) the data is on disk before the rename, so a power loss does not either;
 * without it (files that describe only what a power loss ends anyway, such as a container's state.json) the
 * file may then be the older one, or unreadable, and its reader must cope.
 */
export function writeFileAtomic(path: string, data: string, opts: { sync?: boolean } = {}): void {
  const tmp = `${path}.${process.pid}.tmp`;
  const fd = openSync(tmp, 'w', 0o600);
  try {
    writeSync(fd, data);
    if (opts.sync !== false) fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}

export function writeJsonAtomic(path: string, value: unknown, opts: { sync?: boolean } = {}): void {
  writeFileAtomic(path, `${JSON.stringify(value, null, 2)}\n`, opts);
}

/** Parsed JSON, or undefined when the file does not exist. */
export function readJsonIfExists<T>(path: string): T | undefined {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as T;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

export function readTextIfExists(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
