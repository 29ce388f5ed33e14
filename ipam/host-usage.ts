// What the host already uses, read from the kernel: every route of the main table (the default route aside,
// as Docker does) and every interface address, in the network namespace this process runs in — so a test
// can play "host" from inside a namespace.
import { Netns } from '../native/netns.js';
import type { Occupied } from './picker.js';
import { RT_SCOPE_HOST, RT_SCOPE_LINK } from '../native/netlink/constants.js';

export async function hostUsage(ns: Netns = Netns.current()): Promise<Occupied[]> {
  const [links, routes, addrs] = await Promise.all([ns.rtnl.links(), ns.rtnl.routes(), ns.rtnl.addresses()]);
  const name = new Map(links.map((l) => [l.index, l.name]));
  const dev = (i?: number) => (i === undefined ? '' : ` dev ${name.get(i) ?? `#${i}`}`);
  const out: Occupied[] = [];
  for (const r of routes) {
    if (r.dst === 'default' || r.dst.endsWith('/0')) continue;
    out.push({ prefix: r.dst, what: `route ${r.dst}${r.gateway ? ` via ${r.gateway}` : ''}${dev(r.oif)}` });
  }
  for (const a of addrs) {
    if (a.scope === RT_SCOPE_LINK || a.scope === RT_SCOPE_HOST) continue;
    out.push({ prefix: a.cidr, what: `address ${a.cidr} on ${name.get(a.index) ?? `#${a.index}`}` });
  }
  return out;
}

/** hostUsage in the current netns (socket mode per Netns.defaults: blocking in a plugin, async in the daemon); the handle is closed afterwards. */
export async function currentHostUsage(): Promise<Occupied[]> {
  const ns = Netns.current();
  try {
    return await hostUsage(ns);
  } finally {
    ns.close();
  }
}
