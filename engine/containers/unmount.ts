// Mounts left under a container's directory in the host mount namespace. Normally there are none: the
// container's mounts live in its own mount namespace and go with it.
import { readFileSync } from 'node:fs';
import { MNT_DETACH, native } from '../../native/addon.js';

/** Unmounts anything still mounted under `dir` (deepest first), best effort: rm reports what remains. */
export function unmountLeftovers(dir: string): void {
  let info: string;
  try {
    info = readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return;
  }
  const mounts = info
    .split('\n')
    .map((l) => l.split(' ')[4])
    .filter((m): m is string => !!m && (m === dir || m.startsWith(`${dir}/`)))
    .sort((a, b) => b.length - a.length);
  for (const m of mounts) {
    try {
      native().umount(m, MNT_DETACH);
    } catch {
      /* best effort; rm reports what remains */
    }
  }
}
