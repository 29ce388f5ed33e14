// Traffic control inside a container's netns from outside: `tsnet tc <container> qdisc …`, the root qdiscs
// pipework users set — tbf (a rate limit: rate, burst, latency or limit), netem (delay, jitter, loss) and prio
// (priority bands) — written over netlink. A kind the kernel lacks is named as such.
import type { Netns } from '../../native/netns.js';
import { isNetlinkError } from '../../native/netlink/errors.js';
import type { QdiscEntry, QdiscSpec } from '../../native/netlink/tc.js';
import { AttachErrorCode, PluginError } from '../shared/errors.js';

const HINT =
  'write: tbf rate RATE burst SIZE (latency TIME | limit SIZE)  |  netem delay TIME [JITTER] [loss N%]  |  prio [bands N]; e.g. tbf rate 1mbit burst 32kbit latency 400ms';

const RATE_UNITS: Record<string, number> = {
  bit: 1 / 8,
  kbit: 1000 / 8,
  mbit: 1e6 / 8,
  gbit: 1e9 / 8,
  bps: 1,
  kbps: 1000,
  mbps: 1e6,
  gbps: 1e9,
};
const SIZE_UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  k: 1024,
  kb: 1024,
  m: 1024 * 1024,
  mb: 1024 * 1024,
  kbit: 1024 / 8,
  mbit: (1024 * 1024) / 8,
};
const TIME_UNITS: Record<string, number> = { us: 1, usec: 1, ms: 1000, msec: 1000, s: 1e6, sec: 1e6 };

function unit(word: string, table: Record<string, number>, what: string, example: string): number {
  const m = /^(\d+(?:\.\d+)?)([a-z]*)$/i.exec(word);
  const f = m ? table[m[2]!.toLowerCase()] : undefined;
  if (!m || f === undefined)
    throw new PluginError(`${what} ${JSON.stringify(word)}`, `not a ${what} tc understands`, `write e.g. ${example}`);
  return Math.round(Number(m[1]) * f);
}
export const parseRate = (w: string) => unit(w, RATE_UNITS, 'rate', '1mbit, 500kbit, 10mbps (bytes/s)');
export const parseSize = (w: string) => unit(w, SIZE_UNITS, 'size', '32kbit, 10kb, 1500');
export const parseTimeUs = (w: string) => unit(w, TIME_UNITS, 'time', '400ms, 50us, 1s');

/** Parses the words after the kind: "tbf rate 1mbit burst 32kbit latency 400ms" … */
export function parseQdiscWords(words: string[]): QdiscSpec {
  const [kind, ...rest] = words;
  const kv = new Map<string, string>();
  const flags: string[] = [];
  for (let i = 0; i < rest.length; i++) {
    const w = rest[i]!;
    if (kind === 'netem' && w === 'delay') {
      kv.set('delay', rest[++i] ?? '');
      if (rest[i + 1] && /^\d/.test(rest[i + 1]!)) kv.set('jitter', rest[++i]!);
    } else if (rest[i + 1] !== undefined) kv.set(w, rest[++i]!);
    else flags.push(w);
  }
  if (flags.length) throw new PluginError(`tc word ${JSON.stringify(flags[0])}`, 'needs a value, or is not a word tsnet knows here', HINT);
  const known = (ok: string[]) => {
    for (const k of kv.keys())
      if (!ok.includes(k)) throw new PluginError(`tc word ${JSON.stringify(k)}`, `is not a ${kind} option tsnet knows`, HINT);
  };
  switch (kind) {
    case 'tbf': {
      known(['rate', 'burst', 'buffer', 'latency', 'limit']);
      const rateW = kv.get('rate');
      const burstW = kv.get('burst') ?? kv.get('buffer');
      if (!rateW || !burstW) throw new PluginError('tbf', 'needs rate and burst', HINT);
      const rate = parseRate(rateW);
      const burst = parseSize(burstW);
      if (rate <= 0 || burst <= 0) throw new PluginError('tbf', 'rate and burst must be more than 0', HINT);
      let limit: number;
      if (kv.has('limit')) limit = parseSize(kv.get('limit')!);
      else if (kv.has('latency'))
        limit = Math.round((rate * parseTimeUs(kv.get('latency')!)) / 1e6 + burst); // as tc computes it
      else throw new PluginError('tbf', 'needs latency or limit (how much may wait in the queue)', HINT);
      return { kind: 'tbf', rate, burst, limit };
    }
    case 'netem': {
      known(['delay', 'jitter', 'loss', 'limit']);
      const loss = kv.get('loss');
      if (loss !== undefined && !/^\d+(\.\d+)?%?$/.test(loss))
        throw new PluginError(`loss ${JSON.stringify(loss)}`, 'not a percentage', 'write e.g. loss 1%');
      return {
        kind: 'netem',
        delayUs: kv.has('delay') ? parseTimeUs(kv.get('delay')!) : 0,
        ...(kv.has('jitter') ? { jitterUs: parseTimeUs(kv.get('jitter')!) } : {}),
        ...(loss !== undefined ? { lossPercent: Number(loss.replace('%', '')) } : {}),
        ...(kv.has('limit') ? { limit: Number(kv.get('limit')) } : {}),
      };
    }
    case 'prio': {
      known(['bands']);
      const bands = kv.has('bands') ? Number(kv.get('bands')) : 3;
      if (!Number.isInteger(bands) || bands < 2 || bands > 16) throw new PluginError(`bands ${kv.get('bands')}`, 'must be 2 to 16', HINT);
      return { kind: 'prio', bands };
    }
    default:
      throw new PluginError(`qdisc ${JSON.stringify(kind ?? '')}`, 'is not a qdisc tsnet sets (tbf, netem, prio)', HINT);
  }
}

const CONFIG: Record<string, string> = { tbf: 'CONFIG_NET_SCH_TBF', netem: 'CONFIG_NET_SCH_NETEM', prio: 'CONFIG_NET_SCH_PRIO' };

export async function setRootQdisc(ns: Netns, dev: string, spec: QdiscSpec): Promise<void> {
  try {
    await ns.rtnl.replaceRootQdisc(dev, spec);
  } catch (e) {
    if (isNetlinkError(e, 'ENOENT') && /qdisc kind is unknown/i.test((e as Error).message))
      throw new PluginError(
        `qdisc ${spec.kind} on ${dev} in ${ns.label}`,
        `this kernel has no ${spec.kind} qdisc (${CONFIG[spec.kind]} not built, or its module sch_${spec.kind} not loadable)`,
        spec.kind === 'tbf' ? 'use a kernel with it' : `use a kernel with ${CONFIG[spec.kind]}, or a rate limit with tbf`,
        AttachErrorCode.Unsupported,
      );
    if (isNetlinkError(e, 'ENODEV') || /no such (device|interface)|not found/i.test((e as Error).message))
      throw new PluginError(
        `interface ${dev}`,
        `does not exist in ${ns.label}`,
        "name one of the container's interfaces with dev IF",
        AttachErrorCode.BadArgument,
      );
    throw new PluginError(`qdisc ${spec.kind} on ${dev} in ${ns.label}`, (e as Error).message, HINT, AttachErrorCode.Kernel);
  }
}

export async function deleteRootQdisc(ns: Netns, dev: string): Promise<void> {
  try {
    await ns.rtnl.deleteRootQdisc(dev);
  } catch (e) {
    if (isNetlinkError(e, 'ENOENT') || isNetlinkError(e, 'EINVAL'))
      throw new PluginError(
        `root qdisc of ${dev}`,
        `there is none of tsnet's to delete in ${ns.label} (the kernel's default is in place)`,
        "list them with 'tsnet tc <container> qdisc ls'",
        AttachErrorCode.BadArgument,
      );
    throw new PluginError(`root qdisc of ${dev} in ${ns.label}`, (e as Error).message, undefined, AttachErrorCode.Kernel);
  }
}

export async function listQdiscs(ns: Netns, dev?: string): Promise<(QdiscEntry & { dev: string })[]> {
  const links = await ns.rtnl.links();
  return (await ns.rtnl.qdiscs(dev)).map((q) => ({ ...q, dev: links.find((l) => l.index === q.index)?.name ?? `#${q.index}` }));
}
