// What has to happen once a container has ended, whoever notices first (the exit hook, stop, kill, rm):
// network detach and cgroup removal, and the end recorded in state.json.
import { TsnetError } from '../../common/errors.js';
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
