// What has to happen once a container has ended, whoever notices first (the exit hook, stop, kill, rm):
// network detach and cgroup removal, and the end recorded in state.json.
import { TsnetError } from '../../common/errors.js';
import { Netns } from '../../native/netns.js';
import { handOffNfSocket } from '../../native/nftables.js';
import { cgroupFor, oomKilled, removeCgroup } from '../runtime/cgroups.js';
import { driver, networkTarget } from './driver-instance.js';
import { loadContainer, readExit, updateState } from './store.js';

/** Runs after the container ended (from the exit hook, stop, rm): network detach, cgroup removal. Idempotent. */
export async function cleanupAfterExit(id: string, extra: { error?: string } = {}): Promise<void> {
  const c = loadContainer(id);
  if (!c) return;
  const cgroup = c.state.cgroup ?? cgroupFor(id);
  const oom = c.state.oomKilled || oomKilled(cgroup);
  const errors: string[] = [];
  try {
    await driver.detach(networkTarget(c.config), c.state.network);
  } catch (e) {
    errors.push((e as Error).message);
  }
  try {
    await removeCgroup(cgroup);
  } catch (e) {
    errors.push((e as Error).message);
  }
  const exit = readExit(id);
  updateState(id, {
    status: c.state.status === 'removing' ? 'removing' : 'exited',
    oomKilled: oom,
    exitCode: exit?.code ?? c.state.exitCode,
    finishedAt: exit?.at ?? c.state.finishedAt ?? new Date().toISOString(),
    cleanedUp: errors.length === 0,
    ...(extra.error || errors.length ? { error: [extra.error, ...errors].filter(Boolean).join('; ') } : {}),
  });
  if (errors.length) {
    throw new TsnetError(
      `container ${c.config.name}`,
      `cleanup incomplete: ${errors.join('; ')}`,
      `retry with 'tsnet rm -f ${c.config.name}'`,
    );
  }
}

/**
 * cleanupAfterExit for a process that exits right after it (a foreground `run`, the exit hook, whose end `stop`
 * waits for): the kernel's tails of the network detach — a link delete's RCU barrier, the nf_tables socket's
 * release, 10–20 ms each — are left to tsnet-linger, processes of their own (native/linger.ts), instead of being
 * waited for in this process's exit. `handedOff` settles once the socket is handed over: await it before exiting.
 */
export async function cleanupBeforeExit(id: string): Promise<{ handedOff: Promise<void> }> {
  Netns.defaults = { ...Netns.defaults, detachedSendsFrom: 'process' };
  await cleanupAfterExit(id);
  return { handedOff: handOffNfSocket() };
}
