// The plugins tsnetd runs in-process, by CNI type. Each entry must pass `dispatch` the same plugin object and
// the same SkelOptions as the type's `plugins/<type>/main.ts`, so answers are identical to the standalone
// executable. A type not listed here is declined and the shim runs its standalone executable.
import { ipamAdd, ipamCheck, ipamDel, ipamGc } from '../../ipam/cni-ipam.js';
import { currentHostUsage } from '../../ipam/host-usage.js';
import { bridgePlugin, type BridgeConf } from '../bridge/bridge.js';
import type { SkelOptions } from '../cni/skel.js';
import type { NetConf, Plugin } from '../cni/types.js';
import { assertValid } from '../cni/validate.js';
import { bridgeValidator } from '../cni/validators.js';
import { loopbackPlugin } from '../loopback/loopback.js';
import { nonePlugin } from '../none/none.js';

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
  return r;
}
