// What a container whose supervisor died (kill -9: no exit hook ran) still holds — veth, address, rules,
// published-port DNAT, cgroup — is reclaimed by the next command that looks at it (ps, run, rm, inspect),
// not only by `rm`. A --rm container is removed as its exit hook would have.
import { sameProcessAlive } from '../runtime/proc.js';
import { cleanupAfterExit } from './cleanup.js';
import type { Container } from './model.js';
import { removeContainer } from './rm.js';
import { listContainers } from './store.js';

/** Ended, never cleaned up, and no supervisor (or exit hook, which is the supervisor exec'd) still at it. */
export function needsReclaim(c: Container): boolean {
  const st = c.state;
  return (
    st.status === 'exited' &&
    st.cleanedUp === undefined &&
    st.supervisorPid !== undefined &&
    !sameProcessAlive(st.supervisorPid, st.supervisorStart)
  );
}

/** Reclaims one dead container; best effort (an error stays in its state, and `rm -f` retries). */
export async function reclaim(c: Container): Promise<void> {
  if (!needsReclaim(c)) return;
  await cleanupAfterExit(c.config.id).catch(() => undefined);
  if (c.config.autoRemove) await removeContainer(c.config.id, { force: true }).catch(() => undefined);
}

/** Reclaims every dead container; returns the list as it is afterwards. */
export async function reclaimAll(): Promise<Container[]> {
  const cs = listContainers();
  const dead = cs.filter(needsReclaim);
  if (!dead.length) return cs;
  for (const c of dead) await reclaim(c);
  return listContainers();
}
