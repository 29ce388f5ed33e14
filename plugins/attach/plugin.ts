// The CNI plugin `attach`: pipework's attachment from a network config.
// Keys: "bridge" (host bridge or NIC, default br0), "uplink" (a NIC to enslave into the bridge, moving its
// addresses and routes), "address" ("IP/LEN", or "dhcp"), "gateway", "mac", "vlan", "force" (use a NIC that
// carries the host's default route all the same).
import type { PluginEntry } from '../cni/skel.js';
import { Netns } from '../../native/netns.js';
import { CniError, ErrorCode, type CniArgs, type NetConf, type Plugin, type Result } from '../cni/types.js';
import { parseCidr, formatAddrInPrefix } from '../../ipam/cidr.js';
import { attach, detach } from './attach.js';
import { DEFAULT_BRIDGE, parseAttachArgs, type AttachRequest } from './args.js';
import { PluginError } from '../shared/errors.js';

export interface AttachConf extends NetConf {
  bridge?: string;
  uplink?: string;
  address?: string;
  gateway?: string;
  mac?: string;
  vlan?: number;
  force?: boolean;
}

const KEYS = {
  bridge: 'string',
  uplink: 'string',
  address: 'string',
  gateway: 'string',
  mac: 'string',
  vlan: 'number',
  force: 'boolean',
} as const;

export function validateAttachConf(conf: AttachConf): void {
  for (const [k, t] of Object.entries(KEYS)) {
    const v = conf[k];
    if (v !== undefined && typeof v !== t)
      throw new CniError(
        ErrorCode.InvalidNetworkConfig,
        `network "${conf.name}": "${k}" must be a ${t}, got ${JSON.stringify(v)}`,
        `e.g. {"type": "attach", "bridge": "br0", "address": "192.168.115.10/24", "gateway": "192.168.115.2"}`,
      );
  }
  if (conf.address === undefined)
    throw new CniError(
      ErrorCode.InvalidNetworkConfig,
      `network "${conf.name}": "address" is required`,
      'set "address": "IP/LEN" (e.g. "192.168.115.10/24") or "dhcp"',
    );
  try {
    request(conf, { containerId: '', netns: '/', ifname: 'eth1', args: {}, path: [], command: 'ADD' });
  } catch (e) {
    if (e instanceof PluginError)
      throw new CniError(ErrorCode.InvalidNetworkConfig, `network "${conf.name}": ${e.thing}: ${e.reason}`, e.fix ?? '');
    throw e;
  }
}

/** The config as the checked request the CLI would make. */
export function request(conf: AttachConf, args: CniArgs): AttachRequest {
  const tail = conf.mac || conf.vlan !== undefined ? `${conf.mac ?? ''}${conf.vlan !== undefined ? `@${conf.vlan}` : ''}` : undefined;
  const ip = conf.address === 'dhcp' ? 'dhcp' : `${conf.address}${conf.gateway ? `@${conf.gateway}` : ''}`;
  return parseAttachArgs([conf.bridge ?? DEFAULT_BRIDGE, args.netns, ip, ...(tail ? [tail] : [])], {
    ifname: args.ifname,
    ...(conf.uplink ? { uplink: conf.uplink } : {}),
    ...(conf.force ? { force: true } : {}),
    create: true, // "bridge" names a bridge: made when missing, whatever its name
  });
}

async function add(conf: AttachConf, args: CniArgs): Promise<Result> {
  const r = await attach(request(conf, args), { netnsPath: args.netns });
  const interfaces = r.mode === 'bridge' ? [{ name: r.bridge! }, { name: r.hostVeth! }] : [{ name: r.parent! }];
  const idx = interfaces.push({ name: r.ifname, mac: r.mac, mtu: r.mtu, sandbox: args.netns } as never) - 1;
  return {
    cniVersion: conf.cniVersion,
    interfaces,
    ips: r.address ? [{ address: r.address, interface: idx, ...(r.gateway ? { gateway: r.gateway } : {}) }] : [],
    routes: r.gateway ? [{ dst: r.gateway.includes(':') ? '::/0' : '0.0.0.0/0', gw: r.gateway }] : [],
    ...(conf.dns ? { dns: conf.dns } : {}),
  };
}

async function del(_conf: AttachConf, args: CniArgs): Promise<void> {
  if (!args.netns) return;
  await detach({ container: args.netns, ifname: args.ifname, missingOk: true }, { netnsPath: args.netns });
}

async function check(conf: AttachConf, args: CniArgs): Promise<void> {
  const ns = Netns.open(args.netns);
  try {
    const link = await ns.rtnl.findLink(args.ifname);
    if (!link)
      throw new CniError(
        ErrorCode.Internal,
        `interface "${args.ifname}" is missing from ${ns.label}`,
        'the attachment changed since ADD; DEL and ADD it again',
      );
    if (conf.mac && link.mac !== conf.mac.toLowerCase())
      throw new CniError(
        ErrorCode.Internal,
        `interface "${args.ifname}" has MAC ${link.mac}, the config says ${conf.mac}`,
        'the attachment changed since ADD; DEL and ADD it again',
      );
    if (conf.address && conf.address !== 'dhcp') {
      const { addr, prefix } = parseCidr(conf.address);
      const want = formatAddrInPrefix(addr, prefix);
      if (!(await ns.rtnl.addresses({ link: link.index })).some((a) => a.cidr === want))
        throw new CniError(
          ErrorCode.Internal,
          `address ${want} is missing from "${args.ifname}" in ${ns.label}`,
          'the attachment changed since ADD; DEL and ADD it again',
        );
    }
  } finally {
    ns.close();
  }
}

export const attachPlugin: Plugin<AttachConf> = { add, del, check };

export const attachEntry: PluginEntry<AttachConf> = {
  plugin: attachPlugin,
  opts: {
    name: 'attach',
    about: 'CNI attach plugin (tsnet): pipework-style interface on a host bridge or NIC',
    validate: validateAttachConf,
  },
};
