// Kernel work whose tail would hold up a one-shot process's exit, handed to tsnet-linger (linger/tsnet-linger.c),
// a process of its own that nobody waits for: a descriptor's last reference (holdUntilExit), a netlink request the
// kernel works on long inside sendmsg (sendFromOwnProcess). Without the helper (not built), the caller does the
// work itself.
import { closeSync, writeSync } from 'node:fs';
import { native } from './addon.js';
import { findNativeArtifact } from './artifacts.js';
import { spawnInSession } from './spawn.js';

let binary: string | null | undefined;
function lingerBinary(): string | null {
  return (binary ??= findNativeArtifact('tsnet-linger', 'TSNET_LINGER').path ?? null);
}

/**
 * Spawns `tsnet-linger MODE` with the fds given (reaped when it ends, if this process is still there); closes
 * `ours` (this process's copies) whatever happens.
 */
async function linger(mode: 'hold' | 'send', fds: (number | 'null')[], ours: number[]): Promise<boolean> {
  try {
    const path = lingerBinary();
    if (!path) return false;
    (await spawnInSession(path, [mode], {}, fds)).letGo();
    return true;
  } catch {
    return false;
  } finally {
    for (const fd of ours) closeSync(fd);
  }
}

/**
 * Gives `fd` (closed here in any case) to a tsnet-linger that keeps it until this process has exited: its stdin
 * is a pipe whose write end this process keeps (close-on-exec) and never closes. Resolves once the helper has it,
 * or once `fd` is closed here (no helper: the release is then paid here).
 */
export async function holdUntilExit(fd: number): Promise<void> {
  const [r, w] = native().pipe();
  if (!(await linger('hold', [r, 'null', 'null', fd], [r, fd]))) closeSync(w);
}

/**
 * Sends `message` on the netlink socket `fd` from a tsnet-linger (with a duplicate of the socket): resolves with
 * the read end of a pipe that gets a 64-bit 1 once it was sent (1 + errno if not) — what the addon's
 * netlinkSendDetached gives on its eventfd —, or null when no helper could be started. The kernel's answer comes
 * on the socket. The caller owns the fd it gets.
 */
export async function sendFromOwnProcess(fd: number, message: Buffer): Promise<number | null> {
  const n = native();
  const [inR, inW] = n.pipe();
  try {
    writeSync(inW, message); // a request is far smaller than a pipe's buffer
  } finally {
    closeSync(inW);
  }
  const [sentR, sentW] = n.pipe();
  if (await linger('send', [inR, 'null', 'null', fd, sentW], [inR, sentW])) return sentR;
  closeSync(sentR);
  return null;
}
