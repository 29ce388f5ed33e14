// `tsnet network connect|disconnect`: another network on a running container, on its own interface (eth1,
// eth2, …), through the same CNI path as the container's first network; recorded in its state so `inspect`
// shows it, stop/rm detach it and start/restart connect it again. A stopped container's connect is recorded and
// done at its next start, as Docker's.
import { Netns } from '../../native/netns.js';
import { TsnetError } from '../../common/errors.js';
import { networkMode, parseNetMode } from '../network/modes.js';
import { endpointAliases } from '../network/endpoint.js';
import type { Attachment } from '../network/driver.js';
import { NetworkRegistry } from '../../ipam/networks.js';
import type { Container } from './model.js';
import { getContainer, updateState } from './store.js';

type ConnectOptions = { ip?: string; ip6?: string; aliases?: string[] };

/** The first of eth1 … eth99 not in `taken`. */
function firstFreeEth(taken: Set<string>, where: string): string {
  for (let i = 1; i < 100; i++) if (!taken.has(`eth${i}`)) return `eth${i}`;
  throw new TsnetError(where, 'has eth1 … eth99 already', 'disconnect a network first');
}

async function nextIfname(netnsPath: string): Promise<string> {
  const ns = Netns.open(netnsPath);
  try {
    return firstFreeEth(new Set((await ns.rtnl.links()).map((l) => l.name)), `netns ${netnsPath}`);
  } finally {
    ns.close();
  }
}

/** What state.json keeps of a connect (start and restart connect it again with the same options). */
function connectRecord(network: string, ifname: string, o: ConnectOptions): NonNullable<Attachment['connected']>[number] {
  return {
    network,
    ifname,
    ...(o.ip ? { ip: o.ip } : {}),
    ...(o.ip6 ? { ip6: o.ip6 } : {}),
    ...(o.aliases?.length ? { aliases: [...new Set(o.aliases)] } : {}),
  };
}

export async function connectNetwork(network: string, ref: string, opts: ConnectOptions = {}): Promise<string> {
  const c = getContainer(ref);
  const att = c.state.network;
  if (c.state.status === 'exited' && att) return connectStopped(c, att, network, opts);
  if (c.state.status !== 'running' || !att)
    throw new TsnetError(`container ${c.config.name}`, `is ${c.state.status}`, 'connect networks to a running or stopped container');
  if (!att.ownsNetns || att.netnsPath === 'host')
    throw new TsnetError(
      `container ${c.config.name}`,
      `shares another network namespace (--net ${c.config.net})`,
      'connect the container that owns the namespace instead',
    );
  if (att.networks[network])
    throw new TsnetError(
      `container ${c.config.name}`,
      `is already connected to network "${network}"`,
      `disconnect it first with 'tsnet network disconnect ${network} ${c.config.name}'`,
    );
  const ifname = await nextIfname(att.netnsPath);
  const req = {
    containerId: c.config.id,
    containerName: c.config.name,
    mode: networkMode(network),
    netnsPath: att.netnsPath,
    ifname,
    ...(opts.ip ? { ip: opts.ip } : {}),
    ...(opts.ip6 ? { ip6: opts.ip6 } : {}),
    ...(opts.aliases?.length ? { aliases: [...new Set(opts.aliases)] } : {}),
    ports: [],
  };
  const { cniNetworks } = await import('../network/cni-networks.js');
  const r = await cniNetworks('ADD', req);
  try {
    const fresh = getContainer(c.config.id).state.network ?? att;
    updateState(c.config.id, {
      network: {
        ...fresh,
        networks: { ...fresh.networks, ...r.networks },
        connected: [...(fresh.connected ?? []), connectRecord(network, ifname, opts)],
      },
    });
  } catch (e) {
    await cniNetworks('DEL', req).catch(() => undefined);
    throw e;
  }
  return ifname;
}

/**
 * `network connect` of a stopped container, as Docker takes it: recorded only (listed by inspect and ps, with no
 * address), and connected when the container starts (restart.ts). Returns the interface it will get.
 */
function connectStopped(c: Container, att: Attachment, network: string, opts: ConnectOptions): string {
  if (att.netnsPath === 'host' || !['bridge', 'network'].includes(parseNetMode(c.config.net).kind))
    throw new TsnetError(
      `container ${c.config.name}`,
      `has no network of its own (--net ${c.config.net})`,
      'connect a container on a bridge network',
    );
  if (!new NetworkRegistry().get(network))
    throw new TsnetError(
      `network "${network}"`,
      'not found',
      `create it with 'tsnet network create ${network}', or see 'tsnet network ls'`,
    );
  if (att.networks[network])
    throw new TsnetError(
      `container ${c.config.name}`,
      `is already connected to network "${network}"`,
      `disconnect it first with 'tsnet network disconnect ${network} ${c.config.name}'`,
    );
  const ifname = firstFreeEth(new Set((att.connected ?? []).map((x) => x.ifname)), `container ${c.config.name}`);
  const record = connectRecord(network, ifname, opts);
  // listed with the short id it will have there, as Docker lists a stopped container's connect
  const shown = endpointAliases(c.config.id, networkMode(network), record.aliases);
  const pending = { ip: '', prefixLen: 0, gateway: '', mac: '', iface: '', ...(shown ? { aliases: shown } : {}) };
  updateState(c.config.id, {
    network: {
      ...att,
      networks: { ...att.networks, [network]: pending },
      connected: [...(att.connected ?? []), record],
    },
  });
  return ifname;
}

export async function disconnectNetwork(network: string, ref: string): Promise<void> {
  const c = getContainer(ref);
  const att = c.state.network;
  const entry = att?.connected?.find((x) => x.network === network);
  if (!att || !entry) {
    const first = att && att.networks[network] && !entry;
    throw new TsnetError(
      `container ${c.config.name}`,
      first ? `network "${network}" is its first network (eth0), given at run` : `is not connected to network "${network}"`,
      first ? 'remove the container to leave it' : `see 'tsnet inspect ${c.config.name}'`,
    );
  }
  const { cniNetworks } = await import('../network/cni-networks.js');
  await cniNetworks('DEL', {
    containerId: c.config.id,
    containerName: c.config.name,
    mode: networkMode(network),
    netnsPath: att.netnsPath,
    ifname: entry.ifname,
    ports: [],
  });
  const { [network]: _gone, ...rest } = att.networks;
  updateState(c.config.id, { network: { ...att, networks: rest, connected: att.connected!.filter((x) => x !== entry) } });
}
