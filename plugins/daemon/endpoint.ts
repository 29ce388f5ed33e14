// Where tsnetd listens, and how a caller names the namespaces it runs in: shared by the daemon and its
// clients, so a client loads none of the daemon's plugins.
import { statSync } from 'node:fs';

export const DEFAULT_SOCKET_DIR = '/run/tsnet';
export const DEFAULT_SOCKET = `${DEFAULT_SOCKET_DIR}/tsnetd.sock`;

/** $TSNET_SOCKET, else /run/tsnet/tsnetd.sock. */
export function socketPath(env: NodeJS.ProcessEnv = process.env): string {
  return env.TSNET_SOCKET || DEFAULT_SOCKET;
}

/** The inode of a process's network or pid namespace ('' when unreadable), as the C shim sends it. */
export function nsInode(kind: 'net' | 'pid', pid: number | 'self' = 'self'): string {
  try {
    return String(statSync(`/proc/${pid}/ns/${kind}`).ino);
  } catch {
    return '';
  }
}
