// The host plugin (Docker's `--net host`): the container shares the host's netns. The plugin checks that
// CNI_NETNS really is the namespace the plugin runs in (the host's), changes nothing, and reports the host's
// interfaces and addresses. DEL has nothing to undo.
import type { PluginEntry } from '../cni/skel.js';
import { Netns, netnsId } from '../../native/netns.js';
import { CniError, ErrorCode, type CniArgs, type NetConf, type Plugin, type Result } from '../cni/types.js';
import { reportInterfaces } from '../shared/report-ns.js';

export const HostErrorCode = { NotHostNetns: 100 } as const;

/** CNI_NETNS must be the namespace the plugin runs in (the host's): compared by namespace identity. */
function assertHostNetns(args: CniArgs): void {
  let theirs: string;
  try {
    theirs = netnsId(args.netns);
  } catch (e) {
    throw new CniError(
      ErrorCode.InvalidEnvironment,
      `CNI_NETNS ${args.netns}: ${(e as Error).message}`,
      'pass the host network namespace (e.g. /proc/1/ns/net) for host mode',
    );
  }
  const ours = netnsId();
  if (theirs !== ours)
    throw new CniError(
      HostErrorCode.NotHostNetns,
      `network mode "host" needs the container in the host's network namespace, but CNI_NETNS ${args.netns} is ${theirs} and the host's is ${ours}`,
      'start the container in the host netns (CNI_NETNS=/proc/1/ns/net), or use another network mode',
    );
}

export const hostPlugin: Plugin = {
  async add(conf: NetConf, args: CniArgs): Promise<Result> {
    assertHostNetns(args);
    const ns = Netns.current(); // the same namespace, without entering it
    try {
      return await reportInterfaces(ns, args.netns, conf.cniVersion, { includeLoopback: false });
    } finally {
      ns.close();
    }
  },
  async del() {
    /* host mode changed nothing */
  },
  async check(_conf, args) {
    assertHostNetns(args);
  },
};

export const hostEntry: PluginEntry<NetConf> = {
  plugin: hostPlugin,
  opts: { name: 'host', allowOwnNetns: true, about: 'CNI host plugin (tsnet): the container shares the host network namespace' },
};
