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

/**
 * The note on an attachment's masquerade rules (after the owner in their comment): which network they belong
 * to, exactly — the owner's readable part keeps only 32 characters of its name — so that a network's GC
 * finds its own rules and no other network's.
 */
export function masqNote(network: string): string {
  return `net:${sha256Hex(`network\0${network}`).slice(0, 16)}`;
}

/**
 * Whether a rule (owner tag and note, as native/nftables lists them) is a masquerade rule of `network`. Rules
 * made before they carried masqNote are recognised by the owner's readable part, where that is exact: a
 * network name shorter than 32 characters, of the characters CNI allows (no ':').
 */
export function isMasqRuleOf(network: string, rule: { owner: string; text: string }): boolean {
  if (!rule.owner.startsWith('bridge:')) return false;
  if (rule.text) return rule.text === masqNote(network);
  return network.length < 32 && /^[A-Za-z0-9_.-]+$/.test(network) && rule.owner.startsWith(`bridge:${network}:`);
}
