// Checks that CNI_NETNS names a network namespace other than our own, before a plugin touches anything.
// Cheap checks first (stat: nsfs device, not our netns); the native addon is loaded only for the final
// "is it a *network* namespace" question.
import { statSync, type Stats } from 'node:fs';
import { CniError, ErrorCode, type CniCommand } from './types.js';

const CLONE_NEWNET = 0x40000000;

function envError(msg: string): CniError {
  return new CniError(ErrorCode.InvalidEnvironment, msg, 'pass the path of a network namespace, e.g. /run/netns/NAME or /proc/PID/ns/net');
}

/** The nsType probe, replaceable in tests; defaults to the native addon (loaded on first use). */
export type NsTypeProbe = (path: string) => number | Promise<number>;

let addon: typeof import('../../native/addon.js') | undefined;
const nativeNsType: NsTypeProbe = (path) => {
  // Synchronous once loaded (a long-lived caller, tsnetd, runs this for every request).
  if (addon) return addon.native().nsType(path);
  return import('../../native/addon.js').then((m) => {
    addon = m;
    return m.native().nsType(path);
  });
};

let ownCached: Stats | undefined;
/** This process's netns file, stat'ed once: the main thread never leaves its namespace (native/README.md). */
function ownNetns(): Stats | undefined {
  if (!ownCached) {
    try {
      ownCached = statSync('/proc/self/ns/net');
    } catch {
      return undefined;
    }
  }
  return ownCached;
}

/**
 * ADD/CHECK: the path must exist and be a network namespace other than this process's (unless `allowOwn`:
 * the host plugin, whose container shares the host's netns).
 * DEL: a missing path is fine (the container may be gone), and so is an empty file left where a namespace was
 * mounted; any other existing path must still be a netns.
 */
export async function checkNetns(command: CniCommand, path: string, probe: NsTypeProbe = nativeNsType, allowOwn = false): Promise<void> {
  if (!path) return;
  if (command !== 'ADD' && command !== 'CHECK' && command !== 'DEL') return;
  let st: Stats;
  try {
    st = statSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (command === 'DEL' && (code === 'ENOENT' || code === 'ENOTDIR')) return;
    throw envError(`CNI_NETNS '${path}' cannot be opened: ${code ?? (e as Error).message}`);
  }
  // Namespace files live on nsfs and stat as empty regular files; anything else (a FIFO would even block
  // open()) is refused without opening it.
  const own = ownNetns();
  // DEL must still release what ADD took (the address above all) when the namespace is gone but its file
  // stayed behind — an empty mount point whose bind mount was lost to a crash or a half-done `ip netns del`.
  // The plugin treats a netns it cannot open as gone. Any other file is still refused.
  const gone = () => command === 'DEL' && st.isFile() && st.size === 0;
  if (!st.isFile() || (own && st.dev !== own.dev)) {
    if (gone()) return;
    throw envError(`CNI_NETNS '${path}' is not a namespace file`);
  }
  if (own && st.ino === own.ino && !allowOwn)
    throw envError(`CNI_NETNS '${path}' is the plugin's own network namespace; refusing to configure the host`);
  let type: number;
  try {
    const t = probe(path);
    type = typeof t === 'number' ? t : await t;
  } catch (e) {
    if (gone()) return;
    throw envError(`CNI_NETNS '${path}' is not a namespace: ${(e as Error).message}`);
  }
  if (type !== CLONE_NEWNET) throw envError(`CNI_NETNS '${path}' is a namespace but not a network namespace (type 0x${type.toString(16)})`);
}
