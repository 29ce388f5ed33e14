// CNI executable: tsnet's IPAM plugin (host-local's keys, plus "subnet": "auto" and "network": NAME).
import { Netns } from '../../native/netns.js';
import { ipamAdd, ipamCheck, ipamDel, ipamGc } from '../../ipam/cni-ipam.js';
import { currentHostUsage } from '../../ipam/host-usage.js';
import { runPlugin } from '../cni/skel.js';
import type { Plugin } from '../cni/types.js';

const plugin: Plugin = {
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

Netns.defaults = { blocking: true };
void runPlugin(plugin, { name: 'tsnet-ipam', about: 'CNI IPAM plugin tsnet-ipam' });
