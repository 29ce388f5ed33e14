// Where tsnetd listens, and how the daemon names the namespaces it runs in: shared by the daemon and its
// clients, so a client loads none of the daemon's plugins.
import { statSync } from 'node:fs';

export const DEFAULT_SOCKET_DIR = '/run/tsnet';
export const DEFAULT_SOCKET = `${DEFAULT_SOCKET_DIR}/tsnetd.sock`;

/** $TSNET_SOCKET, else /run/tsnet/tsnetd.sock. */
export function socketPath(env: NodeJS.ProcessEnv = process.env): string {
  return env.TSNET_SOCKET || DEFAULT_SOCKET;
}

/**
 * A process's network, pid or user namespace as "dev:ino" ('' when unreadable): the form in which the
 * addon's FrameServer reports a caller's (native/addon.ts FramePeer).
 */
export function nsId(kind: 'net' | 'pid' | 'user', pid: number | 'self' = 'self'): string {
  try {
    const st = statSync(`/proc/${pid}/ns/${kind}`);
    return `${st.dev}:${st.ino}`;
  } catch {
    return '';
  }
}
