// The none plugin (Docker's `--net none`): the container keeps its own netns with only `lo`, up.
// It refuses a namespace that already holds other interfaces, since "none" promises isolation.
import { Netns } from '../../native/netns.js';
import type { PluginEntry } from '../cni/skel.js';
import { CniError, type CniArgs, type NetConf, type Plugin, type Result } from '../cni/types.js';
import { checkLoopbackUp, loopbackDown, loopbackUp } from '../shared/loopback.js';

export const NoneErrorCode = { NotIsolated: 100 } as const;

async function onlyLoopback(ns: Netns): Promise<void> {
  const others = (await ns.rtnl.links()).filter((l) => l.name !== 'lo');
  if (others.length)
    throw new CniError(
      NoneErrorCode.NotIsolated,
      `network mode "none" expects a namespace with only lo, but ${ns.label} also has ${others.map((l) => l.name).join(', ')}`,
      'give the container a fresh network namespace, or use another network mode',
    );
}

const nonePlugin: Plugin = {
  async add(conf: NetConf, args: CniArgs): Promise<Result> {
    const ns = Netns.open(args.netns);
    try {
      await onlyLoopback(ns);
      return await loopbackUp(ns, args, conf.cniVersion);
    } finally {
      ns.close();
    }
  },
  del: (_conf, args) => loopbackDown(args),
  async check(_conf, args) {
    await checkLoopbackUp(args);
    const ns = Netns.open(args.netns);
    try {
      await onlyLoopback(ns);
    } finally {
      ns.close();
    }
  },
};

export const noneEntry: PluginEntry = { plugin: nonePlugin, opts: { name: 'none', about: 'CNI none plugin (tsnet): only lo, up' } };
