// `tsnet stop` and `tsnet kill`: signals to the container's pid 1 (the init helper forwards them to the
// command), then waiting for the supervisor and its exit hook. Also the signal helpers rm uses.
import { constants as osConstants } from 'node:os';
import { TsnetError } from '../../common/errors.js';
import { sameProcessAlive } from '../runtime/proc.js';
import { sleep } from '../util/files.js';
import { cleanupAfterExit } from './cleanup.js';
import type { Container } from './model.js';
import { getContainer, loadContainer, readExit } from './store.js';

/** Polls `cond` every 20 ms for up to `ms`; true once it holds. */
export async function waitFor(cond: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (cond()) return true;
    await sleep(20);
  }
  return cond();
}

export function signalPid(pid: number | undefined, sig: NodeJS.Signals): void {
  if (!pid) return;
  try {
    process.kill(pid, sig);
  } catch {
    /* already gone */
  }
}

/** 'TERM', 'SIGTERM', '15' → 'SIGTERM'. */
export function signalName(sig: string): NodeJS.Signals {
  const table = osConstants.signals as unknown as Record<string, number>;
  const s = sig.toUpperCase();
  const name = /^\d+$/.test(s) ? Object.keys(table).find((k) => table[k] === Number(s)) : s.startsWith('SIG') ? s : `SIG${s}`;
  if (!name || !(name in table)) throw new TsnetError(`signal '${sig}'`, 'unknown', 'use a name like TERM, KILL, HUP or a number');
  return name as NodeJS.Signals;
}

/** Waits for the supervisor (and thus the exit hook) to finish; runs the cleanup itself if the supervisor is gone. */
async function settle(c: Container): Promise<void> {
  const sup = () => !sameProcessAlive(c.state.supervisorPid, c.state.supervisorStart);
  await waitFor(sup, 15000);
  const now = loadContainer(c.config.id);
  if (now && !now.state.cleanedUp) await cleanupAfterExit(c.config.id);
}

export async function stopContainer(ref: string, timeoutSec = 10): Promise<Container> {
  const c = getContainer(ref);
  if (c.state.status === 'running') {
    signalPid(c.state.pid, 'SIGTERM');
    const exitedInTime = await waitFor(
      () => !!readExit(c.config.id) || !sameProcessAlive(c.state.pid, c.state.pidStart),
      timeoutSec * 1000,
    );
    if (!exitedInTime) {
      signalPid(c.state.pid, 'SIGKILL');
      await waitFor(() => !sameProcessAlive(c.state.pid, c.state.pidStart), 5000);
    }
  }
  await settle(c);
  return loadContainer(c.config.id) ?? c;
}

export async function killContainer(ref: string, sig: NodeJS.Signals = 'SIGKILL'): Promise<Container> {
  const c = getContainer(ref);
  if (c.state.status !== 'running')
    throw new TsnetError(`container ${c.config.name}`, 'is not running', `see its state with 'tsnet ps -a'`);
  signalPid(c.state.pid, sig);
  if (sig === 'SIGKILL') {
    await waitFor(() => !sameProcessAlive(c.state.pid, c.state.pidStart), 5000);
    await settle(c);
  }
  return c;
}
