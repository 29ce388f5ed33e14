// The bridge port limit, for the bridge plugin to call (plugins/bridge/bridge.ts is the lead's file).
// The kernel numbers bridge ports 1..1023 (BR_MAX_PORTS = 1024, port 0 reserved); attaching one more fails
// with EXFULL ("Exchange full"), and rtnetlink then unregisters the new veth, so nothing leaks. Translating
// that errno costs nothing per ADD — counting the ports first would be a full link dump per ADD, which is
// what makes per-ADD cost grow with N.
//
// Wire-in (createVeth's catch in plugins/bridge/bridge.ts, before the generic `kernel(...)`):
//   const full = bridgeFullError(e, s.bridge, netName);   // netName: pass conf.name down to createVeth
//   if (full) throw full;
import { isNetlinkError } from '../../native/netlink/errors.js';
import { CniError } from '../cni/types.js';

/** BR_MAX_PORTS in the kernel (include/net/bridge ... br_private.h). */
export const BR_MAX_PORTS = 1024;
/** Ports a bridge can actually hold: port number 0 is reserved. */
export const BRIDGE_PORT_LIMIT = BR_MAX_PORTS - 1;
export const EXFULL = 54;
/** Plugin error code for a full bridge (next after bridge.ts's BridgeErrorCode.Kernel = 103). */
export const BRIDGE_FULL_CODE = 104;

/** The CNI error for "this bridge is full", when `e` is the kernel's EXFULL on enslaving a port; else undefined. */
export function bridgeFullError(e: unknown, bridge: string, network: string): CniError | undefined {
  if (!isNetlinkError(e) || (e.errno !== EXFULL && e.code !== 'EXFULL')) return undefined;
  return new CniError(
    BRIDGE_FULL_CODE,
    `network "${network}": bridge "${bridge}" is full: a Linux bridge holds at most ${BRIDGE_PORT_LIMIT} ports (kernel BR_MAX_PORTS ${BR_MAX_PORTS}, port 0 reserved)`,
    `DEL attachments that are no longer used, or put further containers on another network with its own "bridge"`,
  );
}
