// The one place tsnet runs a firewall program. A host on legacy iptables (x_tables, not nf_tables) has no
// netlink path to its rules — a table is read and replaced whole through getsockopt/setsockopt
// (IPT_SO_SET_REPLACE), whose layout is the kernel's struct ipt_entry chain — and its FORWARD chain drops
// traffic that tsnet's nftables table accepts (both run at the same hook; a drop anywhere is final). Where the
// legacy `filter` table exists in this namespace and its FORWARD policy is DROP, tsnet's accept rules are
// inserted and deleted with iptables-legacy / ip6tables-legacy (`-w`: waiting for the xtables lock), as
// libvirt and netavark's iptables driver did. Where no legacy filter table exists (the usual case, and every
// iptables-nft host), nothing is run: /proc/net/ip{,6}_tables_names says so.
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { childProcess } from '../common/builtins.js';
import { TsnetError } from '../common/errors.js';
import { USER_CHAIN } from './nftables.js';

export type LegacyFamily = 'ip' | 'ip6';

const PROGRAM: Record<LegacyFamily, string> = { ip: 'iptables-legacy', ip6: 'ip6tables-legacy' };
const NAMES: Record<LegacyFamily, string> = { ip: '/proc/net/ip_tables_names', ip6: '/proc/net/ip6_tables_names' };

/** Whether this namespace has the legacy `filter` table of `family` (x_tables lists its tables in /proc). */
function hasLegacyFilter(family: LegacyFamily): boolean {
  try {
    return readFileSync(NAMES[family], 'utf8').split('\n').includes('filter');
  } catch {
    return false; // no x_tables in this kernel
  }
}

/** Runs a program with arguments; rejects as execFile does (code ENOENT when missing, stdout/stderr on failure). */
export type Runner = (program: string, args: string[]) => Promise<{ stdout: string; stderr: string }>;

const execRunner: Runner = (program, args) => promisify(childProcess().execFile)(program, args, { encoding: 'utf8' });

async function iptables(
  family: LegacyFamily,
  args: string[],
  exec: Runner = execRunner,
): Promise<{ ok: boolean; stdout: string; stderr: string }> {
  try {
    const r = await exec(PROGRAM[family], ['-w', ...args]);
    return { ok: true, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const err = e as NodeJS.ErrnoException & { stdout?: string; stderr?: string };
    if (err.code === 'ENOENT')
      throw new TsnetError(
        `legacy ${family === 'ip' ? 'iptables' : 'ip6tables'} filter table`,
        `it exists in this namespace, and ${PROGRAM[family]}, which tsnet needs to read and change it, is not installed`,
        `install the iptables package, or let the bridge's traffic through FORWARD yourself ('"amendHostFirewall": false' in the bridge plugin's config keeps tsnet out of it)`,
      );
    return { ok: false, stdout: err.stdout ?? '', stderr: err.stderr ?? '' };
  }
}

/** The legacy families whose filter FORWARD chain drops by policy here. */
export async function legacyForwardDrops(): Promise<LegacyFamily[]> {
  const out: LegacyFamily[] = [];
  for (const f of ['ip', 'ip6'] as const) {
    if (!hasLegacyFilter(f)) continue;
    const r = await iptables(f, ['-S', 'FORWARD']);
    if (r.ok && /^-P FORWARD DROP$/m.test(r.stdout)) out.push(f);
  }
  return out;
}

/**
 * Puts each rule (iptables arguments after the chain) in FORWARD unless it is there (`-C`): right after the jump
 * to DOCKER-USER where there is one (a user's rules there filter tsnet's networks too, as they filter Docker's),
 * else first. FORWARD is listed once per call, when the first rule is missing: an insert goes after the jump, so
 * the jump keeps its position for the next one. `exec` runs the program (tests count the calls).
 */
export async function legacyInsert(family: LegacyFamily, rules: string[][], exec: Runner = execRunner): Promise<void> {
  let at: string[] | undefined; // where the inserts go: after the jump ([position]) or first ([])
  for (const rule of rules) {
    if ((await iptables(family, ['-C', 'FORWARD', ...rule], exec)).ok) continue;
    if (!at) {
      const listed = await iptables(family, ['-S', 'FORWARD'], exec);
      const appended = listed.stdout.split('\n').filter((l) => l.startsWith('-A FORWARD '));
      const jump = appended.indexOf(`-A FORWARD -j ${USER_CHAIN}`);
      at = jump >= 0 ? [String(jump + 2)] : [];
    }
    const r = await iptables(family, ['-I', 'FORWARD', ...at, ...rule], exec);
    if (!r.ok)
      throw new TsnetError(
        `${PROGRAM[family]} -I FORWARD ${rule.join(' ')}`,
        r.stderr.trim() || 'failed',
        'check the legacy iptables setup of this host',
      );
  }
}

/** Deletes every copy of each rule from FORWARD, in every legacy filter table there is. Idempotent. */
export async function legacyDelete(rules: string[][]): Promise<void> {
  for (const f of ['ip', 'ip6'] as const) {
    if (!hasLegacyFilter(f)) continue;
    for (const rule of rules) {
      for (let i = 0; i < 100 && (await iptables(f, ['-D', 'FORWARD', ...rule])).ok; i++);
    }
  }
}
