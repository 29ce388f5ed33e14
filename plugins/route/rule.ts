// Policy routing inside a container's netns from outside: `tsnet rule add|del|ls <container> …`, in
// `ip rule`'s words (from, to, iif, oif, fwmark, table/lookup, priority/pref, blackhole|unreachable|prohibit).
import type { Netns } from '../../native/netns.js';
import { isNetlinkError } from '../../native/netlink/errors.js';
import {
  FR_ACT_BLACKHOLE,
  FR_ACT_PROHIBIT,
  FR_ACT_TO_TBL,
  FR_ACT_UNREACHABLE,
  type RuleEntry,
  type RuleSpec,
} from '../../native/netlink/rule.js';
import { AF_INET, AF_INET6 } from '../../native/netlink/constants.js';
import { CidrError, formatPrefix, parseCidr } from '../../ipam/cidr.js';
import { AttachErrorCode, PluginError } from '../shared/errors.js';
import { checkIfname } from '../shared/ifname.js';

const HINT =
  'write [from CIDR|all] [to CIDR] [iif IF] [oif IF] [fwmark N[/MASK]] [table N|lookup N] [priority N] [blackhole|unreachable|prohibit]';
const TABLES: Record<string, number> = { main: 254, local: 255, default: 253 };
const ACTIONS: Record<string, number> = { blackhole: FR_ACT_BLACKHOLE, unreachable: FR_ACT_UNREACHABLE, prohibit: FR_ACT_PROHIBIT };

function num(word: string, what: string, max = 0xffffffff): number {
  const v = /^0x[0-9a-f]+$/i.test(word) ? parseInt(word, 16) : /^\d+$/.test(word) ? Number(word) : NaN;
  if (!Number.isInteger(v) || v < 0 || v > max) throw new PluginError(`${what} ${JSON.stringify(word)}`, 'not a number in range', HINT);
  return v;
}

function cidr(word: string, what: string): string {
  try {
    const { prefix } = parseCidr(word.includes('/') ? word : `${word}/${word.includes(':') ? 128 : 32}`);
    return formatPrefix(prefix);
  } catch (e) {
    throw new PluginError(`${what} ${JSON.stringify(word)}`, e instanceof CidrError ? e.message : String(e), HINT);
  }
}

/** Parses `ip rule` words into a rule; `family` 6 (or an IPv6 prefix) makes it an IPv6 rule. */
export function parseRuleWords(words: string[], family?: 4 | 6): RuleSpec {
  const r: RuleSpec = { family: family === 6 ? AF_INET6 : AF_INET };
  let fam = family;
  const setFam = (p: string) => {
    const f = p.includes(':') ? 6 : 4;
    if (fam && fam !== f) throw new PluginError(`rule ${words.join(' ')}`, 'mixes IPv4 and IPv6', 'one family per rule');
    fam = f;
    r.family = f === 6 ? AF_INET6 : AF_INET;
  };
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!;
    if (w in ACTIONS) {
      r.action = ACTIONS[w]!;
      continue;
    }
    const v = words[i + 1];
    if (v === undefined)
      throw new PluginError(
        `rule word ${JSON.stringify(w)}`,
        v === undefined && w in ACTIONS ? '' : `"${w}" needs a value, or is not a rule word`,
        HINT,
      );
    i++;
    switch (w) {
      case 'from':
        if (v !== 'all') {
          r.from = cidr(v, 'from');
          setFam(r.from);
        }
        break;
      case 'to':
        r.to = cidr(v, 'to');
        setFam(r.to);
        break;
      case 'iif':
      case 'dev':
        checkIfname(v, 'iif');
        r.iif = v;
        break;
      case 'oif':
        checkIfname(v, 'oif');
        r.oif = v;
        break;
      case 'fwmark': {
        const [m, mask] = v.split('/');
        r.fwmark = num(m!, 'fwmark');
        if (mask !== undefined) r.fwmask = num(mask, 'fwmark mask');
        break;
      }
      case 'table':
      case 'lookup':
        r.table = TABLES[v] ?? num(v, 'table');
        r.action = FR_ACT_TO_TBL;
        break;
      case 'priority':
      case 'pref':
      case 'prio':
        r.priority = num(v, 'priority');
        break;
      default:
        throw new PluginError(`rule word ${JSON.stringify(w)}`, 'is not a rule word tsnet knows', HINT);
    }
  }
  if ((r.action ?? FR_ACT_TO_TBL) === FR_ACT_TO_TBL && r.table === undefined)
    throw new PluginError(
      `rule ${words.join(' ')}`,
      'says neither which table to look up nor an action',
      `add "table N" (or blackhole, unreachable, prohibit); ${HINT}`,
    );
  return r;
}

export function formatRule(r: RuleSpec | RuleEntry): string {
  const action = Object.entries(ACTIONS).find(([, a]) => a === r.action)?.[0];
  const table = Object.entries(TABLES).find(([, t]) => t === r.table)?.[0] ?? r.table;
  return [
    r.priority !== undefined && `${r.priority}:`,
    `from ${r.from ?? 'all'}`,
    r.to && `to ${r.to}`,
    r.iif && `iif ${r.iif}`,
    r.oif && `oif ${r.oif}`,
    r.fwmark !== undefined && `fwmark 0x${r.fwmark.toString(16)}${r.fwmask !== undefined ? `/0x${r.fwmask.toString(16)}` : ''}`,
    action ?? `lookup ${table}`,
  ]
    .filter(Boolean)
    .join(' ');
}

export async function addRule(ns: Netns, r: RuleSpec): Promise<void> {
  try {
    await ns.rtnl.addRule(r);
  } catch (e) {
    if (isNetlinkError(e, 'EEXIST'))
      throw new PluginError(
        `rule ${formatRule(r)}`,
        `already exists in ${ns.label}`,
        "list the rules with 'tsnet rule ls <container>'",
        AttachErrorCode.BadArgument,
      );
    throw new PluginError(`rule ${formatRule(r)} in ${ns.label}`, (e as Error).message, HINT, AttachErrorCode.Kernel);
  }
}

export async function deleteRule(ns: Netns, r: RuleSpec): Promise<void> {
  try {
    await ns.rtnl.deleteRule(r);
  } catch (e) {
    if (isNetlinkError(e, 'ENOENT'))
      throw new PluginError(
        `rule ${formatRule(r)}`,
        `does not exist in ${ns.label}`,
        "list the rules with 'tsnet rule ls <container>'",
        AttachErrorCode.BadArgument,
      );
    throw new PluginError(`rule ${formatRule(r)} in ${ns.label}`, (e as Error).message, HINT, AttachErrorCode.Kernel);
  }
}

export async function listRules(ns: Netns, family?: 4 | 6): Promise<RuleEntry[]> {
  return ns.rtnl.rules(family === 6 ? AF_INET6 : family === 4 ? AF_INET : 0);
}
