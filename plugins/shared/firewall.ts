// The firewall of a bridge network, over native/nftables (tsnet's `inet tsnet` table): what Docker's
// DOCKER-ISOLATION chains and --internal do, and what keeps forwarding alive where another firewall drops it.
//
// A bridge's forwarding rules are one rule group (owner `fw:<bridge>`, chain `fw-<bridge>`), made by the first
// ADD on the bridge and removed by the DEL that leaves it without ports:
//
//   chain forward (hook forward, policy accept)   iifname B jump fw-B · oifname B jump fw-B
//   chain fw-B      --internal:   iifname != B drop · oifname != B drop      (no way in or out; B to B stays)
//                   isolation:    ct status dnat return                        (published ports stay reachable)
//                                 iifname B oifname != B jump isolation
//   chain isolation               oifname B drop                               (one per isolated bridge)
//   chain postrouting  icc=false: iifname B oifname B ct status dnat masquerade
//
// So a packet from one isolated bridge to another is dropped, as Docker's two-stage isolation does, while a
// container with an interface on both talks over that interface (bridged, never forwarded).
//
// icc=false is the bridge's port isolation (the reference plugin's `portIsolation`), set by the plugin on each
// container's port: the kernel forwards nothing between two isolated ports — no br_netfilter, no rule, nothing
// a flush of the ruleset can take away — while each still reaches the bridge device (the gateway, the host,
// published ports from outside). A container reaching a sibling's published port through a host address is
// masqueraded (the postrouting rule above), so the answer comes back through the bridge device rather than
// straight from port to port; where br_netfilter is on (bridge-nf-call-iptables=1) the kernel hands such a
// DNAT'd frame from port to port itself, and port isolation drops it — as Docker's icc=false does without its
// userland proxy. (Bridge-family rules could not tell that frame apart either: conntrack in a bridge table
// needs nf_conntrack_bridge, which kernels such as this one lack.)
//
// An accept here does not override a drop in another table at the same hook (dockerd's FORWARD policy DROP,
// a firewall's `policy drop`): the group also puts, first in each such chain (right after dockerd's jump to
// DOCKER-USER where there is one, so a user's rules there filter tsnet's networks too), `iifname B accept` and
// `oifname B ctstate RELATED,ESTABLISHED,DNAT accept` (native/nftables.ts: in iptables-nft's own encoding), as
// libvirt and netavark's iptables driver do with the FORWARD chain. Unsolicited traffic into the network stays
// that firewall's call; what tsnet's table drops stays dropped. On a host on legacy iptables (x_tables, no
// netlink path) the same two rules go into its FORWARD chain through iptables-legacy (native/iptables-legacy).
import { isSysError } from '../../native/addon.js';
import { legacyDelete, legacyForwardDrops, legacyInsert } from '../../native/iptables-legacy.js';
import type { Netns } from '../../native/netns.js';
import {
  accept,
  ctStateMatch,
  ctStatusDnat,
  drop,
  foreignTag,
  forwardDropChains,
  hasChain,
  ifnameMatch,
  jump,
  masquerade,
  masqueradeRule,
  putGroup,
  removeGroup,
  ret,
  ruleTexts,
  xtConntrackMatch,
  type ForeignChain,
  type NftRule,
  type RuleGroup,
} from '../../native/nftables.js';
import { formatAddr, formatPrefix, parseCidr } from '../../ipam/cidr.js';
import { lockTimeout } from '../../ipam/lock.js';
import { CniCode } from '../../common/errors.js';
import { sha256Hex } from '../../common/random.js';
import { withBridgesExclusive } from './bridge-port.js';
import { PluginError } from './errors.js';
import { masqNote } from './owners.js';

/** What a bridge network's forwarding rules are made of. */
export interface BridgeFirewall {
  bridge: string;
  /** Isolated from every other isolated bridge (Docker's networks are, the default one included). */
  isolation: boolean;
  /** No forwarding into or out of the bridge (`network create --internal`). */
  internal: boolean;
  /** The containers' ports are isolated (icc=false): a sibling's published port reached through a host address is masqueraded. */
  portIsolation: boolean;
  /** Put accept rules into other tables' forward chains that drop by policy (default true). */
  amendHostFirewall: boolean;
}

/** The bridge plugin's keys that make one (the reference plugin's portIsolation, and tsnet's own, documented in README.md). */
export interface FirewallKeys {
  bridge?: string;
  isolation?: boolean;
  internal?: boolean;
  portIsolation?: boolean;
  amendHostFirewall?: boolean;
}

export function firewallOf(keys: FirewallKeys, defaultBridge: string): BridgeFirewall {
  return {
    bridge: keys.bridge ?? defaultBridge,
    isolation: keys.isolation ?? false,
    internal: keys.internal ?? false,
    portIsolation: keys.portIsolation ?? false,
    amendHostFirewall: keys.amendHostFirewall ?? true,
  };
}

const ISOLATION = 'isolation';

/** The regular chain holding a bridge's rules; its presence says the group is there. */
export const fwChain = (bridge: string): string => `fw-${bridge}`;

/** The owner tag of a bridge's rules: `fw:<bridge>` (a name with other characters gets a hash of it). */
export function fwOwner(bridge: string): string {
  if (/^[A-Za-z0-9._-]+$/.test(bridge)) return `fw:${bridge}`;
  const hash = sha256Hex(bridge).slice(0, 8);
  return `fw:${bridge.replace(/[^A-Za-z0-9._-]/g, '_')}-${hash}`;
}

function group(f: BridgeFirewall): RuleGroup {
  const b = f.bridge;
  const own = fwChain(b);
  const rules: NftRule[] = [
    { chain: 'forward', exprs: [...ifnameMatch('iif', b), jump(own)] },
    { chain: 'forward', exprs: [...ifnameMatch('oif', b), jump(own)] },
  ];
  if (f.internal) {
    rules.push(
      { chain: own, exprs: [...ifnameMatch('iif', b, true), drop()] }, // into the network from anywhere else
      { chain: own, exprs: [...ifnameMatch('oif', b, true), drop()] }, // out of it to anywhere else
    );
  } else if (f.isolation) {
    rules.push(
      { chain: own, exprs: [...ctStatusDnat(), ret()] },
      { chain: own, exprs: [...ifnameMatch('iif', b), ...ifnameMatch('oif', b, true), jump(ISOLATION)] },
      { chain: ISOLATION, exprs: [...ifnameMatch('oif', b), drop()] },
    );
  }
  if (f.portIsolation && !f.internal)
    rules.push({ chain: 'postrouting', exprs: [...ifnameMatch('iif', b), ...ifnameMatch('oif', b), ...ctStatusDnat(), masquerade()] });
  return {
    owner: fwOwner(b),
    chains: [own],
    shared: [ISOLATION],
    rules,
    ...(f.amendHostFirewall ? { foreign: (c: ForeignChain) => hostAccepts(b, c) } : {}),
  };
}

/** The accept rules for another table's forward chain that drops by policy. */
function hostAccepts(b: string, c: ForeignChain) {
  if (c.family === 'inet')
    return [
      [...ifnameMatch('iif', b), accept()],
      [...ifnameMatch('oif', b), ...ctStateMatch(['established', 'related']), accept()],
      [...ifnameMatch('oif', b), ...ctStatusDnat(), accept()],
    ];
  // iptables-nft's tables: only what iptables-nft reads back (-i/-o, -m conntrack, -j ACCEPT).
  return [
    [...ifnameMatch('iif', b), accept()],
    [...ifnameMatch('oif', b), ...xtConntrackMatch(['related', 'established', 'dnat']), accept()],
  ];
}

/** A kernel without nf_tables: no rule can exist, and none but isolation and --internal need one. */
const noNftables = (e: unknown): boolean => isSysError(e, 'EPROTONOSUPPORT');

/** Whether the bridge's rule group is there (false on a kernel without nf_tables, where none can be). */
async function present(bridge: string): Promise<boolean> {
  try {
    return await hasChain(fwChain(bridge));
  } catch (e) {
    if (noNftables(e)) return false;
    throw e;
  }
}

/** The accept rules for a legacy iptables FORWARD chain that drops by policy (iptables arguments). */
function legacyAccepts(b: string): string[][] {
  const comment = ['-m', 'comment', '--comment', foreignTag(fwOwner(b))];
  return [
    ['-i', b, ...comment, '-j', 'ACCEPT'],
    ['-o', b, '-m', 'conntrack', '--ctstate', 'RELATED,ESTABLISHED,DNAT', ...comment, '-j', 'ACCEPT'],
  ];
}

/** Whether the bridge's own rules are wanted: isolated, internal or icc=false. */
const ownRules = (f: BridgeFirewall): boolean => f.isolation || f.internal || f.portIsolation;

/** Whether another firewall's forward chain drops by policy here (nftables, iptables-nft, legacy iptables). */
async function hostDrops(): Promise<boolean> {
  let drops: boolean;
  try {
    drops = (await forwardDropChains()).length > 0;
  } catch (e) {
    if (!noNftables(e)) throw e;
    drops = false; // without nf_tables no other firewall drops by nftables either
  }
  return drops || (await legacyForwardDrops()).length > 0;
}

/** Whether the bridge needs rules at all. */
async function needed(f: BridgeFirewall): Promise<boolean> {
  return ownRules(f) || (f.amendHostFirewall && (await hostDrops()));
}

/** The group, and the accept rules in a legacy iptables FORWARD chain that drops. */
async function put(f: BridgeFirewall, opts: { ifAbsent?: boolean }): Promise<void> {
  if (!(await putGroup(group(f), opts))) return;
  if (!f.amendHostFirewall) return;
  for (const family of await legacyForwardDrops()) await legacyInsert(family, legacyAccepts(f.bridge));
}

/**
 * Makes the bridge's forwarding rules unless they are there: one GET when they are (every ADD on a bridge but
 * its first); for a bridge that needs none of its own, one dump that finds no other firewall dropping. Run after
 * the caller's port is on the bridge, so a DEL that removes them for want of ports cannot run between.
 */
export async function ensureBridgeFirewall(f: BridgeFirewall): Promise<void> {
  if (!(await needed(f))) return;
  try {
    if (await hasChain(fwChain(f.bridge))) return;
  } catch (e) {
    if (noNftables(e))
      throw new PluginError(
        `bridge "${f.bridge}"`,
        'isolation, "internal" and icc=false need nf_tables, which this kernel lacks',
        'use a kernel with nf_tables, or drop those settings from the network',
        CniCode.PluginNotAvailable,
      );
    throw e;
  }
  await put(f, { ifAbsent: true });
}

/** Whether the bridge's forwarding rules are in place (CHECK): rules of its group, not merely its chain (`nft flush` keeps chains). */
export async function bridgeFirewallPresent(bridge: string): Promise<boolean> {
  const owner = fwOwner(bridge);
  return (await ruleTexts()).some((r) => r.owner === owner);
}

/** Writes the bridge's forwarding rules anew, whatever is left of them (`tsnet network reload`). */
export async function replaceBridgeFirewall(f: BridgeFirewall): Promise<void> {
  if (await needed(f)) await put(f, {});
  else await removeBridgeFirewall(f.bridge);
}

/** Removes the bridge's forwarding rules, here and in other tables (legacy iptables included). Idempotent. */
export async function removeBridgeFirewall(bridge: string): Promise<void> {
  await removeGroup(fwOwner(bridge), [fwChain(bridge)]);
  await legacyDelete(legacyAccepts(bridge));
}

/**
 * Removes the bridge's forwarding rules when no port is left on it (DEL of its last container, a failed ADD,
 * GC) — under the bridges lock, exclusive, so no ADD is between finding the bridge and plugging its port in.
 * False when they stay (ports left, none there, or the lock not had in time: they then stay for the next DEL).
 */
export async function removeBridgeFirewallIfUnused(host: Netns, bridge: string): Promise<boolean> {
  if (!(await present(bridge))) return false;
  const removed = await withBridgesExclusive(lockTimeout(), async () => {
    const br = await host.rtnl.findLink(bridge);
    if (br && br.kind === 'bridge' && (await host.rtnl.links({ master: br.index })).length) return false;
    await removeBridgeFirewall(bridge);
    return true;
  });
  return removed ?? false;
}

/**
 * `ip saddr ADDR ip daddr != SUBNET masquerade` for each address (ip6 likewise), noted with the network
 * (masqNote) for GC. `addresses` are CIDRs as CNI results give them (10.88.0.2/24).
 */
export function masqueradeRules(network: string, addresses: string[]): NftRule[] {
  const note = masqNote(network);
  return addresses.map((a) => {
    const { addr, prefix } = parseCidr(a);
    return { chain: 'postrouting', exprs: masqueradeRule({ saddr: formatAddr(addr), notDaddr: formatPrefix(prefix) }), note };
  });
}
