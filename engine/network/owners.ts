// Names and owner tags of what the bridge plugin makes for an engine network: the Linux bridge the engine names
// for each network (and hands to the plugin in the conflist), and the plugin's tag on an attachment's masquerade
// rule (the plugin's own function, never re-derived here). The tag of published-port rules is the engine's own
// and lives with those rules in ./ports.ts, which every command loads and which must not load the bridge plugin.
import type { NetworkRecord } from '../../ipam/networks.js';
import { DEFAULT_BRIDGE, DEFAULT_NETWORK } from '../../common/paths.js';
export { masqOwner } from '../../plugins/shared/owners.js';

/** The Linux bridge of a network: its --bridge option, tsnet0 for the default network, else br-<id prefix>. */
export function bridgeNameOf(rec: NetworkRecord): string {
  return rec.options?.bridge ?? (rec.name === DEFAULT_NETWORK ? DEFAULT_BRIDGE : `br-${rec.id.slice(0, 12)}`);
}
