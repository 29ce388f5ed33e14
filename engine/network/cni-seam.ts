// The seam between the engine and the CNI plugins, for --net bridge, --net <network>, --net attach:… and -p:
// the runtime has created the container's netns (persistent, /run/netns/tsnet-<short id>) and passes its path;
// the provider runs the network's conflist through the CNI invoker. DEL must be idempotent (it also runs after
// a crash, maybe for an ADD that never happened) and removes published ports.
import type { Endpoint, NetMode } from './driver.js';
import type { PortMapping } from './ports.js';

export interface CniSeamRequest {
  containerId: string;
  containerName: string;
  /** bridge | network | attach (host/none/container never reach the seam). */
  mode: Extract<NetMode, { kind: 'bridge' | 'network' | 'attach' }>;
  netnsPath: string;
  /** Interface name inside the container for the first network. */
  ifname: string;
  /** --ip */
  ip?: string;
  ports: PortMapping[];
}

export interface CniSeamResult {
  /** Network name (docker's key under NetworkSettings.Networks: 'bridge' or the user network's name) → endpoint. */
  networks: Record<string, Endpoint>;
  dns?: { nameservers?: string[]; search?: string[]; options?: string[] };
  /** Ports published (empty when none were asked). */
  ports: PortMapping[];
}

/**
 * The one function the runtime calls for CNI-backed networks: network/cni-provider.ts, loaded only when a
 * container is networked (commands such as `ps` never load the plugins).
 */
export async function cniNetworks(command: 'ADD' | 'DEL', req: CniSeamRequest): Promise<CniSeamResult> {
  return (await import('./cni-provider.js')).cniProvider(command, req);
}
