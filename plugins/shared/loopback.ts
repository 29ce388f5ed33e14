// Bringing `lo` up in a container netns and reporting it as a CNI result (the loopback and none plugins).
import { Netns } from '../../native/netns.js';
import { CniError, ErrorCode, type CniArgs, type Result } from '../cni/types.js';
import { RT_SCOPE_HOST } from '../../native/netlink/constants.js';

export async function loopbackUp(ns: Netns, args: CniArgs, cniVersion: string): Promise<Result> {
  const lo = await ns.rtnl.link('lo');
  if (!lo.up) await ns.rtnl.setLink(lo.index, { up: true });
  const addrs = (await ns.rtnl.addresses({ link: lo.index })).filter((a) => a.scope === RT_SCOPE_HOST);
  return {
    cniVersion,
    interfaces: [{ name: 'lo', mac: lo.mac ?? '00:00:00:00:00:00', sandbox: args.netns }],
    ips: addrs.map((a) => ({ address: a.cidr, interface: 0 })),
  };
}

export async function loopbackDown(args: CniArgs): Promise<void> {
  if (!args.netns) return;
  let ns: Netns;
  try {
    ns = Netns.open(args.netns);
  } catch {
    return; // netns gone: nothing to undo
  }
  try {
    await ns.rtnl.setLink('lo', { up: false });
  } finally {
    ns.close();
  }
}

export async function checkLoopbackUp(args: CniArgs): Promise<void> {
  const ns = Netns.open(args.netns);
  try {
    const lo = await ns.rtnl.link('lo');
    if (!lo.up)
      throw new CniError(
        ErrorCode.Internal,
        `lo is down in ${ns.label}`,
        'something in the container took lo down; DEL and ADD the attachment again',
      );
  } finally {
    ns.close();
  }
}
