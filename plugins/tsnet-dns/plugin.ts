// The chained CNI plugin `tsnet-dns` (podman's `dnsname` role): after the interface plugin (bridge), it
// records the container's name and aliases with its addresses on this network, makes sure the resolver
// listens on the network's gateway, and returns the previous result with `dns` pointing there — podman and
// the engine write that into the container's /etc/resolv.conf. DEL removes the record (the last one stops the
// resolver), GC the records of attachments no longer valid, CHECK that the record is there and answered.
//
//   { "type": "tsnet-dns", "domainName": "dns.tsnet", "dataDir": "/var/lib/tsnet/dns",
//     "capabilities": { "aliases": true }, "disableDns": false }
//
// The name is CNI_ARGS K8S_POD_NAME (podman passes the container's name there for dnsname; the engine does
// the same), the aliases runtimeConfig.aliases[<network name>] (podman's and libcni's `aliases` capability).
// `disableDns: true` leaves the plugin in the list doing nothing (the result passes through).
import type { PluginEntry } from '../cni/skel.js';
import { CniError, ErrorCode, type CniArgs, type NetConf, type Plugin, type Result } from '../cni/types.js';
import { PluginError } from '../shared/errors.js';
import { existsSync } from 'node:fs';
import { containsAddr, parseAddr, parseCidr } from '../../ipam/cidr.js';
import { findServerExecutable, request, stopServer, syncServer, type ServerStatus } from './control.js';
import {
  DEFAULT_DOMAIN,
  dnsDir,
  dropEntriesExcept,
  dropEntry,
  entryCount,
  putEntry,
  readNames,
  withNames,
  type NameEntry,
  type NamesFile,
} from '../shared/dns-names.js';

export interface DnsConf extends NetConf {
  domainName?: string;
  dataDir?: string;
  disableDns?: boolean;
}

/** A DNS name as container names and aliases may be: labels of letters, digits, `_` and `-`, dot-separated. */
const DNS_NAME = /^(?=.{1,253}$)[a-zA-Z0-9_]([a-zA-Z0-9_-]{0,62})(\.[a-zA-Z0-9_]([a-zA-Z0-9_-]{0,62}))*$/;

/** Codes of tsnet-dns (the spec reserves 100 and up for plugins). */
export const DnsErrorCode = {
  /** The resolver cannot listen on the network's gateway (port 53 taken, address missing). */
  CannotListen: 110,
} as const;

function validate(conf: DnsConf): void {
  for (const k of ['domainName', 'dataDir'] as const) {
    if (conf[k] !== undefined && (typeof conf[k] !== 'string' || conf[k] === ''))
      throw new CniError(ErrorCode.InvalidNetworkConfig, `network "${conf.name}": "${k}" must be a non-empty string`, 'fix the value');
  }
  if (conf.domainName !== undefined && !DNS_NAME.test(conf.domainName))
    throw new CniError(
      ErrorCode.InvalidNetworkConfig,
      `network "${conf.name}": "domainName" ${JSON.stringify(conf.domainName)} is not a DNS name`,
      'use dot-separated labels of letters, digits and "-", e.g. "dns.tsnet"',
    );
  if (conf.disableDns !== undefined && typeof conf.disableDns !== 'boolean')
    throw new CniError(ErrorCode.InvalidNetworkConfig, `network "${conf.name}": "disableDns" must be true or false`, 'fix the value');
}

function domainOf(conf: DnsConf): string {
  return (conf.domainName ?? DEFAULT_DOMAIN).toLowerCase();
}

/**
 * The container's name and aliases on this network, checked. A container name that is no DNS name (a label
 * over 63 characters, "a..b") is not registered — the container still resolves the others — while an alias,
 * asked for by name, must be one.
 */
function namesOf(conf: DnsConf, args: CniArgs): { name: string; aliases: string[] } {
  const given = args.args.K8S_POD_NAME;
  const name = given && DNS_NAME.test(given) ? given : '';
  const raw = (conf.runtimeConfig?.aliases as Record<string, unknown> | undefined)?.[conf.name];
  if (raw !== undefined && (!Array.isArray(raw) || raw.some((a) => typeof a !== 'string')))
    throw new CniError(
      ErrorCode.InvalidNetworkConfig,
      `runtimeConfig.aliases["${conf.name}"] must be a list of names`,
      'pass e.g. {"aliases": {"<network>": ["db"]}}',
    );
  const aliases = [...new Set((raw as string[] | undefined) ?? [])].filter((a) => a !== name);
  for (const a of aliases) {
    if (!DNS_NAME.test(a))
      throw new PluginError(
        `alias ${JSON.stringify(a)}`,
        'is not usable as a DNS name',
        'use letters, digits, "-" and "_" (dots between labels), at most 63 per label',
        ErrorCode.InvalidNetworkConfig,
      );
  }
  if (given === undefined && !aliases.length)
    throw new CniError(
      ErrorCode.InvalidEnvironment,
      'no name to register: CNI_ARGS has no K8S_POD_NAME and runtimeConfig no aliases for this network',
      'pass the container name as CNI_ARGS K8S_POD_NAME=<name> (podman does), or declare the "aliases" capability and pass aliases',
    );
  return { name, aliases };
}

/**
 * This interface's addresses in the previous result, and where the resolver listens for it: the gateways — or,
 * on a network without one (the overlay with "resolver": true), the nameservers the interface plugin named in
 * the interface's own subnets (addresses of this host it made for the purpose).
 */
function addressesOf(prev: Result, ifname: string): { ips: string[]; gateways: string[] } {
  const idx = prev.interfaces?.findIndex((i) => i.name === ifname && i.sandbox) ?? -1;
  const mine = (prev.ips ?? []).filter((ip) => ip.interface === undefined || ip.interface === idx);
  const gateways = [...new Set(mine.map((ip) => ip.gateway).filter((g): g is string => !!g))];
  if (!gateways.length) {
    const subnets = mine.map((ip) => parseCidr(ip.address).prefix);
    for (const ns of prev.dns?.nameservers ?? []) {
      let a;
      try {
        a = parseAddr(ns);
      } catch {
        continue;
      }
      if (subnets.some((p) => containsAddr(p, a)) && !gateways.includes(ns)) gateways.push(ns);
    }
  }
  return { ips: [...new Set(mine.map((ip) => ip.address.split('/')[0]!))], gateways };
}

function needPrev(conf: DnsConf): Result {
  if (!conf.prevResult)
    throw new CniError(
      ErrorCode.InvalidNetworkConfig,
      `network "${conf.name}": tsnet-dns needs a prevResult`,
      'put tsnet-dns after the interface plugin (bridge) in the conflist: it is a chained plugin',
    );
  return conf.prevResult;
}

/** After a change, under the lock: a resolver for what is left, or none when nothing is. */
async function settle(dir: string, names: NamesFile, start: boolean, cniPath: string[]): Promise<ServerStatus | undefined> {
  if (entryCount(names) === 0) {
    await stopServer(dir);
    return undefined;
  }
  return syncServer(dir, { start, cniPath });
}

async function add(conf: DnsConf, args: CniArgs): Promise<Result> {
  const prev = needPrev(conf);
  if (conf.disableDns) return prev;
  const { name, aliases } = namesOf(conf, args);
  const { ips, gateways } = addressesOf(prev, args.ifname);
  if (!ips.length)
    throw new CniError(
      ErrorCode.InvalidNetworkConfig,
      `network "${conf.name}": the previous result has no address for ${args.ifname}`,
      'put tsnet-dns after the plugin that gives the container its address (bridge with an IPAM)',
    );
  if (!gateways.length)
    throw new CniError(
      ErrorCode.InvalidNetworkConfig,
      `network "${conf.name}": the previous result has no gateway for ${args.ifname}, nor a nameserver in its subnet, and the resolver listens on one of those`,
      'set "isGateway": true on the bridge plugin (its IPAM then hands out a gateway), or "resolver": true on the overlay plugin',
    );
  findServerExecutable(args.path); // fail before recording anything when the resolver cannot be started
  const dir = dnsDir(conf.dataDir);
  const domain = domainOf(conf);
  const entry: NameEntry = { containerId: args.containerId, ifname: args.ifname, name, aliases, ips };
  try {
    await withNames(
      dir,
      (names) => ({ changed: putEntry(names, conf.name, { resolvers: gateways, domain }, entry), value: undefined }),
      async (names) => {
        const st = await settle(dir, names, true, args.path);
        const failed = st?.failed.filter((f) => gateways.includes(f.address)) ?? [];
        if (failed.length) {
          const inUse = failed.some((f) => /EADDRINUSE/.test(f.error));
          throw new PluginError(
            `network "${conf.name}" resolver ${failed.map((f) => `${f.address}:53`).join(', ')}`,
            `cannot listen: ${failed.map((f) => f.error).join('; ')}`,
            inUse
              ? 'another DNS server holds port 53 on that address: stop it, or turn DNS off for this network ("disableDns": true, or tsnet network create --disable-dns)'
              : 'check that the bridge carries its gateway address',
            DnsErrorCode.CannotListen,
          );
        }
      },
    );
  } catch (e) {
    await withNames(
      dir,
      (names) => ({ changed: dropEntry(names, conf.name, args.containerId, args.ifname), value: undefined }),
      async (names) => void (await settle(dir, names, false, args.path).catch(() => undefined)),
    ).catch(() => undefined);
    throw e;
  }
  const search = [domain, ...(prev.dns?.search ?? []).filter((s) => s !== domain)];
  return { ...prev, dns: { ...prev.dns, nameservers: gateways, search } };
}

async function del(conf: DnsConf, args: CniArgs): Promise<void> {
  if (conf.disableDns) return;
  const dir = dnsDir(conf.dataDir);
  if (!existsSync(dir)) return;
  await withNames(
    dir,
    (names) => ({ changed: dropEntry(names, conf.name, args.containerId, args.ifname), value: undefined }),
    async (names) => {
      if (entryCount(names) === 0) await stopServer(dir);
      // The others' resolver keeps going; one that cannot be told now reads the records when it next starts.
      else await syncServer(dir, { start: false, cniPath: args.path }).catch(() => undefined);
    },
  );
}

async function check(conf: DnsConf, args: CniArgs): Promise<void> {
  needPrev(conf);
  if (conf.disableDns) return;
  const dir = dnsDir(conf.dataDir);
  const net = readNames(dir).networks[conf.name];
  if (!net?.entries.some((e) => e.containerId === args.containerId && e.ifname === args.ifname))
    throw new CniError(
      ErrorCode.Internal,
      `network "${conf.name}": no DNS record for container ${args.containerId} ${args.ifname}`,
      'DEL and ADD the attachment again',
    );
  let st: ServerStatus;
  try {
    st = await request(dir, 'status');
  } catch (e) {
    throw new CniError(
      ErrorCode.Internal,
      `network "${conf.name}": the resolver does not answer (${(e as Error).message})`,
      'ADD again to start it',
    );
  }
  const missing = net.resolvers.filter((r) => !st.listening.some((l) => l.address === r));
  if (missing.length)
    throw new CniError(ErrorCode.Internal, `network "${conf.name}": the resolver does not listen on ${missing.join(', ')}`, 'ADD again');
}

async function gc(conf: DnsConf, args: CniArgs): Promise<void> {
  if (conf.disableDns) return;
  const dir = dnsDir(conf.dataDir);
  if (!existsSync(dir)) return;
  const valid = new Set((conf['cni.dev/valid-attachments'] ?? []).map((a) => `${a.containerID}\0${a.ifname}`));
  await withNames(
    dir,
    (names) => ({ changed: dropEntriesExcept(names, conf.name, (c, i) => valid.has(`${c}\0${i}`)) > 0, value: undefined }),
    async (names, changed) => {
      if (changed) await settle(dir, names, false, args.path);
    },
  );
}

export const tsnetDnsPlugin: Plugin<DnsConf> = {
  add,
  del,
  check,
  gc,
  async status() {
    /* the records are a file and the resolver is started on demand: ready whenever the plugin can run */
  },
};

export const tsnetDnsEntry: PluginEntry<DnsConf> = {
  plugin: tsnetDnsPlugin,
  opts: { name: 'tsnet-dns', about: 'CNI tsnet-dns plugin: container names on the network resolver (podman dnsname role)', validate },
};
