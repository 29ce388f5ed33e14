// Where tsnetd listens, and how the daemon names the namespaces it runs in: shared by the daemon and its
// clients, so a client loads none of the daemon's plugins.
import { lstatSync, realpathSync, statSync } from 'node:fs';
import { dirname } from 'node:path';

export const DEFAULT_SOCKET_DIR = '/run/tsnet';
export const DEFAULT_SOCKET = `${DEFAULT_SOCKET_DIR}/tsnetd.sock`;

/** $TSNET_SOCKET, else /run/tsnet/tsnetd.sock. */
export function socketPath(env: NodeJS.ProcessEnv = process.env): string {
  return env.TSNET_SOCKET || DEFAULT_SOCKET;
}

/**
 * Why the socket at `path` may not be trusted, or undefined when it may — the C shim's rule
 * (native/shim/tsnet-cni-shim.c): its real path is a socket owned by root, in a directory owned by root that
 * group and others cannot write, under root-owned directories they cannot write unless sticky (such as /tmp).
 * Only then is a daemon's answer believed.
 */
export function untrustedSocket(path: string): string | undefined {
  let real: string;
  try {
    real = realpathSync(path);
  } catch (e) {
    return (e as Error).message;
  }
  const st = lstatSync(real);
  if (!st.isSocket()) return `${real} is not a socket`;
  if (st.uid !== 0) return `${real} is owned by uid ${st.uid}, not root`;
  for (let dir = dirname(real), first = true; ; dir = dirname(dir), first = false) {
    const d = lstatSync(dir);
    if (d.uid !== 0) return `directory ${dir} is owned by uid ${d.uid}, not root`;
    if (d.mode & 0o022 && (first || !(d.mode & 0o1000)))
      return `directory ${dir} is writable by others (mode ${(d.mode & 0o7777).toString(8).padStart(4, '0')})`;
    if (dir === '/') return undefined;
  }
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
