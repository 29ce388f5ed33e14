// tsnet's nftables rules (masquerade for ipMasq, DNAT for published ports), all in one table of our own,
// `inet tsnet`, so nothing of the host's firewall is touched. Rules carry a comment naming their owner and
// are removed by owner; the table is removed when its last rule goes.
//
// This module drives the `nft` program (Debian package nftables) rather than speaking NETLINK_NETFILTER
// itself: the one place where native/ uses a helper binary. Its input is a script built from typed values.
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { LOCK_EX, LOCK_NB, native } from './addon.js';

export const TABLE = 'tsnet';
export const FAMILY = 'inet';

const NFT_CANDIDATES = ['/usr/sbin/nft', '/sbin/nft', '/usr/bin/nft'];

export class NftError extends Error {
  constructor(msg: string) {
    super(msg);
    this.name = 'NftError';
  }
}

function nftBinary(): string {
  const found = NFT_CANDIDATES.find((p) => existsSync(p));
  if (!found) throw new NftError(`nftables is needed for ipMasq and published ports but 'nft' was not found (looked in ${NFT_CANDIDATES.join(', ')}); install it with 'apt-get install nftables'`);
  return found;
}

/**
 * Runs nft in this process's netns (plugins run in the host netns, as the runtime invokes them), without
 * blocking the event loop: the daemon serves other requests meanwhile.
 */
function nft(args: string[], script?: string): Promise<string> {
  const bin = nftBinary();
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d));
    child.stderr.on('data', (d: Buffer) => (err += d));
    child.stdin.on('error', () => undefined);
    child.on('error', (e) => reject(new NftError(`nft ${args.join(' ')}: ${e.message}`)));
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new NftError(`nft ${args.join(' ')}: ${(err || out).trim()}`))));
    child.stdin.end(script ?? '');
  });
}

/** A comment is the rule's owner tag: letters, digits and ._:-/ only (it goes inside quotes in a script). */
function safeComment(c: string): string {
  if (!/^[A-Za-z0-9._:\-/]{1,120}$/.test(c)) throw new NftError(`invalid nftables rule owner tag ${JSON.stringify(c)}`);
  return c;
}

const BASE_CHAINS = `
table ${FAMILY} ${TABLE} {
  chain postrouting { type nat hook postrouting priority srcnat; policy accept; }
  chain prerouting { type nat hook prerouting priority dstnat; policy accept; }
  chain output { type nat hook output priority -100; policy accept; }
}
`;

export type Chain = 'postrouting' | 'prerouting' | 'output';

const LOCK_DIR = '/run/tsnet';

/**
 * Serialises our table's changes across processes: "remove the table when empty" must not race an add. The
 * flock is polled (never a blocking wait on the event loop); it dies with its holder.
 */
async function locked<T>(fn: () => Promise<T>): Promise<T> {
  mkdirSync(LOCK_DIR, { recursive: true, mode: 0o700 });
  const fd = openSync(`${LOCK_DIR}/nftables.lock`, 'a', 0o600);
  try {
    const t0 = Date.now();
    for (let backoff = 1; !native().flock(fd, LOCK_EX | LOCK_NB); backoff = Math.min(backoff * 2, 20)) {
      if (Date.now() - t0 > 30_000) throw new NftError(`timed out after 30 s waiting for ${LOCK_DIR}/nftables.lock: another tsnet process holds it (find it with 'fuser ${LOCK_DIR}/nftables.lock')`);
      await sleep(backoff);
    }
    return await fn();
  } finally {
    closeSync(fd); // closing the only fd releases the flock
  }
}

/** A rule of our table as `nft list` prints it (without the handle), with its owner tag. */
export interface RuleText {
  chain: string;
  owner: string;
  text: string;
}

/** Every rule of our table with an owner tag, as text. */
async function ruleTexts(): Promise<RuleText[]> {
  let out: string;
  try {
    out = await nft(['list', 'table', FAMILY, TABLE]);
  } catch (e) {
    if (/No such file or directory|does not exist/i.test((e as Error).message)) return [];
    throw e;
  }
  const rules: RuleText[] = [];
  let chain = '';
  for (const line of out.split('\n')) {
    const c = /^\s*chain (\S+) \{/.exec(line);
    if (c) chain = c[1]!;
    const r = /^\s*(.*?) comment "([^"]*)"\s*$/.exec(line);
    if (r && chain) rules.push({ chain, owner: r[2]!, text: r[1]! });
  }
  return rules;
}

/**
 * Adds rules (nft rule bodies) to a chain of our table, each tagged with `owner`; creates the table if needed.
 * `guard` sees the table's current rules under the same lock and may throw to refuse (e.g. a port taken).
 */
export async function addRules(chain: Chain, owner: string, bodies: string[], guard?: (existing: RuleText[]) => void): Promise<void> {
  const tag = safeComment(owner);
  const lines = bodies.map((b) => {
    if (/[;{}\n"]/.test(b)) throw new NftError(`refusing nftables rule with control characters: ${b}`);
    return `add rule ${FAMILY} ${TABLE} ${chain} ${b} comment "${tag}"`;
  });
  await locked(async () => {
    guard?.(await ruleTexts());
    await nft(['-f', '-'], BASE_CHAINS + lines.join('\n') + '\n');
  });
}

interface RuleJson {
  rule?: { chain: string; handle: number; comment?: string };
}

/** Handles of the rules in our table whose owner tag equals or starts with `ownerPrefix`. */
export async function ruleHandles(ownerPrefix: string): Promise<{ chain: string; handle: number; owner: string }[]> {
  let out: string;
  try {
    out = await nft(['-j', 'list', 'table', FAMILY, TABLE]);
  } catch (e) {
    if (/No such file or directory|does not exist/i.test((e as Error).message)) return [];
    throw e;
  }
  const parsed = JSON.parse(out) as { nftables: RuleJson[] };
  return parsed.nftables
    .filter((x) => x.rule && x.rule.comment !== undefined && x.rule.comment.startsWith(ownerPrefix))
    .map((x) => ({ chain: x.rule!.chain, handle: x.rule!.handle, owner: x.rule!.comment! }));
}

/** Removes every rule tagged `owner` (exactly), then the table if no rule is left. Idempotent. */
export async function removeRules(owner: string): Promise<number> {
  return locked(async () => {
    const handles = (await ruleHandles(owner)).filter((h) => h.owner === owner);
    if (handles.length) await nft(['-f', '-'], handles.map((h) => `delete rule ${FAMILY} ${TABLE} ${h.chain} handle ${h.handle}`).join('\n') + '\n');
    await removeTableIfEmpty();
    return handles.length;
  });
}

async function removeTableIfEmpty(): Promise<void> {
  let out: string;
  try {
    out = await nft(['-j', 'list', 'table', FAMILY, TABLE]);
  } catch {
    return;
  }
  const parsed = JSON.parse(out) as { nftables: RuleJson[] };
  if (!parsed.nftables.some((x) => x.rule)) await nft(['delete', 'table', FAMILY, TABLE]);
}
