// After `tsnet network rm` (the registry's onRemoved hook, loaded only by that command): the network's Linux
// bridge goes, unless containers still have ports on it.
import { Netns } from '../../native/netns.js';
import type { NetworkRecord } from '../../ipam/networks.js';
import { bridgeNameOf } from './owners.js';

/**
 * Removes the network's Linux bridge when no container port is left on it. A bridge that still has ports
 * (`network rm -f` under running containers) is kept, and the answer says so, with the fix.
 */
export async function removeNetworkBridge(rec: NetworkRecord): Promise<string | undefined> {
  const host = Netns.current();
  try {
    const name = bridgeNameOf(rec);
    const br = await host.rtnl.findLink(name);
    if (!br || br.kind !== 'bridge') return undefined;
    const ports = (await host.rtnl.links()).filter((l) => l.masterIndex === br.index);
    if (ports.length) {
      const names = ports.map((p) => p.name).join(', ');
      return `its bridge ${name} is kept: it still has ports (${names}); remove the containers on it, then the bridge with 'ip link del ${name}'`;
    }
    await host.rtnl.deleteLinkIfExists(br.index);
    return undefined;
  } finally {
    host.close();
  }
}
