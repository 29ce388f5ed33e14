// Test fixtures for the real kernel. Every namespace and host link a test makes gets a unique name and is
// removed when the test ends, whether it passed or failed. Observation goes through iproute2 (`ip -j`), so
// tests never grade tsnet's netlink code with tsnet's netlink code.
import { execFileSync, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';

export const isRoot = process.getuid?.() === 0;
/** Pass as `{ skip }` to tests that need root. */
export const needsRoot = isRoot ? false : 'needs root (network namespaces)';

/** A short unique token: interface names are limited to 15 bytes. */
export function uid(len = 6): string {
  return randomBytes(8).toString('hex').slice(0, len);
}

/** Runs a command, returns stdout; throws with stderr on failure. */
export function sh(cmd: string, ...args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr || r.stdout}`);
  return r.stdout;
}

/** Runs `ip [-n ns] -j ARGS` and parses the JSON. */
export function ipj<T = any>(ns: string | null, ...args: string[]): T {
  const out = execFileSync('ip', [...(ns ? ['-n', ns] : []), '-j', ...args], { encoding: 'utf8' });
  return (out.trim() ? JSON.parse(out) : []) as T;
}

/** Runs `ip [-n ns] ARGS`. */
export function ip(ns: string | null, ...args: string[]): string {
  return sh('ip', ...(ns ? ['-n', ns] : []), ...args);
}

/** Runs a command inside a named netns. */
export function inNs(ns: string, cmd: string, ...args: string[]): string {
  return sh('ip', 'netns', 'exec', ns, cmd, ...args);
}

/** True when `ping -c1 -W1` from ns reaches addr. Traffic stays inside test namespaces. */
export function pings(ns: string, addr: string, count = 1): boolean {
  const r = spawnSync('ip', ['netns', 'exec', ns, 'ping', '-c', String(count), '-W', '1', '-i', '0.2', addr], { encoding: 'utf8' });
  return r.status === 0;
}

/** Kills `p` (SIGKILL) at the end of the test, if it still runs, and waits until it has gone. */
export function killAtEnd(w: World, p: ChildProcess): void {
  w.defer(async () => {
    if (p.exitCode !== null || p.signalCode !== null) return;
    const gone = new Promise((r) => p.once('exit', r));
    p.kill('SIGKILL');
    await gone;
  });
}

/** Polls `ok` every 100 ms until it holds; throws naming `what` after `ms`. */
export async function until(what: string, ok: () => boolean, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`gave up waiting for ${what}`);
    await sleep(100);
  }
}

export interface World {
  /** Creates a uniquely named netns (`tsn-<test>-<uid>`), removed at the end of the test. */
  netns(label?: string): string;
  /** A unique interface name (<=15 bytes) for a host link; removed at the end of the test if still present. */
  linkName(prefix?: string): string;
  /** A temp dir removed at the end of the test. */
  tmpdir(): string;
  /** Registers extra cleanup, run in reverse order. */
  defer(fn: () => void | Promise<void>): void;
  /** The unique token of this world. */
  id: string;
}

/**
 * Builds a fresh world for one test: `const w = world(t)`. Cleanup runs after the test via t.after,
 * even when the test throws.
 */
export function world(t: TestContext): World {
  const id = uid(5);
  const cleanups: (() => void | Promise<void>)[] = [];
  let n = 0;
  const w: World = {
    id,
    netns(label = 'ns') {
      const name = `tsn-${label.slice(0, 8)}-${id}-${n++}`;
      sh('ip', 'netns', 'add', name);
      cleanups.push(() => {
        spawnSync('ip', ['netns', 'del', name]);
      });
      return name;
    },
    linkName(prefix = 'ts') {
      const name = `${prefix.slice(0, 4)}${id}${(n++).toString(36)}`.slice(0, 15);
      cleanups.push(() => {
        spawnSync('ip', ['link', 'del', name]);
      });
      return name;
    },
    tmpdir() {
      const d = mkdtempSync(join(tmpdir(), `tsnet-${id}-`));
      cleanups.push(() => rmSync(d, { recursive: true, force: true }));
      return d;
    },
    defer(fn) {
      cleanups.push(fn);
    },
  };
  t.after(async () => {
    for (const fn of cleanups.reverse()) {
      try {
        await fn();
      } catch {
        /* cleanup is best effort; the next step still runs */
      }
    }
  });
  return w;
}
