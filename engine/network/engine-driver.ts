// The engine's network driver: host (no netns), container:<ref> (the other container's netns), none (a fresh
// netns with only lo, brought up by the init helper), and bridge / <network> / attach:… through ./cni-networks.ts.
import { TsnetError } from '../../common/errors.js';
import type { CniNetworkRequest, CniNetworkResult } from './cni-networks.js';
import type { AttachHooks, Attachment, NetworkDriver, NetworkTarget } from './driver.js';
import { newEndpointId } from './endpoint.js';
import { networkMode } from './modes.js';
import { createNetns, deleteNetns, netnsOf, netnsPathFor } from './netns.js';

/** ./cni-networks.ts, loaded when a container is networked: it loads the plugins, which `ps` and the like never need. */
async function cniNetworks(command: 'ADD' | 'DEL', req: CniNetworkRequest): Promise<CniNetworkResult> {
  return (await import('./cni-networks.js')).cniNetworks(command, req);
}

/** What the driver needs to know about another container for container:<ref>. */
export interface PeerInfo {
  id: string;
  name: string;
  running: boolean;
  pid?: number;
  attachment?: Attachment;
}

export interface DriverDeps {
  /** Resolves a container by id, id prefix or name; throws TsnetError when not found. */
  resolveContainer(ref: string): PeerInfo;
}

export function createEngineDriver(deps: DriverDeps): NetworkDriver {
  return {
    async attach(t: NetworkTarget, hooks: AttachHooks = {}): Promise<Attachment> {
      const m = t.mode;
      if (m.kind !== 'bridge' && m.kind !== 'network' && m.kind !== 'attach' && t.ports.length) {
        throw new TsnetError(
          `-p with --net ${m.kind}`,
          'ports are published only on bridge networks',
          m.kind === 'host' ? 'drop -p: in host mode the container already listens on the host' : 'use --net bridge or a user network',
        );
      }
      if (t.ip && (m.kind === 'host' || m.kind === 'none' || m.kind === 'container')) {
        throw new TsnetError(
          `--ip with --net ${m.kind}`,
          'a static address needs a bridge or user network',
          'drop --ip or use a user network',
        );
      }
      switch (m.kind) {
        case 'host':
          await hooks.netnsReady?.('host', false);
          return { netnsPath: 'host', ownsNetns: false, loUp: false, networks: {}, endpointId: newEndpointId(), ports: [] };
        case 'container': {
          const peer = deps.resolveContainer(m.ref);
          if (!peer.running || !peer.pid)
            throw new TsnetError(
              `--net container:${m.ref}`,
              `container ${peer.name} is not running`,
              `start it first, or pick a running container from 'tsnet ps'`,
            );
          const pa = peer.attachment;
          const netnsPath = netnsOf(pa, peer.pid);
          await hooks.netnsReady?.(netnsPath, false);
          return { netnsPath, ownsNetns: false, loUp: false, networks: { ...(pa?.networks ?? {}) }, dns: pa?.dns, ports: [] };
        }
        case 'none': {
          const netnsPath = createNetns(t.id);
          try {
            await hooks.netnsReady?.(netnsPath, true);
          } catch (e) {
            deleteNetns(netnsPath);
            throw e;
          }
          return { netnsPath, ownsNetns: true, loUp: true, networks: {}, endpointId: newEndpointId(), ports: [] };
        }
        case 'bridge':
        case 'network':
        case 'attach': {
          const netnsPath = createNetns(t.id);
          try {
            await hooks.netnsReady?.(netnsPath, true);
            const r = await cniNetworks('ADD', {
              containerId: t.id,
              containerName: t.name,
              mode: m,
              netnsPath,
              ifname: 'eth0',
              ip: t.ip,
              ...(t.ip6 ? { ip6: t.ip6 } : {}),
              ...(t.mac ? { mac: t.mac } : {}),
              aliases: t.aliases,
              ports: t.ports,
            });
            return { netnsPath, ownsNetns: true, loUp: true, networks: r.networks, dns: r.dns, ports: r.ports };
          } catch (e) {
            await cniNetworks('DEL', {
              containerId: t.id,
              containerName: t.name,
              mode: m,
              netnsPath,
              ifname: 'eth0',
              ports: t.ports,
            }).catch(() => undefined);
            deleteNetns(netnsPath);
            throw e;
          }
        }
      }
    },

    async detach(t: NetworkTarget, att: Attachment | undefined): Promise<void> {
      const m = t.mode;
      if (m.kind === 'host' || m.kind === 'container') return;
      const netnsPath = att && att.netnsPath !== 'host' ? att.netnsPath : netnsPathFor(t.id);
      for (const c of att?.connected ?? []) {
        await cniNetworks('DEL', {
          containerId: t.id,
          containerName: t.name,
          mode: networkMode(c.network),
          netnsPath,
          ifname: c.ifname,
          ports: [],
        });
      }
      if (m.kind === 'bridge' || m.kind === 'network' || m.kind === 'attach') {
        await cniNetworks('DEL', { containerId: t.id, containerName: t.name, mode: m, netnsPath, ifname: 'eth0', ports: t.ports });
      }
      deleteNetns(netnsPath);
    },
  };
}
