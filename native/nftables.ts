// tsnet's nftables rules (masquerade for ipMasq, DNAT for published ports), all in one table of our own,
// `inet tsnet`, so nothing of the host's firewall is touched. Spoken over NETLINK_NETFILTER in the namespace
// this process runs in: each change is one nf_tables batch, applied by the kernel all or nothing. Rules carry
// a comment naming their owner (what `nft list` shows) and are removed by owner; the table goes with its last
// rule.
import { TsnetError } from '../common/errors.js';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { LOCK_EX, LOCK_NB, native } from './addon.js';
import { str, type Attr } from './netlink/attrs.js';
import { isNetlinkError } from './netlink/errors.js';
import {
  batchCount,
  decodeRule,
  delRule,
  delTable,
  encodeBatch,
  NETLINK_NETFILTER,
  newNatChain,
  newRule,
  newTable,
  NF_INET_LOCAL_OUT,
  NF_INET_POST_ROUTING,
  NF_INET_PRE_ROUTING,
  NFPROTO_INET,
  NFT_MSG_GETRULE,
  NFTA_RULE_TABLE,
  nfgenmsg,
  nftType,
  type NftOp,
  type RuleInfo,
} from './netlink/nftables-msg.js';
import { NetlinkSocket } from './netlink/socket.js';

export { masqueradeRule, dnatRule } from './netlink/nftables-msg.js';

export const TABLE = 'tsnet';
export const FAMILY = 'inet';

export type Chain = 'postrouting' | 'prerouting' | 'output';

const CHAINS: { name: Chain; hook: number; priority: number }[] = [
  { name: 'postrouting', hook: NF_INET_POST_ROUTING, priority: 100 }, // srcnat
  { name: 'prerouting', hook: NF_INET_PRE_ROUTING, priority: -100 }, // dstnat
  { name: 'output', hook: NF_INET_LOCAL_OUT, priority: -100 },
];

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
 * for; a one-shot plugin pays it once, at exit.
 */
function nfSocket(): NetlinkSocket {
  socket ??= new NetlinkSocket(null, { protocol: NETLINK_NETFILTER });
  return socket;
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

/** Every rule of our table (none when the table does not exist). */
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

const ownerOf = (comment: string | undefined): string | undefined => comment?.split('|')[0];

const textOf = (r: RuleInfo & { comment: string }): RuleText => {
  const owner = ownerOf(r.comment)!;
  return { chain: r.chain, owner, text: r.comment.slice(owner.length + 1) };
};

const tagged = (r: RuleInfo): r is RuleInfo & { comment: string } => r.comment !== undefined;

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
    const ruleOps = rules.map((r) => newRule(TABLE, r.chain, r.exprs, r.note ? `${tag}|${r.note}` : tag));
    const what = `add ${rules.length} rule(s) for ${tag} to table ${FAMILY} ${TABLE}`;
    // Only the rules when the table is there: re-declaring existing base chains makes the kernel do
    // work when the socket closes. The table and its chains are made when it answers ENOENT.
    try {
      await sock.batch(batchCount(ruleOps), ruleOps.length, (seq) => encodeBatch(ruleOps, seq), what);
    } catch (e) {
      if (!isNetlinkError(e, 'ENOENT')) throw e; // no table or chain yet: make them with the rules
      await apply(sock, [newTable(TABLE), ...CHAINS.map((c) => newNatChain(TABLE, c.name, c.hook, c.priority)), ...ruleOps], what);
    }
  });
}

/** Every rule of our table with its owner tag and note: for tests, diagnostics and GC. */
export async function ruleTexts(): Promise<RuleText[]> {
  return locked(async (sock) => (await listRules(sock)).filter(tagged).map(textOf));
}

/**
 * Removes every rule `match` picks, in one batch, then the table if no rule is left; returns what it removed.
 * `match` sees each tagged rule under the table's lock (a rule added meanwhile is seen, or not yet there).
 */
async function removeWhere(sock: NetlinkSocket, match: (r: RuleText) => boolean, what: string): Promise<RuleText[]> {
  const rules = await listRules(sock);
  const mine = rules.filter((r) => tagged(r) && match(textOf(r)));
  const ops = mine.map((r) => delRule(TABLE, r.chain, r.handle));
  if (rules.length > 0 && mine.length === rules.length) ops.push(delTable(TABLE));
  else if (rules.length === 0) {
    // An empty table left by an earlier run: remove it (ENOENT when there is none at all).
    try {
      await apply(sock, [delTable(TABLE)], `delete table ${FAMILY} ${TABLE}`);
    } catch (e) {
      if (!isNetlinkError(e, 'ENOENT')) throw e;
    }
    return [];
  }
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
