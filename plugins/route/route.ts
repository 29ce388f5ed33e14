// Route injection: static routes edited inside a container's netns from outside (the container needs no
// capability) — `tsnet route add|del|ls` and the chained CNI plugin `route` share this module.
import type { Netns } from '../../native/netns.js';
import { isNetlinkError } from '../../native/netlink/errors.js';
import type { RouteEntry, RouteSpec } from '../../native/netlink/route.js';
import { CidrError, formatAddr, formatPrefix, parseAddr, parseCidr } from '../../ipam/cidr.js';
import { PluginError, AttachErrorCode } from '../shared/errors.js';
import { checkIfname } from '../shared/ifname.js';
import { toRouteSpec } from '../shared/configure-iface.js';
import type { Route } from '../cni/types.js';
import { AF_INET6, RT_TABLE_MAIN, RTN_UNICAST } from '../../native/netlink/constants.js';

export interface RouteRequest {
  /** "192.168.0.0/16" or "default" (IPv4) / "default6"… normalised: "default" | "::/0" forms become default. */
  dst: string;
  via?: string;
  dev?: string;
  metric?: number;
  table?: number;
  /** proto: static (the default), boot, kernel, dhcp, or a number. */
  protocol?: number;
  /** scope: global, link, host, or a number. */
  scope?: number;
  /** src: the source address the kernel prefers for this route. */
  src?: string;
}

const HINT =
  'write <dst-cidr> via <gw> [dev <ifname>] [metric N] [table N] [proto P] [scope S] [src IP], e.g. 192.168.0.0/16 via 192.168.115.2';
const PROTOS: Record<string, number> = { kernel: 2, boot: 3, static: 4, dhcp: 16 };
const SCOPES: Record<string, number> = { global: 0, universe: 0, site: 200, link: 253, host: 254 };

function family(r: RouteRequest): 4 | 6 {
  if (r.dst === 'default') return r.via?.includes(':') ? 6 : 4;
  return r.dst.includes(':') ? 6 : 4;
}

/** Checks a destination: a CIDR with no host bits set, or "default". */
export function checkDst(text: string): string {
  if (text === 'default' || text === '0.0.0.0/0') return 'default';
  if (text === '::/0' || text === 'default6') return '::/0';
  if (!text.includes('/')) {
    try {
      const a = parseAddr(text);
      throw new PluginError(
        `destination ${text}`,
        'has no prefix length',
        `did you mean ${text}/${a.family === 4 ? 32 : 128} (one host) or a network such as ${text}/24? ${HINT}`,
      );
    } catch (e) {
      if (e instanceof PluginError) throw e;
      throw new PluginError(`destination ${JSON.stringify(text)}`, 'not a CIDR or "default"', HINT);
    }
  }
  let p;
  try {
    p = parseCidr(text);
  } catch (e) {
    throw new PluginError(`destination ${JSON.stringify(text)}`, e instanceof CidrError ? e.message : String(e), HINT);
  }
  if (p.addr.value !== p.prefix.network)
    throw new PluginError(`destination ${text}`, 'has host bits set', `did you mean ${formatPrefix(p.prefix)}?`);
  return formatPrefix(p.prefix);
}

function checkVia(gw: string, dst: string): string {
  let a;
  try {
    a = parseAddr(gw);
  } catch (e) {
    throw new PluginError(`gateway ${JSON.stringify(gw)}`, (e as Error).message, HINT);
  }
  const dstFamily = dst === 'default' ? a.family : dst.includes(':') ? 6 : 4;
  if (a.family !== dstFamily)
    throw new PluginError(
      `gateway ${gw}`,
      `is IPv${a.family} but the destination ${dst} is IPv${dstFamily}`,
      'use a gateway of the same family',
    );
  return formatAddr(a);
}

function number(v: string | undefined, what: string, min: number, max: number): number {
  if (v === undefined || !/^\d+$/.test(v) || Number(v) < min || Number(v) > max)
    throw new PluginError(`${what} ${JSON.stringify(v ?? '')}`, `not a number from ${min} to ${max}`, HINT);
  return Number(v);
}

/** Parses ip-route-like words: `<dst> [via <gw>] [dev <ifname>] [metric N] [table N]`. */
export function parseRouteWords(words: string[], opts: { needTarget?: boolean } = {}): RouteRequest {
  if (!words.length) throw new PluginError('route', 'missing <dst-cidr>', HINT);
  const dst = checkDst(words[0]!);
  const r: RouteRequest = { dst };
  for (let i = 1; i < words.length; i += 2) {
    const k = words[i]!;
    const v = words[i + 1];
    if (v === undefined && ['via', 'dev', 'metric', 'table', 'priority', 'proto', 'scope', 'src'].includes(k))
      throw new PluginError(`route ${words.join(' ')}`, `"${k}" needs a value`, HINT);
    switch (k) {
      case 'via':
        r.via = checkVia(v!, dst);
        break;
      case 'dev':
        checkIfname(v!, 'dev');
        r.dev = v!;
        break;
      case 'metric':
      case 'priority':
        r.metric = number(v, 'metric', 0, 0xffffffff);
        break;
      case 'table':
        r.table = number(v, 'table', 1, 0xffffffff);
        break;
      case 'proto':
        r.protocol = PROTOS[v!] ?? number(v, 'proto', 0, 255);
        break;
      case 'scope':
        r.scope = SCOPES[v!] ?? number(v, 'scope', 0, 255);
        break;
      case 'src': {
        let a;
        try {
          a = parseAddr(v!);
        } catch {
          throw new PluginError(`src ${JSON.stringify(v)}`, 'not an IP address', HINT);
        }
        if ((a.family === 6) !== (family(r) === 6))
          throw new PluginError(`src ${v}`, `is IPv${a.family} but the destination is IPv${family(r)}`, 'give a source of the same family');
        r.src = formatAddr(a);
        break;
      }
      default:
        throw new PluginError(`route ${words.join(' ')}`, `unexpected word ${JSON.stringify(k)}`, HINT);
    }
  }
  if (opts.needTarget && !r.via && !r.dev) throw new PluginError(`route ${words.join(' ')}`, 'needs "via <gw>" or "dev <ifname>"', HINT);
  return r;
}

export function formatRoute(r: RouteRequest): string {
  return [
    r.dst,
    r.via && `via ${r.via}`,
    r.dev && `dev ${r.dev}`,
    r.metric !== undefined && `metric ${r.metric}`,
    r.table !== undefined && `table ${r.table}`,
    r.protocol !== undefined && `proto ${Object.entries(PROTOS).find(([, n]) => n === r.protocol)?.[0] ?? r.protocol}`,
    r.scope !== undefined && `scope ${Object.entries(SCOPES).find(([, n]) => n === r.scope)?.[0] ?? r.scope}`,
    r.src && `src ${r.src}`,
  ]
    .filter(Boolean)
    .join(' ');
}

async function spec(ns: Netns, r: RouteRequest): Promise<RouteSpec> {
  let oif: number | undefined;
  if (r.dev) {
    const l = await ns.rtnl.findLink(r.dev);
    if (!l)
      throw new PluginError(
        `dev ${r.dev}`,
        `no such interface in ${ns.label}`,
        "list them with 'ip -n <netns> link', or drop 'dev' to let the kernel pick it from the gateway",
      );
    oif = l.index;
  }
  return {
    ...toRouteSpec(toCniRoute(r), oif),
    ...(r.protocol !== undefined ? { protocol: r.protocol } : {}),
    ...(r.scope !== undefined ? { scope: r.scope } : {}),
    ...(r.src ? { prefsrc: r.src } : {}),
  };
}

/** The request as a CNI route (what the chained plugin reports, and what toRouteSpec takes). */
export function toCniRoute(r: RouteRequest): Route {
  const dst = r.dst === 'default' ? (family(r) === 6 ? '::/0' : '0.0.0.0/0') : r.dst;
  return {
    dst,
    ...(r.via ? { gw: r.via } : {}),
    ...(r.metric !== undefined ? { priority: r.metric } : {}),
    ...(r.table !== undefined ? { table: r.table } : {}),
  };
}

function explain(e: unknown, r: RouteRequest, ns: Netns, verb: 'add' | 'del'): never {
  if (e instanceof PluginError) throw e;
  const what = `route ${formatRoute(r)}`;
  if (verb === 'add' && isNetlinkError(e, 'EEXIST'))
    throw new PluginError(
      what,
      `a route to ${r.dst}${r.metric !== undefined ? ` with metric ${r.metric}` : ''} already exists in ${ns.label}`,
      "remove it first with 'tsnet route del', or give another metric",
      AttachErrorCode.BadArgument,
    );
  if (verb === 'add' && (isNetlinkError(e, 'ENETUNREACH') || /invalid gateway|unreachable/i.test((e as Error).message)))
    throw new PluginError(
      what,
      `gateway ${r.via} is not on a subnet of any interface in ${ns.label}`,
      'give a gateway on a connected subnet (see ip -n <netns> addr), or attach the container to that network first',
      AttachErrorCode.BadArgument,
    );
  if (verb === 'del' && (isNetlinkError(e, 'ESRCH') || isNetlinkError(e, 'ENOENT')))
    throw new PluginError(what, `no such route in ${ns.label}`, "list them with 'tsnet route ls <container>'", AttachErrorCode.BadArgument);
  throw new PluginError(what, (e as Error).message, undefined, AttachErrorCode.Kernel);
}

export async function addRoute(ns: Netns, r: RouteRequest): Promise<void> {
  const s = await spec(ns, r);
  await ns.rtnl.addRoute(s).catch((e) => explain(e, r, ns, 'add'));
}

/** Adds the route, or replaces the one to the same destination (and metric, table): `ip route replace`. */
export async function replaceRoute(ns: Netns, r: RouteRequest): Promise<void> {
  const s = await spec(ns, r);
  await ns.rtnl.replaceRoute(s).catch((e) => explain(e, r, ns, 'add'));
}

/** Deletes a route; with missingOk, a route (or dev) already gone is success (CNI DEL). */
export async function deleteRoute(ns: Netns, r: RouteRequest, missingOk = false): Promise<boolean> {
  try {
    await ns.rtnl.deleteRoute(await spec(ns, r));
    return true;
  } catch (e) {
    if (
      missingOk &&
      (isNetlinkError(e, 'ESRCH') ||
        isNetlinkError(e, 'ENOENT') ||
        isNetlinkError(e, 'ENODEV') ||
        (e instanceof PluginError && e.thing.startsWith('dev ')))
    )
      return false;
    explain(e, r, ns, 'del');
  }
}

/** Whether a route matching r (dst, and gateway/dev/metric/table when given) is in the kernel. */
/** Whether `list` (from listRoutes) has the route `r` asks for. */
export function routeListed(list: ListedRoute[], r: RouteRequest): boolean {
  const dst = r.dst === '::/0' ? 'default' : r.dst;
  return list.some(
    (k) => k.dst === dst && (!r.via || k.via === r.via) && (!r.dev || k.dev === r.dev) && (r.metric === undefined || k.metric === r.metric),
  );
}

export async function hasRoute(ns: Netns, r: RouteRequest): Promise<boolean> {
  return routeListed(await listRoutes(ns, r.table), r);
}

export interface ListedRoute {
  dst: string;
  via?: string;
  dev?: string;
  metric?: number;
  table: number;
  family: 4 | 6;
  scope: number;
  protocol: number;
}

export async function listRoutes(ns: Netns, table?: number): Promise<ListedRoute[]> {
  const names = new Map((await ns.rtnl.links()).map((l) => [l.index, l.name]));
  return (await ns.rtnl.routes({ table: table ?? RT_TABLE_MAIN }))
    .filter((r: RouteEntry) => r.type === RTN_UNICAST && !(r.family === AF_INET6 && /^(fe80::|ff00::)/.test(r.dst)))
    .map((r) => ({
      dst: r.dst,
      ...(r.gateway ? { via: r.gateway } : {}),
      ...(r.oif !== undefined && names.has(r.oif) ? { dev: names.get(r.oif)! } : {}),
      ...(r.priority !== undefined ? { metric: r.priority } : {}),
      table: r.table,
      family: r.family === AF_INET6 ? 6 : 4,
      scope: r.scope,
      protocol: r.protocol,
    }));
}
