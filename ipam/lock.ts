// An exclusive lock on a file that dies with its holder: flock(2) through the native addon. Polled with a
// short backoff (flock is taken non-blocking so the event loop never blocks); after the bounded wait a
// LockTimeoutError, marked transient, tells the CNI layer to answer code 11 "try again later".
import { CniCode, TsnetError } from '../common/errors.js';
import { closeSync, openSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { LOCK_EX, LOCK_NB, native } from '../native/addon.js';

export const DEFAULT_LOCK_TIMEOUT_MS = 15_000;

export class LockTimeoutError extends TsnetError {
  readonly transient = true;
  constructor(
    readonly path: string,
    readonly waitedMs: number,
  ) {
    super(
      '',
      `timed out after ${waitedMs} ms waiting for the lock ${path}: another tsnet process holds it. ` +
        `Try again later; if it persists, find the holder with 'fuser ${path}'.`,
      undefined,
      { cniCode: CniCode.TryAgainLater },
    );
    this.name = 'LockTimeoutError';
  }
}

export function isTransient(e: unknown): boolean {
  return e instanceof Error && (e as { transient?: unknown }).transient === true;
}

/** Lock timeout: explicit, else $TSNET_LOCK_TIMEOUT_MS, else 15 s. */
export function lockTimeout(explicit?: number): number {
  if (explicit !== undefined) return explicit;
  const env = Number(process.env.TSNET_LOCK_TIMEOUT_MS);
  return Number.isFinite(env) && env > 0 ? env : DEFAULT_LOCK_TIMEOUT_MS;
}

/**
 * Run `fn` holding an exclusive flock on `path` (created if missing). `makeDir`, when given, is called once
 * if the lock's directory does not exist, and the open retried (cheaper than making sure of it every time).
 */
export async function withLock<T>(path: string, fn: () => T | Promise<T>, timeoutMs?: number, makeDir?: () => void): Promise<T> {
  const limit = lockTimeout(timeoutMs);
  let fd: number;
  try {
    fd = openSync(path, 'a', 0o600);
  } catch (e) {
    if (!makeDir || (e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    makeDir();
    fd = openSync(path, 'a', 0o600);
  }
  try {
    const addon = native();
    const t0 = Date.now();
    let backoff = 1;
    while (!addon.flock(fd, LOCK_EX | LOCK_NB)) {
      const waited = Date.now() - t0;
      if (waited >= limit) throw new LockTimeoutError(path, waited);
      await sleep(Math.min(backoff, limit - waited) * (0.5 + Math.random()));
      backoff = Math.min(backoff * 2, 25);
    }
    return await fn();
  } finally {
    closeSync(fd); // closing the only fd releases the flock
  }
}
