// The conflists the engine runs through the CNI invoker, built as objects and handed over as they are (no
// JSON text in between): tsnet's bridge plugin over tsnet-ipam for a network, the attach plugin for
// --net attach:…
import type { NetworkRecord } from '../../ipam/networks.js';
import { configFromObject, type NetworkConfigList } from '../../plugins/cni/conflist.js';
import { TsnetError } from '../../common/errors.js';
import { bridgeNameOf } from './owners.js';
import { DEFAULT_NETWORK, stateRoot } from '../../common/paths.js';
import { join } from 'node:path';

/**
 * Whether containers on the network resolve each other's names: user networks unless --disable-dns (Docker: not the
 * default bridge). On an overlay the names are cluster-wide (tsnetd shares them through the store).
 */
export function dnsEnabled(rec: NetworkRecord): boolean {
  return rec.name !== DEFAULT_NETWORK && rec.options?.dns !== false;
}

/** tsnet-dns in an engine conflist: the state under the engine's root, named so that a DEL replayed from the cache finds it. */
const dnsPlugin = (): object => ({ type: 'tsnet-dns', dataDir: join(stateRoot(), 'dns'), capabilities: { aliases: true } });

/**
 * The conflist of a network: tsnet's bridge plugin over tsnet-ipam, then tsnet-dns where the network has DNS
 * (the container's name and aliases on the network's resolver; its state under the engine's root, named in the
 * config so that a DEL replayed from the cache finds it). Only the container's first network (eth0) sets its
 * default route; networks connected later add their subnet only. Every engine network is isolated from the
 * others (Docker's isolation between networks); an internal one has no default route, no masquerade and forwards
 * nothing in or out; icc=false isolates the containers' bridge ports from each other.
 */
export function conflistFor(rec: NetworkRecord, primary = true): NetworkConfigList {
  if (rec.driver === 'overlay') return overlayConflist(rec);
  const internal = rec.options?.internal ?? false;
  const conf = {
    cniVersion: '1.1.0',
    name: rec.name,
    plugins: [
      {
        type: 'bridge',
        bridge: bridgeNameOf(rec),
        isGateway: true,
        isDefaultGateway: primary && !internal,
        ipMasq: !internal && (rec.options?.ipMasq ?? true),
        hairpinMode: true,
        ...(rec.options?.mtu ? { mtu: rec.options.mtu } : {}),
        isolation: true,
        ...(internal ? { internal: true } : {}),
        ...(rec.options?.icc === false ? { portIsolation: true } : {}),
        ipam: { type: 'tsnet-ipam', network: rec.name },
      },
      ...(dnsEnabled(rec) ? [dnsPlugin()] : []),
    ],
  };
  return configFromObject(conf, `network "${rec.name}"`);
}

/**
 * An overlay network (`network create --driver overlay`): the overlay plugin, addresses from the cluster store; with
 * DNS, a resolver address on this host's bridge (`resolver`) that tsnet-dns serves — the names of the network's
 * containers on every host (tsnetd copies the other hosts' from the store).
 */
function overlayConflist(rec: NetworkRecord): NetworkConfigList {
  const o = rec.options ?? {};
  const conf = {
    cniVersion: '1.1.0',
    name: rec.name,
    plugins: [
      {
        type: 'overlay',
        store: o.store,
        network: rec.name,
        subnet: rec.subnet,
        ...(o.vni ? { vni: o.vni } : {}),
        ...(o.host ? { host: o.host } : {}),
        ...(o.vtep ? { vtep: o.vtep } : {}),
        ...(o.tls ? { tls: o.tls } : {}),
        ...(dnsEnabled(rec) ? { resolver: true } : {}),
      },
      ...(dnsEnabled(rec) ? [dnsPlugin()] : []),
    ],
  };
  return configFromObject(conf, `network "${rec.name}"`);
}

/**
 * `--net attach:BRIDGE:IP/LEN[@GW][:MAC]` — pipework's attachment as the container's network, through the
 * attach plugin: e.g. attach:br0:192.168.115.10/24@192.168.115.2. `key` names it in the container's networks.
 */
export function attachConflist(spec: string): { list: NetworkConfigList; key: string } {
  const m = /^([^:/\s]{1,15}):([^@:]+\/\d{1,3}|dhcp)(?:@([0-9a-fA-F.:]+?))?(?::([0-9a-fA-F]{2}(?::[0-9a-fA-F]{2}){5}))?$/.exec(spec);
  if (!m)
    throw new TsnetError(
      `--net attach:${spec}`,
      'expected BRIDGE:IP/LEN[@GATEWAY][:MAC]',
      'write e.g. --net attach:br0:192.168.115.10/24@192.168.115.2',
    );
  const [, bridge, address, gateway, mac] = m;
  const plugin = { type: 'attach', bridge, address, ...(gateway ? { gateway } : {}), ...(mac ? { mac } : {}) };
  return {
    list: configFromObject({ cniVersion: '1.1.0', name: `attach-${bridge}`, plugins: [plugin] }, `--net attach:${spec}`),
    key: bridge!,
  };
}
