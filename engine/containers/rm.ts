// `tsnet rm [-f]` (and --rm, from the exit hook): a running container is killed only with force; whatever a
// crashed run left (netns, cgroup, mounts, files, the name) is cleaned up.
import { existsSync, rm, rmSync } from 'node:fs';
import { TsnetError } from '../../common/errors.js';
import { sameProcessAlive } from '../runtime/proc.js';
import { cleanupAfterExit } from './cleanup.js';
import { signalPid, waitFor } from './stop.js';
import { files, getContainer, loadContainer, releaseName, updateState } from './store.js';
import { unmountLeftovers } from './unmount.js';

/**
 * `fromExitHook`: called by whoever cleans up for the supervisor (the exit hook, or a foreground CLI while the
 * supervisor waits for it): no wait for the supervisor to go, and a cleanup it has just done is not redone.
 */
export async function removeContainer(ref: string, opts: { force?: boolean; fromExitHook?: boolean } = {}): Promise<string> {
  const c = /^[0-9a-f]{64}$/.test(ref) ? loadContainer(ref) : getContainer(ref);
  if (!c) return ref;
  const id = c.config.id;
  if (c.state.status === 'running') {
    if (!opts.force) {
      throw new TsnetError(
        `container ${c.config.name}`,
        'is running',
        `stop it first with 'tsnet stop ${c.config.name}', or use 'tsnet rm -f'`,
      );
    }
    signalPid(c.state.pid, 'SIGKILL');
    await waitFor(() => !sameProcessAlive(c.state.pid, c.state.pidStart), 5000);
  }
  if (!opts.fromExitHook) {
    if (c.state.status === 'created' && sameProcessAlive(c.state.supervisorPid, c.state.supervisorStart)) {
      signalPid(c.state.supervisorPid, 'SIGKILL');
    }
    // let a running exit hook finish, but do not depend on it
    await waitFor(() => !sameProcessAlive(c.state.supervisorPid, c.state.supervisorStart), 5000);
  }
  if (!loadContainer(id)) return id; // the exit hook removed it (--rm)
  const cleaned = opts.fromExitHook && loadContainer(id)?.state.cleanedUp === true; // just now, by the caller
  updateState(id, { status: 'removing' });
  if (!cleaned) await cleanupAfterExit(id);
  unmountLeftovers(files.dir(id));
  rmSync(files.dir(id), { recursive: true, force: true });
  releaseName(c.config.name, id);
  if (existsSync(files.dir(id)))
    throw new TsnetError(`container ${c.config.name}`, `could not remove ${files.dir(id)}`, 'check for mounts under it');
  return id;
}

/**
 * The filesystem of a --rm container that has ended — its writable layer, the overlay's work dir, the rootfs
 * mount point (its mounts died with its mount namespace), its /etc files, its log (closed by now) — removed
 * ahead on the thread pool, while the CLI detaches its network (the unlinks wait on the disk's journal, and
 * freeing a file's blocks on its discard; the detach on the kernel).
 * Never fails: removeContainer removes whatever is left, and reports it.
 */
export async function removeFilesystemAhead(id: string): Promise<void> {
  const parts = [files.upper(id), files.work(id), files.rootfs(id), files.etc(id), files.log(id)];
  // (node:fs's callback form: node:fs/promises would be loaded for this alone, at every command's start)
  await Promise.all(parts.map((p) => new Promise<void>((resolve) => rm(p, { recursive: true, force: true }, () => resolve()))));
}
