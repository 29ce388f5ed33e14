// Owner tags of the firewall rules tsnet's plugins write (nftables rule comments in the `inet tsnet` table):
// who made a rule, so that it goes away with its owner. The engine and GC read them from here too.
import { sha256Hex } from '../../common/random.js';

/**
 * The owner tag of an attachment's masquerade rule: readable parts (network, short container id, ifname)
 * plus a hash of the full triple, so long names cannot make two attachments share a tag.
 */
export function masqOwner(network: string, containerId: string, ifname: string): string {
  const hash = sha256Hex(`${network}\0${containerId}\0${ifname}`).slice(0, 12);
  const readable = `${network.slice(0, 32)}:${containerId.slice(0, 12)}:${ifname}`.replace(/[^A-Za-z0-9._:\-/]/g, '_');
  return `bridge:${readable}:${hash}`;
}
