// The loopback plugin: `lo` up inside the container's netns, like the reference plugin.
import { Netns } from '../../native/netns.js';
import type { PluginEntry } from '../cni/skel.js';
import type { CniArgs, NetConf, Plugin, Result } from '../cni/types.js';
import { checkLoopbackUp, loopbackDown, loopbackUp } from '../shared/loopback.js';

const loopbackPlugin: Plugin = {
  async add(conf: NetConf, args: CniArgs): Promise<Result> {
    const ns = Netns.open(args.netns);
    try {
      return await loopbackUp(ns, args, conf.cniVersion);
    } finally {
      ns.close();
    }
  },
  del: (_conf, args) => loopbackDown(args),
  check: (_conf, args) => checkLoopbackUp(args),
};

export const loopbackEntry: PluginEntry = { plugin: loopbackPlugin, opts: { name: 'loopback', about: 'CNI loopback plugin (tsnet)' } };
