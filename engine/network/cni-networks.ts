// The engine's CNI-backed networks — --net bridge, --net <network>, --net attach:… and -p — through the same
// invoker an orchestrator would use, with tsnet's plugins in-process. The runtime has created the container's
// netns (persistent, /run/netns/tsnet-<short id>) and passes its path; the network's conflist runs through the
// invoker. DEL must be idempotent (it also runs after a crash, maybe for an ADD that never happened) and
// removes published ports.
//
// Callers load this module with a dynamic import(), only when a container is networked: it loads the plugins,
// and commands such as `ps` never need them.
//
// When tsnetd runs (a trusted socket at $TSNET_SOCKET or /run/tsnet/tsnetd.sock), tsnet's plugins run there —
// the fast path, warm, as dist/cni-fast's shim uses it — and in this process otherwise, or when it declines.
import { existsSync } from 'node:fs';
import { trace } from '../../common/trace.js';
import { removeRules } from '../../native/nftables.js';
import { currentHostUsage } from '../../ipam/host-usage.js';
import { NetworkRegistry, type NetworkRecord } from '../../ipam/networks.js';
import { ResultCache, cacheDir } from '../../plugins/cni/cache.js';
import { parseConfig, type NetworkConfigList } from '../../plugins/cni/conflist.js';
import { toInternal } from '../../plugins/cni/convert.js';
import { Invoker, type InvokerOptions } from '../../plugins/cni/invoke.js';
import { CniError } from '../../plugins/cni/types.js';
import { callDaemon } from '../../plugins/daemon/client.js';
import { socketPath, untrustedSocket } from '../../plugins/daemon/endpoint.js';
import { inProcessPlugins } from '../../plugins/registry.js';
import { TsnetError } from '../../common/errors.js';
import { attachConflist, conflistFor } from './conflists.js';
import type { Endpoint, NetMode } from './driver.js';
import { DEFAULT_BRIDGE, DEFAULT_NETWORK } from '../../common/paths.js';
import { endpointAliases, newEndpointId } from './endpoint.js';
import { bridgeNameOf, masqOwner } from './owners.js';
import { publishPorts, unpublishPorts, type PortMapping } from './ports.js';

export interface CniNetworkRequest {
  containerId: string;
  containerName: string;
  /** bridge | network | attach (host/none/container never come here). */
  mode: Extract<NetMode, { kind: 'bridge' | 'network' | 'attach' }>;
  netnsPath: string;
  /** Interface name inside the container (eth0 for the first network). */
  ifname: string;
  /** --ip */
  ip?: string;
  /** --ip6 (a dual-stack network) */
  ip6?: string;
  /** --mac-address (eth0) */
  mac?: string;
  /** --network-alias / --alias on this network. */
  aliases?: string[];
  ports: PortMapping[];
}

export interface CniNetworkResult {
  /** Network name (docker's key under NetworkSettings.Networks: 'bridge' or the user network's name) → endpoint. */
  networks: Record<string, Endpoint>;
  dns?: { nameservers?: string[]; search?: string[]; options?: string[] };
  /** Ports published (empty when none were asked). */
  ports: PortMapping[];
}

/**
 * tsnetd's fast path, when a daemon listens on a socket only root could have made; else undefined (the plugins
 * run in this process). tsnetd declines (and the plugin runs here) what it does not serve: another state
 * root, a caller in other namespaces, a config too costly to parse.
 */
function viaDaemon(): InvokerOptions['via'] {
  const socket = socketPath();
  if (!existsSync(socket) || untrustedSocket(socket) !== undefined) return undefined;
  const root = process.env.TSNET_ROOT ? { TSNET_ROOT: process.env.TSNET_ROOT } : {};
  return async (type, vars, stdin) => {
    const r = await callDaemon({ type, env: { ...vars, ...root }, stdin, socket });
    if (!r || r.kind === 'fallback') return undefined;
    const text = r.stdout.toString();
    let out: { code?: number; msg?: string; details?: string } | undefined;
    try {
      out = text.trim() ? JSON.parse(text) : undefined;
    } catch {
      throw new CniError(999, `tsnetd's answer is not JSON: ${text.slice(0, 200)}`);
    }
    if (r.exitCode !== 0)
      throw new CniError(out?.code ?? 999, out?.msg ?? (r.stderr.toString().trim() || `exit status ${r.exitCode}`), out?.details);
    trace(`tsnetd-${vars.CNI_COMMAND}-${type}`);
    return { output: out };
  };
}

function invoker(cache: ResultCache): Invoker {
  return new Invoker({ inProcess: inProcessPlugins(), cache, via: viaDaemon() });
}

/** The network a bridge/named mode means: `bridge` is the default network. */
function networkName(req: CniNetworkRequest): string {
  if (req.mode.kind === 'bridge') return DEFAULT_NETWORK;
  if (req.mode.kind === 'network') return req.mode.name;
  throw new TsnetError(`--net attach:${req.mode.spec}`, 'not a bridge network', 'internal: attach networks take attachConflist');
}

/** For ADD: the network's record; the default network is made on first use, a named one must exist. */
async function networkForAdd(reg: NetworkRegistry, name: string): Promise<NetworkRecord> {
  if (name === DEFAULT_NETWORK) return reg.ensureAuto({ name, hostUsage: currentHostUsage, options: { bridge: DEFAULT_BRIDGE } });
  const rec = reg.get(name);
  if (!rec)
    throw new TsnetError(`--net ${name}`, 'no such network', `create it with 'tsnet network create ${name}', or see 'tsnet network ls'`);
  return rec;
}

function endpointOf(result: ReturnType<typeof toInternal>, ifname: string): Endpoint {
  const idx = result.interfaces?.findIndex((i) => i.sandbox && i.name === ifname) ?? -1;
  const ips = (result.ips ?? []).filter((ip) => ip.interface === undefined || ip.interface === idx);
  const ip = ips.find((i) => !i.address.includes(':')) ?? ips[0];
  if (!ip) throw new TsnetError(`network interface ${ifname}`, 'the plugins returned no address for it', 'check the network configuration');
  const [addr, len] = ip.address.split('/');
  // a dual-stack network's IPv6 address (inspect's GlobalIPv6Address), beside the IPv4 one
  const ip6 = ip.address.includes(':') ? undefined : ips.find((i) => i.address.includes(':'));
  const [addr6, len6] = ip6 ? ip6.address.split('/') : [];
  return {
    ip: addr!,
    prefixLen: Number(len),
    gateway: ip.gateway ?? '',
    mac: (idx >= 0 ? result.interfaces![idx]!.mac : '') ?? '',
    iface: ifname,
    ...(ip6 ? { ip6: addr6!, prefixLen6: Number(len6), gateway6: ip6.gateway ?? '' } : {}),
  };
}

/**
 * DEL on a network that never existed (ADD failed on it) or was force-removed with its allocations
 * (`network rm -f`): its addresses went with it, but this attachment's veth and rules are still ours. The DEL
 * is replayed with the config the attachment was made with (the invoker's cache), so the bridge plugin removes
 * what it made; tsnet-ipam finds the network gone and holds nothing. Without a cached config (the ADD failed,
 * and rolled itself back) only the rules are looked for, by their owner tags. (A DEL never makes the default
 * network.)
 */
async function delOnMissingNetwork(name: string, req: CniNetworkRequest): Promise<void> {
  await unpublishPorts(req.containerId, req.ifname);
  const cache = new ResultCache(cacheDir());
  const cached = cache.read(name, req.containerId, req.ifname);
  let list: NetworkConfigList | undefined;
  try {
    list = cached ? parseConfig(cached.config, `cached config of network "${name}"`) : undefined;
  } catch {
    list = undefined; // damaged or from another version: fall back as if there were none
  }
  if (list) {
    await invoker(cache).del(list, {
      containerId: req.containerId,
      netns: req.netnsPath,
      ifname: req.ifname,
    });
  } else {
    // The veth, if any, goes when the container's netns is deleted.
    await removeRules(masqOwner(name, req.containerId, req.ifname));
    cache.remove(name, req.containerId, req.ifname);
  }
}

/** ADD or DEL of one container interface on a CNI-backed network. */
export async function cniNetworks(command: 'ADD' | 'DEL', req: CniNetworkRequest): Promise<CniNetworkResult> {
  let list: NetworkConfigList;
  let key: string;
  let bridge: string | undefined;
  if (req.mode.kind === 'attach') {
    ({ list, key } = attachConflist(req.mode.spec));
    if (command === 'ADD' && req.ports.length) {
      const fix = `drop -p, or use --net bridge (the container is reachable at its own address on ${key})`;
      throw new TsnetError('-p', 'ports are published on tsnet bridge networks only', fix);
    }
  } else {
    const reg = new NetworkRegistry();
    const name = networkName(req);
    const rec = command === 'DEL' ? reg.get(name) : await networkForAdd(reg, name);
    if (!rec) {
      await delOnMissingNetwork(name, req);
      return { networks: {}, ports: [] };
    }
    if (command === 'ADD' && req.ports.length && rec.options?.internal)
      throw new TsnetError(
        `-p with --net ${rec.name}`,
        `network "${rec.name}" is internal: nothing is forwarded into or out of it, so it publishes no ports`,
        'drop -p, or run the container on a network that is not --internal (and connect it to this one)',
      );
    if (command === 'ADD' && req.ports.length && rec.driver === 'overlay')
      throw new TsnetError(
        `-p with --net ${rec.name}`,
        `network "${rec.name}" is an overlay: this host has no route into it, so it publishes no ports`,
        'drop -p, or run the container on a bridge network with -p and connect it to this one (tsnet network connect)',
      );
    list = conflistFor(rec, req.ifname === 'eth0');
    key = rec.name;
    bridge = bridgeNameOf(rec);
  }
  const inv = invoker(new ResultCache(cacheDir()));
  // The container's name as podman passes it (CNI_ARGS K8S_POD_NAME) and its aliases as the `aliases`
  // capability: what tsnet-dns registers on the network's resolver (on a user network its short id too, as
  // Docker 20.10's embedded DNS answers it).
  const aliases = endpointAliases(req.containerId, req.mode, req.aliases);
  const rt = {
    containerId: req.containerId,
    netns: req.netnsPath,
    ifname: req.ifname,
    args: {
      K8S_POD_NAME: req.containerName,
      ...(req.ip || req.ip6 ? { IP: [req.ip, req.ip6].filter(Boolean).join(',') } : {}),
      ...(req.mac ? { MAC: req.mac } : {}),
    },
    ...(aliases ? { capabilityArgs: { aliases: { [key]: aliases } } } : {}),
  };
  if (command === 'DEL') {
    await unpublishPorts(req.containerId, req.ifname);
    await inv.del(list, rt);
    return { networks: {}, ports: [] };
  }
  const result = toInternal(await inv.add(list, rt), `result of network "${key}"`);
  try {
    const ep = { ...endpointOf(result, req.ifname), ...(aliases ? { aliases } : {}), endpointId: newEndpointId() };
    if (bridge) await publishPorts(req.containerId, req.ifname, bridge, ep.ip, req.ports, { ...(ep.ip6 ? { cip6: ep.ip6 } : {}) });
    return { networks: { [key]: ep }, ...(result.dns && Object.keys(result.dns).length ? { dns: result.dns } : {}), ports: req.ports };
  } catch (e) {
    await unpublishPorts(req.containerId, req.ifname);
    await inv.del(list, rt).catch(() => undefined);
    throw e;
  }
}
