// The chained CNI plugin `route`: after the main plugin, adds the routes of its config inside the container
// (`"routes": [{"dst": "192.168.0.0/16", "gw": "192.168.115.2", "dev"?: "eth1", "metric"?: 10, "table"?: 100}]`),
// reports them in the result (prevResult passed through, routes appended), removes them on DEL.
import type { PluginEntry } from '../cni/skel.js';
import { Netns } from '../../native/netns.js';
import { CniError, ErrorCode, type CniArgs, type NetConf, type Plugin, type Result } from '../cni/types.js';
import { PluginError } from '../shared/errors.js';
import {
  addRoute,
  deleteRoute,
  listRoutes,
  parseRouteWords,
  routeListed,
  toCniRoute,
  type ListedRoute,
  type RouteRequest,
} from './route.js';

export interface RouteConfEntry {
  dst: string;
  gw?: string;
  dev?: string;
  metric?: number;
  table?: number;
}

export interface RouteConf extends NetConf {
  routes?: RouteConfEntry[];
}

export function requests(conf: RouteConf): RouteRequest[] {
  const routes = conf.routes;
  if (!Array.isArray(routes) || routes.length === 0)
    throw new CniError(
      ErrorCode.InvalidNetworkConfig,
      `network "${conf.name}": "routes" must be a non-empty array`,
      'e.g. "routes": [{"dst": "192.168.0.0/16", "gw": "192.168.115.2"}]',
    );
  return routes.map((r, i) => {
    const where = `network "${conf.name}": routes[${i}]`;
    if (typeof r !== 'object' || r === null || typeof r.dst !== 'string')
      throw new CniError(
        ErrorCode.InvalidNetworkConfig,
        `${where} needs a "dst" string`,
        'e.g. {"dst": "192.168.0.0/16", "gw": "192.168.115.2"}',
      );
    for (const [k, t] of [
      ['gw', 'string'],
      ['dev', 'string'],
      ['metric', 'number'],
      ['table', 'number'],
    ] as const) {
      if (r[k] !== undefined && typeof r[k] !== t)
        throw new CniError(ErrorCode.InvalidNetworkConfig, `${where}: "${k}" must be a ${t}`, 'fix the value');
    }
    const words = [
      r.dst,
      ...(r.gw ? ['via', r.gw] : []),
      ...(r.dev ? ['dev', r.dev] : []),
      ...(r.metric !== undefined ? ['metric', String(r.metric)] : []),
      ...(r.table !== undefined ? ['table', String(r.table)] : []),
    ];
    try {
      return parseRouteWords(words);
    } catch (e) {
      if (e instanceof PluginError) throw new CniError(ErrorCode.InvalidNetworkConfig, `${where}: ${e.thing}: ${e.reason}`, e.fix ?? '');
      throw e;
    }
  });
}

/** A route with neither gw nor dev goes out of CNI_IFNAME. */
function withDev(r: RouteRequest, args: CniArgs): RouteRequest {
  return r.via || r.dev ? r : { ...r, dev: args.ifname };
}

async function add(conf: RouteConf, args: CniArgs): Promise<Result> {
  const reqs = requests(conf).map((r) => withDev(r, args));
  const ns = Netns.open(args.netns);
  const done: RouteRequest[] = [];
  try {
    for (const r of reqs) {
      await addRoute(ns, r);
      done.push(r);
    }
  } catch (e) {
    for (const r of done.reverse()) await deleteRoute(ns, r, true).catch(() => undefined);
    throw e;
  } finally {
    ns.close();
  }
  const prev: Result = conf.prevResult ?? { cniVersion: conf.cniVersion };
  return { ...prev, cniVersion: conf.cniVersion, routes: [...(prev.routes ?? []), ...reqs.map(toCniRoute)] };
}

async function del(conf: RouteConf, args: CniArgs): Promise<void> {
  const reqs = requests(conf).map((r) => withDev(r, args));
  if (!args.netns) return;
  let ns: Netns;
  try {
    ns = Netns.open(args.netns);
  } catch {
    return; // netns gone: so are its routes
  }
  try {
    for (const r of reqs) await deleteRoute(ns, r, true);
  } finally {
    ns.close();
  }
}

async function check(conf: RouteConf, args: CniArgs): Promise<void> {
  const reqs = requests(conf).map((r) => withDev(r, args));
  const ns = Netns.open(args.netns);
  try {
    const byTable = new Map<number, ListedRoute[]>(); // one listing per table, not one per route
    for (const r of reqs) {
      const table = r.table ?? 254;
      if (!byTable.has(table)) byTable.set(table, await listRoutes(ns, table));
      if (!routeListed(byTable.get(table)!, r))
        throw new CniError(
          ErrorCode.Internal,
          `route ${r.dst}${r.via ? ` via ${r.via}` : ''} is missing in ${ns.label}`,
          'the route was removed since ADD; DEL and ADD the attachment again',
        );
    }
  } finally {
    ns.close();
  }
}

export const routePlugin: Plugin<RouteConf> = { add, del, check };

export const routeEntry: PluginEntry<RouteConf> = {
  plugin: routePlugin,
  opts: {
    name: 'route',
    about: 'CNI route plugin (tsnet): static routes injected into the container',
    validate: (c: RouteConf) => void requests(c),
  },
};
