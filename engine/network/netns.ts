// Persistent network namespaces for containers, made with the addon (like `ip netns add`): /run/netns/tsnet-<short id>.
import { NETNS_RUN_DIR } from '../../common/paths.js';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { native, isSysError } from '../../native/addon.js';
import { assertNetnsPath } from '../../native/netns.js';
import { TsnetError } from '../../common/errors.js';

const NETNS_DIR = NETNS_RUN_DIR;

export function netnsName(containerId: string): string {
  return `tsnet-${containerId.slice(0, 12)}`;
}

export function netnsPathFor(containerId: string): string {
  return join(NETNS_DIR, netnsName(containerId));
}

export function createNetns(containerId: string): string {
  mkdirSync(NETNS_DIR, { recursive: true });
  try {
    return native().netnsCreate(NETNS_DIR, netnsName(containerId));
  } catch (e) {
    if (isSysError(e, 'EEXIST')) {
      // Left by a crashed run of this same container: reuse it if it still is a network namespace; a bare
      // file (its bind mount gone) is removed and made again.
      const path = netnsPathFor(containerId);
      try {
        assertNetnsPath(path);
        return path;
      } catch {
        native().netnsDelete(path);
        return native().netnsCreate(NETNS_DIR, netnsName(containerId));
      }
    }
    throw new TsnetError(
      `netns ${netnsName(containerId)}`,
      `cannot create (${(e as Error).message})`,
      'are you root, and is /run writable?',
    );
  }
}

/** Deletes the container's netns; absent is fine. */
export function deleteNetns(path: string): void {
  if (!existsSync(path)) return;
  try {
    native().netnsDelete(path);
  } catch (e) {
    if (isSysError(e, 'ENOENT')) return;
    throw new TsnetError(
      `netns ${path}`,
      `cannot delete (${(e as Error).message})`,
      'a process may still hold it; stop the container and retry tsnet rm',
    );
  }
}

/**
 * The network namespace a running container is in: 'host' for --net host, the one its driver made, or
 * (for --net container:…) its process's.
 */
export function netnsOf(att: { netnsPath: string; ownsNetns: boolean } | undefined, pid: number): string {
  if (att?.netnsPath === 'host') return 'host';
  return att?.ownsNetns ? att.netnsPath : `/proc/${pid}/ns/net`;
}
