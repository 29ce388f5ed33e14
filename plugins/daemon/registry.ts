// The plugins tsnetd runs in-process, by CNI type. Each entry must pass `dispatch` the same plugin object and
// the same SkelOptions as the type's `plugins/<type>/main.ts`, so answers are identical to the standalone
// executable. A type not listed here is declined and the shim runs its standalone executable.
// Plugins whose library exports a `<type>Entry = { plugin, opts }` (attach, container, host, route) are
// registered from it, so main.ts and the daemon cannot drift apart; bridge/loopback/none/tsnet-ipam repeat
// their main.ts options here until they export such an entry too.
import { ipamAdd, ipamCheck, ipamDel, ipamGc } from '../../ipam/cni-ipam.js';
import { currentHostUsage } from '../../ipam/host-usage.js';
import { bridgePlugin, type BridgeConf } from '../bridge/bridge.js';
import type { SkelOptions } from '../cni/skel.js';
import type { NetConf, Plugin } from '../cni/types.js';
import { assertValid } from '../cni/validate.js';
import { bridgeValidator } from '../cni/validators.js';
import { attachEntry } from '../attach/plugin.js';
import { containerEntry } from '../container/container.js';
import { hostEntry } from '../host/host.js';
import { loopbackPlugin } from '../loopback/loopback.js';
import { nonePlugin } from '../none/none.js';
import { routeEntry } from '../route/plugin.js';

export interface Registered {
  plugin: Plugin<any>;
  opts: SkelOptions<any>;
}

export type Registry = Map<string, Registered>;

/** Same object as plugins/tsnet-ipam/main.ts builds. */
const tsnetIpamPlugin: Plugin = {
  add: (conf, args) => ipamAdd(conf, args, { hostUsage: currentHostUsage }),
  del: (conf, args) => ipamDel(conf, args),
  check: (conf, args) => ipamCheck(conf, args),
  async gc(conf, args) {
    await ipamGc(conf, args);
  },
  async status() {
    /* the store is a directory: reachable whenever the plugin can run */
  },
};

export function defaultRegistry(): Registry {
  const r: Registry = new Map();
  const add = <C extends NetConf>(type: string, plugin: Plugin<C>, opts: SkelOptions<C>) => r.set(type, { plugin, opts });
  add<BridgeConf>('bridge', bridgePlugin, { name: 'bridge', about: 'CNI bridge plugin (tsnet)', validate: (conf) => assertValid(bridgeValidator, conf, 'bridge') });
  add('loopback', loopbackPlugin, { name: 'loopback', about: 'CNI loopback plugin (tsnet)' });
  add('none', nonePlugin, { name: 'none', about: 'CNI none plugin (tsnet): only lo, up' });
  add('tsnet-ipam', tsnetIpamPlugin, { name: 'tsnet-ipam', about: 'CNI IPAM plugin tsnet-ipam' });
  // These export the very { plugin, opts } their main.ts passes to runPlugin. (attach reads PATH and
  // TSNET_NSEXEC from the daemon's environment, not the caller's.)
  for (const [type, e] of [['attach', attachEntry], ['container', containerEntry], ['host', hostEntry], ['route', routeEntry]] as const) r.set(type, e as Registered);
  return r;
}
