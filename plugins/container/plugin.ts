// The container plugin (Docker's `--net container:<id>`): the container joins the netns of an existing one.
// The runtime has already started it in that netns (a process joins a namespace at creation); the plugin
// checks CNI_NETNS is the owner's netns, reports its interfaces and addresses, and never changes them —
// DEL leaves the owner's network intact.
// Config: "container": tsnet container id or name, pid, /proc/PID/ns/net, /run/netns/NAME or netns name
// (also accepted as CNI_ARGS CONTAINER=…). Without it, the plugin reports CNI_NETNS as it is.
import type { PluginEntry } from '../cni/skel.js';
import { Netns } from '../../native/netns.js';
import { CniError, ErrorCode, type CniArgs, type NetConf, type Plugin, type Result } from '../cni/types.js';
import { resolveContainer } from '../shared/container-ref.js';
import { reportInterfaces } from '../shared/report-ns.js';

export interface ContainerConf extends NetConf {
  container?: string;
}

export const ContainerErrorCode = { NotOwnersNetns: 100 } as const;

export function validateContainerConf(conf: ContainerConf): void {
  if (conf.container !== undefined && (typeof conf.container !== 'string' || !conf.container.trim()))
    throw new CniError(
      ErrorCode.InvalidNetworkConfig,
      `network "${conf.name}": "container" must be a non-empty string`,
      'give the container to join: id or name, pid, /proc/PID/ns/net, /run/netns/NAME or netns name',
    );
}

function ownerRef(conf: ContainerConf, args: CniArgs): string | undefined {
  return conf.container ?? args.args.CONTAINER;
}

/** Opens CNI_NETNS after checking it is the owner's netns. */
async function joined(conf: ContainerConf, args: CniArgs): Promise<Netns> {
  const ref = ownerRef(conf, args);
  let ownerPath: string | undefined;
  if (ref) {
    ownerPath = (await resolveContainer(ref)).netnsPath;
  }
  const ns = Netns.open(args.netns);
  if (ownerPath) {
    const owner = Netns.open(ownerPath);
    try {
      if (owner.id() !== ns.id())
        throw new CniError(
          ContainerErrorCode.NotOwnersNetns,
          `CNI_NETNS ${args.netns} (${ns.id()}) is not the network namespace of container ${JSON.stringify(ref)} (${ownerPath}, ${owner.id()})`,
          `start the container in ${ownerPath}, which it must share, and pass that path as CNI_NETNS`,
        );
    } catch (e) {
      ns.close();
      throw e;
    } finally {
      owner.close();
    }
  }
  return ns;
}

export const containerPlugin: Plugin<ContainerConf> = {
  async add(conf, args): Promise<Result> {
    const ns = await joined(conf, args);
    try {
      return await reportInterfaces(ns, args.netns, conf.cniVersion, { includeLoopback: true });
    } finally {
      ns.close();
    }
  },
  async del() {
    /* the network belongs to the owner: nothing to undo, never tear it down */
  },
  async check(conf, args) {
    (await joined(conf, args)).close();
  },
};

export const containerEntry: PluginEntry<ContainerConf> = {
  plugin: containerPlugin,
  opts: {
    name: 'container',
    about: "CNI container plugin (tsnet): join another container's network namespace",
    validate: validateContainerConf,
  },
};
