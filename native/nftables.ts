// tsnet's nftables rules (masquerade for ipMasq, DNAT for published ports, the forwarding rules of a network:
// isolation, --internal), all in one table of our own, `inet tsnet`. Spoken over NETLINK_NETFILTER in the
// namespace this process runs in: each change is one nf_tables batch, applied by the kernel all or nothing.
// Rules carry a comment naming their owner (what `nft list` shows) and are removed by owner; the table goes with
// its last rule.
//
// The one place tsnet writes outside its table: an accept in our table does not override a drop in another
// table at the same hook, so where another table's forward chain drops by policy (dockerd's iptables FORWARD
// DROP, a firewall's `policy drop`), a rule group may put accept rules first in that chain (`foreign`), tagged
// `tsnet:<owner>`, removed with the group — what libvirt and netavark's iptables driver do with the FORWARD
// chain. In iptables-nft's tables (families ip and ip6) they are written only with expressions iptables-nft
// reads back (`-i`/`-o`, `-m conntrack`, `-j ACCEPT`, `-m comment`), so `iptables -S` and dockerd keep working.
import { TsnetError } from '../common/errors.js';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { constants } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { LOCK_EX, LOCK_NB, native } from './addon.js';
import { holdUntilExit } from './linger.js';
import { str, type Attr } from './netlink/attrs.js';
import { isNetlinkError } from './netlink/errors.js';
import {
  batchCount,
  decodeChain,
  decodeRule,
  delChain,
  delRule,
  delTable,
  encodeBatch,
  NETLINK_NETFILTER,
  newBaseChain,
  newChain,
  newRule,
  newTable,
  NF_DROP,
  NF_INET_FORWARD,
  NF_INET_LOCAL_OUT,
  NF_INET_POST_ROUTING,
  NF_INET_PRE_ROUTING,
  NFPROTO_INET,
  NFPROTO_IPV4,
  NFPROTO_IPV6,
  NFPROTO_UNSPEC,
  NFT_MSG_GETCHAIN,
  NFT_MSG_GETRULE,
  NFTA_CHAIN_NAME,
  NFTA_CHAIN_TABLE,
  NFTA_RULE_CHAIN,
  NFTA_RULE_TABLE,
  nfgenmsg,
  nftType,
  type ChainInfo,
  type NftOp,
  type RuleInfo,
} from './netlink/nftables-msg.js';
import { NetlinkSocket } from './netlink/socket.js';

export {
  accept,
  ctStateMatch,
  ctStatusDnat,
  dnatRule,
  drop,
  ifnameMatch,
  jump,
  masquerade,
  masqueradeRule,
  ret,
  xtConntrackMatch,
} from './netlink/nftables-msg.js';

export const TABLE = 'tsnet';
export const FAMILY = 'inet';

/** A base chain of our table, or a regular chain (reached by jumps) a rule group makes. */
export type Chain = 'postrouting' | 'prerouting' | 'output' | 'forward' | (string & {});

const CHAINS: { name: Chain; hook: number; priority: number; type: 'nat' | 'filter' }[] = [
  { name: 'postrouting', hook: NF_INET_POST_ROUTING, priority: 100, type: 'nat' }, // srcnat
  { name: 'prerouting', hook: NF_INET_PRE_ROUTING, priority: -100, type: 'nat' }, // dstnat
  { name: 'output', hook: NF_INET_LOCAL_OUT, priority: -100, type: 'nat' },
  { name: 'forward', hook: NF_INET_FORWARD, priority: 0, type: 'filter' }, // filter; policy accept
];

/** Our table with its base chains, made if missing (NLM_F_CREATE: existing ones are left as they are). */
const tableAndChains = (): NftOp[] => [newTable(TABLE), ...CHAINS.map((c) => newBaseChain(TABLE, c.name, c.hook, c.priority, c.type))];

export class NftError extends TsnetError {
  constructor(msg: string) {
    super('', msg);
    this.name = 'NftError';
  }
}

/** A rule to add: its chain, its expressions (masqueradeRule, dnatRule) and an optional note kept in its comment. */
export interface NftRule {
  chain: Chain;
  exprs: Attr[];
  /** Shown after the owner in the rule's comment ("owner|note"); what `guard` sees of existing rules. */
  note?: string;
}

/** An existing rule of our table with an owner tag. */
export interface RuleText {
  chain: string;
  owner: string;
  /** The note given when the rule was added ('' when none). */
  text: string;
}

const LOCK_DIR = '/run/tsnet';

/**
 * Serialises our table's changes across processes: "remove the table when empty" must not race an add. The
 * flock is polled (never a blocking wait on the event loop); it dies with its holder.
 */
async function locked<T>(fn: (sock: NetlinkSocket) => Promise<T>): Promise<T> {
  mkdirSync(LOCK_DIR, { recursive: true, mode: 0o700 });
  const fd = openSync(`${LOCK_DIR}/nftables.lock`, 'a', 0o600);
  try {
    const t0 = Date.now();
    for (let backoff = 1; !native().flock(fd, LOCK_EX | LOCK_NB); backoff = Math.min(backoff * 2, 20)) {
      if (Date.now() - t0 > 30_000)
        throw new NftError(
          `timed out after 30 s waiting for ${LOCK_DIR}/nftables.lock: another tsnet process holds it (find it with 'fuser ${LOCK_DIR}/nftables.lock')`,
        );
      await sleep(backoff);
    }
    return await fn(nfSocket());
  } finally {
    closeSync(fd); // closing the only fd releases the flock
  }
}

let socket: NetlinkSocket | undefined;

/**
 * One NETLINK_NETFILTER socket per process, kept open: the kernel finishes releasing deleted rules when the
 * socket that deleted them closes (bench/README.md), which a long-lived process (tsnetd, the engine) then never waits
 * for; a one-shot process pays it once, at exit — unless it hands the socket off (handOffNfSocket).
 */
function nfSocket(): NetlinkSocket {
  socket ??= new NetlinkSocket(null, { protocol: NETLINK_NETFILTER });
  return socket;
}

/**
 * For a one-shot process whose last nftables change is done: the socket's last reference goes to a process of its
 * own (native/linger.ts) — its release waits for the last commit's clean-up, an RCU grace period, which this process
 * then waits for neither now nor in its exit. A later call opens another socket. Resolves once handed over. Not for
 * a long-lived process: the holder lives as long as its caller.
 */
export async function handOffNfSocket(): Promise<void> {
  const s = socket;
  socket = undefined;
  const fd = s ? await s.takeFd() : -1;
  if (fd >= 0) await holdUntilExit(fd);
}

/** A comment is the rule's owner tag: letters, digits and ._:-/ only. */
function safeComment(c: string): string {
  if (!/^[A-Za-z0-9._:\-/]{1,120}$/.test(c)) throw new NftError(`invalid nftables rule owner tag ${JSON.stringify(c)}`);
  return c;
}

async function apply(sock: NetlinkSocket, ops: NftOp[], what: string): Promise<void> {
  try {
    await sock.batch(batchCount(ops), ops.length /* the last operation; BEGIN is 0 */, (seq) => encodeBatch(ops, seq), what);
  } catch (e) {
    if (isNetlinkError(e, 'ENOENT') && /nat|expression|family/i.test(e.extack ?? ''))
      throw new NftError(
        `${what}: this kernel lacks an nf_tables feature tsnet needs (${e.message}); it needs nf_tables with nat, masq and fib support`,
      );
    throw e;
  }
}

/** Every rule of our table (none when the table does not exist: the kernel answers ENOENT, or nothing). */
async function listRules(sock: NetlinkSocket): Promise<RuleInfo[]> {
  try {
    const msgs = await sock.dump(
      nftType(NFT_MSG_GETRULE),
      nfgenmsg(NFPROTO_INET),
      [str(NFTA_RULE_TABLE, TABLE)],
      `list the rules of table ${FAMILY} ${TABLE}`,
    );
    return msgs.map((m) => decodeRule(m.payload));
  } catch (e) {
    if (isNetlinkError(e, 'ENOENT')) return [];
    throw e;
  }
}

/** Every chain of every table in the namespace (all families). */
async function listChains(sock: NetlinkSocket): Promise<ChainInfo[]> {
  const msgs = await sock.dump(nftType(NFT_MSG_GETCHAIN), nfgenmsg(NFPROTO_UNSPEC), [], 'list the chains of every nftables table');
  return msgs.map((m) => decodeChain(m.payload));
}

/** The rules of one chain of any table (none when it is gone). */
async function listChainRules(sock: NetlinkSocket, c: ForeignChain): Promise<RuleInfo[]> {
  try {
    const msgs = await sock.dump(
      nftType(NFT_MSG_GETRULE),
      nfgenmsg(FAMILIES[c.family]),
      [str(NFTA_RULE_TABLE, c.table), str(NFTA_RULE_CHAIN, c.chain)],
      `list the rules of chain ${c.family} ${c.table} ${c.chain}`,
    );
    return msgs.map((m) => decodeRule(m.payload));
  } catch (e) {
    if (isNetlinkError(e, 'ENOENT')) return [];
    throw e;
  }
}

const ownerOf = (comment: string | undefined): string | undefined => comment?.split('|')[0];

const textOf = (r: RuleInfo & { comment: string }): RuleText => {
  const owner = ownerOf(r.comment)!;
  return { chain: r.chain, owner, text: r.comment.slice(owner.length + 1) };
};

const tagged = (r: RuleInfo): r is RuleInfo & { comment: string } => r.comment !== undefined;

const ruleOp = (tag: string, r: NftRule): NftOp => newRule(TABLE, r.chain, r.exprs, r.note ? `${tag}|${r.note}` : tag);

const delOurRule = (r: RuleInfo): NftOp => delRule(TABLE, r.chain, r.handle);

/**
 * Adds rules tagged `owner` to our table, creating the table and its chains when needed. `guard` sees the
 * table's current rules under the same lock and may throw to refuse (e.g. a port taken).
 */
export async function addRules(owner: string, rules: NftRule[], guard?: (existing: RuleText[]) => void): Promise<void> {
  const tag = safeComment(owner);
  await locked(async (sock) => {
    if (guard) {
      guard((await listRules(sock)).filter(tagged).map(textOf));
    }
    if (!rules.length) return;
    const ruleOps = rules.map((r) => ruleOp(tag, r));
    const what = `add ${rules.length} rule(s) for ${tag} to table ${FAMILY} ${TABLE}`;
    // Only the rules when the table is there: re-declaring existing base chains makes the kernel do
    // work when the socket closes. The table and its chains are made when it answers ENOENT.
    try {
      await sock.batch(batchCount(ruleOps), ruleOps.length, (seq) => encodeBatch(ruleOps, seq), what);
    } catch (e) {
      if (!isNetlinkError(e, 'ENOENT')) throw e; // no table or chain yet: make them with the rules
      await apply(sock, [...tableAndChains(), ...ruleOps], what);
    }
  });
}

/**
 * Replaces the rules tagged `owner` with `rules` in one batch (what `tsnet network reload` does to an
 * attachment's masquerade and a container's published ports): whatever is left of the old ones goes, the new
 * ones come, and the table and its chains are made when missing.
 */
export async function replaceRules(owner: string, rules: NftRule[]): Promise<void> {
  const tag = safeComment(owner);
  await locked(async (sock) => {
    const old = (await listRules(sock)).filter((r) => ownerOf(r.comment) === tag).map(delOurRule);
    const ops = [...tableAndChains(), ...old, ...rules.map((r) => ruleOp(tag, r))];
    await apply(sock, ops, `replace the rules of ${tag} in table ${FAMILY} ${TABLE}`);
  });
}

/** Every rule of our tables with its owner tag and note: for tests, diagnostics and GC. */
export async function ruleTexts(): Promise<RuleText[]> {
  return locked(async (sock) => (await listRules(sock)).filter(tagged).map(textOf));
}

/**
 * Removes every rule `match` picks, in one batch with `more` (a group's chains, its rules in other tables),
 * then the table if no rule is left; returns what it removed. `match` sees each tagged rule under the table's
 * lock (a rule added meanwhile is seen, or not yet there).
 */
async function removeWhere(
  sock: NetlinkSocket,
  match: (r: RuleText) => boolean,
  what: string,
  more: { chains?: string[]; foreign?: NftOp[] } = {},
): Promise<RuleText[]> {
  const rules = await listRules(sock);
  const mine = rules.filter((r) => tagged(r) && match(textOf(r)));
  const foreign = more.foreign ?? [];
  if (rules.length === 0) {
    if (foreign.length) await apply(sock, foreign, `remove ${what} from other tables`);
    // An empty table left by an earlier run goes; ENOENT when there is none (a dump of a missing table may
    // answer nothing rather than ENOENT).
    try {
      await apply(sock, [delTable(TABLE)], `delete table ${FAMILY} ${TABLE}`);
    } catch (e) {
      if (!isNetlinkError(e, 'ENOENT')) throw e;
    }
    return [];
  }
  const ops =
    mine.length === rules.length
      ? [...foreign, delTable(TABLE)] // nothing else left: the table goes, chains and all
      : [...mine.map(delOurRule), ...(more.chains ?? []).map((c) => delChain(TABLE, c)), ...foreign];
  if (ops.length) await apply(sock, ops, `remove ${what} from table ${FAMILY} ${TABLE}`);
  return mine.filter(tagged).map(textOf);
}

/** Removes every rule tagged `owner`, then the table if no rule is left. Idempotent. */
export async function removeRules(owner: string): Promise<number> {
  return locked(async (sock) => (await removeWhere(sock, (r) => r.owner === owner, `the rules of ${owner}`)).length);
}

/**
 * Removes, in one batch, every rule `match` picks by its owner and note (GC: the rules whose owner is gone),
 * then the table if no rule is left. Returns the rules removed.
 */
export async function removeRulesWhere(match: (r: RuleText) => boolean): Promise<RuleText[]> {
  return locked((sock) => removeWhere(sock, match, 'the rules of owners that are gone'));
}

// ── Rule groups: a network's forwarding rules, made and removed as a whole ────────────────────────────────

/** A base chain of another table at the forward hook (iptables-nft's `ip filter FORWARD`, a firewall's own). */
export interface ForeignChain {
  family: 'ip' | 'ip6' | 'inet';
  table: string;
  chain: string;
  /** Its policy: the chains tsnet amends are those that drop. */
  policy: 'accept' | 'drop';
}

const FAMILIES: Record<ForeignChain['family'], number> = { ip: NFPROTO_IPV4, ip6: NFPROTO_IPV6, inet: NFPROTO_INET };
const familyName = (f: number): ForeignChain['family'] | undefined =>
  f === NFPROTO_IPV4 ? 'ip' : f === NFPROTO_IPV6 ? 'ip6' : f === NFPROTO_INET ? 'inet' : undefined;

/** Base chains at the forward hook in tables other than ours (families ip, ip6 and inet). */
function foreignForwardChains(chains: ChainInfo[]): ForeignChain[] {
  const out: ForeignChain[] = [];
  for (const c of chains) {
    const family = familyName(c.family);
    if (!family || c.hook !== NF_INET_FORWARD || c.type === undefined) continue;
    if (family === 'inet' && c.table === TABLE) continue;
    out.push({ family, table: c.table, chain: c.name, policy: c.policy === NF_DROP ? 'drop' : 'accept' });
  }
  return out;
}

/** The forward chains of other tables whose policy is drop: where forwarded traffic dies unless accepted there. */
export async function forwardDropChains(): Promise<ForeignChain[]> {
  return foreignForwardChains(await listChains(nfSocket())).filter((c) => c.policy === 'drop');
}

/**
 * The chain a firewall's users filter forwarded traffic in before anything else (dockerd jumps to it first in
 * FORWARD): a group's accept rules go right after that jump, so the user's rules there filter tsnet's networks
 * too, as they filter Docker's; where there is no such jump they go first.
 */
export const USER_CHAIN = 'DOCKER-USER';

/** The tag of a group's rules in other tables (their comment): `tsnet:<owner>`. */
export const foreignTag = (owner: string): string => `tsnet:${owner}`;

export interface RuleGroup {
  owner: string;
  /** Regular chains of our table that are the group's own: made first, deleted with it. The first one marks the group as there. */
  chains: string[];
  /** Regular chains of our table the rules jump to and other groups share: made when missing, never deleted (the table goes with its last rule). */
  shared?: string[];
  rules: NftRule[];
  /** The rules to put first in each forward chain of another table that drops by policy (see the header). */
  foreign?: (c: ForeignChain) => Attr[][];
}

/** Whether our table has the regular chain `chain` (one GET; false when there is no table). */
export async function hasChain(chain: string): Promise<boolean> {
  const m = await nfSocket().find(
    nftType(NFT_MSG_GETCHAIN),
    nfgenmsg(NFPROTO_INET),
    [str(NFTA_CHAIN_TABLE, TABLE), str(NFTA_CHAIN_NAME, chain)],
    `look for chain ${chain} of table ${FAMILY} ${TABLE}`,
    constants.errno.ENOENT,
  );
  return m !== undefined;
}

/** Each chain with its rules (one dump per chain). */
async function withRules(sock: NetlinkSocket, chains: ForeignChain[]): Promise<[ForeignChain, RuleInfo[]][]> {
  const out: [ForeignChain, RuleInfo[]][] = [];
  for (const c of chains) out.push([c, await listChainRules(sock, c)]);
  return out;
}

/** The group's rules in other tables' forward chains: delete operations for each. */
function foreignRulesOf(owner: string, listed: [ForeignChain, RuleInfo[]][]): NftOp[] {
  const tag = foreignTag(owner);
  return listed.flatMap(([c, rules]) =>
    rules.filter((r) => r.comment === tag).map((r) => delRule(c.table, c.chain, r.handle, FAMILIES[c.family])),
  );
}

/**
 * Writes a rule group in one batch: its chains, its rules, and its rules in the forward chains of other tables
 * that drop by policy. With `ifAbsent`, a group whose first chain exists already is left alone (false);
 * otherwise whatever exists of it is replaced (reload: after `nft flush ruleset`, or a firewall that came
 * after). Returns whether it wrote.
 */
export async function putGroup(g: RuleGroup, opts: { ifAbsent?: boolean } = {}): Promise<boolean> {
  const tag = safeComment(g.owner);
  safeComment(foreignTag(g.owner));
  return locked(async (sock) => {
    if (opts.ifAbsent && (await hasChain(g.chains[0]!))) return false;
    const forward = await withRules(sock, foreignForwardChains(await listChains(sock)));
    const old = (await listRules(sock)).filter((r) => ownerOf(r.comment) === tag).map(delOurRule);
    const ops: NftOp[] = [
      ...tableAndChains(),
      ...[...(g.shared ?? []), ...g.chains].map((c) => newChain(TABLE, c)),
      ...old, // every rule of the group's own chains is the group's: they are left empty
      ...g.rules.map((r) => ruleOp(tag, r)),
      ...foreignRulesOf(g.owner, forward),
    ];
    if (g.foreign) {
      for (const [c, rules] of forward.filter(([f]) => f.policy === 'drop')) {
        const after = rules.find((r) => r.jumps.includes(USER_CHAIN))?.handle;
        for (const exprs of g.foreign(c))
          ops.push(
            newRule(c.table, c.chain, exprs, foreignTag(g.owner), {
              insert: true,
              ...(after === undefined ? {} : { after }),
              family: FAMILIES[c.family],
            }),
          );
      }
    }
    await apply(sock, ops, `write the forwarding rules of ${tag}`);
    return true;
  });
}

/**
 * Removes a rule group in one batch: its rules here and in other tables' forward chains, its chains, and the
 * table if no rule is left. Idempotent; returns how many of its rules in our table it removed.
 */
export async function removeGroup(owner: string, chains: string[]): Promise<number> {
  const tag = safeComment(owner);
  return locked(async (sock) => {
    const all = await listChains(sock);
    const present = new Set(all.filter((c) => c.family === NFPROTO_INET && c.table === TABLE).map((c) => c.name));
    const foreign = foreignRulesOf(owner, await withRules(sock, foreignForwardChains(all)));
    const removed = await removeWhere(sock, (r) => r.owner === tag, `the forwarding rules of ${tag}`, {
      chains: chains.filter((c) => present.has(c)),
      foreign,
    });
    return removed.length;
  });
}
