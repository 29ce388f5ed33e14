// tsnet's IPAM plugin as a library: host-local's keys, plus "subnet": "auto" and "network": NAME.
import { ipamAdd, ipamCheck, ipamDel, ipamGc } from '../shared/ipam-cni.js';
import { currentHostUsage } from '../../ipam/host-usage.js';
import type { PluginEntry } from '../cni/skel.js';
import type { Plugin } from '../cni/types.js';

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

export const tsnetIpamEntry: PluginEntry = { plugin: tsnetIpamPlugin, opts: { name: 'tsnet-ipam', about: 'CNI IPAM plugin tsnet-ipam' } };
