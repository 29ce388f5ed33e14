// Names and places every layer agrees on: the state root, the default network and its bridge, where named
// network namespaces live, and what a tsnet name may look like.
import { resolve } from 'node:path';

/** Where tsnet keeps its state unless $TSNET_ROOT (or a config's root/dataDir) says otherwise. */
export const DEFAULT_STATE_ROOT = '/var/lib/tsnet';

/** The state root: an explicit one (a config's), else $TSNET_ROOT, else /var/lib/tsnet. */
export function stateRoot(explicit?: string): string {
  return resolve(explicit || process.env.TSNET_ROOT || DEFAULT_STATE_ROOT);
}

/** The default network (docker's `bridge`) and its Linux bridge (docker's docker0). */
export const DEFAULT_NETWORK = 'bridge';
export const DEFAULT_BRIDGE = 'tsnet0';

/** Where `ip netns` keeps named network namespaces. */
export const NETNS_RUN_DIR = '/run/netns';

/** A network, store or container name: starts with a letter or digit, then letters, digits, `_`, `.`, `-`. */
export const NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;
