// Runs a plugin's IPAM section, as the reference plugins' ipam.ExecAdd/ExecDel do: `tsnet-ipam` is called
// in-process (same code as its executable), any other type (host-local, dhcp, static…) is exec'd from
// CNI_PATH with the same env and the same network config on stdin.
import { ipamAdd, ipamCheck, ipamDel, ipamGc, ipamPrecheck } from './ipam-cni.js';
import { currentHostUsage } from '../../ipam/host-usage.js';
import { toInternal } from '../cni/convert.js';
import { execPlugin, findPlugin } from '../cni/exec.js';
import { CniError, ErrorCode, type CniArgs, type CniCommand, type NetConf, type Result } from '../cni/types.js';

export const IN_PROCESS_IPAM = 'tsnet-ipam';

function ipamType(conf: NetConf): string {
  const t = conf.ipam?.type;
  if (typeof t !== 'string' || !t)
    throw new CniError(
      ErrorCode.InvalidNetworkConfig,
      `network "${conf.name}": "ipam" with a "type" is required`,
      'add e.g. "ipam": {"type": "tsnet-ipam", "subnet": "auto"}',
    );
  return t;
}

function envFor(command: CniCommand, args: CniArgs): NodeJS.ProcessEnv {
  return {
    ...process.env,
    CNI_COMMAND: command,
    CNI_CONTAINERID: args.containerId,
    CNI_NETNS: args.netns,
    CNI_IFNAME: args.ifname,
    CNI_ARGS: Object.entries(args.args)
      .map(([k, v]) => `${k}=${v}`)
      .join(';'),
    CNI_PATH: args.path.join(':'),
  };
}

async function execIpam(command: CniCommand, conf: NetConf, args: CniArgs): Promise<unknown> {
  const file = findPlugin(ipamType(conf), args.path);
  const { output } = await execPlugin(file, envFor(command, args), JSON.stringify(conf));
  return output;
}

/**
 * What can be found wrong with an ADD's IPAM before anything is changed: tsnet-ipam checks its config and the
 * static requests (ipamPrecheck); any other type must be an executable on CNI_PATH.
 */
export async function delegatePrecheck(conf: NetConf, args: CniArgs): Promise<void> {
  const type = ipamType(conf);
  if (type === IN_PROCESS_IPAM) return ipamPrecheck(conf, args);
  findPlugin(type, args.path);
}

export async function delegateAdd(conf: NetConf, args: CniArgs): Promise<Result> {
  if (ipamType(conf) === IN_PROCESS_IPAM) return ipamAdd(conf, args, { hostUsage: currentHostUsage });
  const out = await execIpam('ADD', conf, args);
  return toInternal(out, `result of IPAM plugin "${conf.ipam!.type}"`);
}

export async function delegateDel(conf: NetConf, args: CniArgs): Promise<void> {
  if (ipamType(conf) === IN_PROCESS_IPAM) return ipamDel(conf, args);
  await execIpam('DEL', conf, args);
}

export async function delegateCheck(conf: NetConf, args: CniArgs): Promise<void> {
  if (ipamType(conf) === IN_PROCESS_IPAM) return ipamCheck(conf, args);
  await execIpam('CHECK', conf, args);
}

export async function delegateGc(conf: NetConf, args: CniArgs): Promise<void> {
  if (ipamType(conf) === IN_PROCESS_IPAM) {
    await ipamGc(conf, args);
    return;
  }
  await execIpam('GC', conf, args);
}

export async function delegateStatus(conf: NetConf, args: CniArgs): Promise<void> {
  if (ipamType(conf) === IN_PROCESS_IPAM) return;
  await execIpam('STATUS', conf, args);
}
