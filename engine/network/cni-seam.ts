// THE SEAM between the engine and the CNI plugins, for --net bridge, --net <network>, --net attach:… and -p.
//
// The runtime has already created the container's netns (persistent, /run/netns/tsnet-<short id>) and passes
// its path. The lead wires this one function to plugins/cni/invoke.ts: load the network's conflist (bridge =
// the default network, <name> = from ipam/ `network create`), run the chain in-process with
// CNI_CONTAINERID=<id>, CNI_NETNS=<netnsPath>, CNI_IFNAME=<ifname>, args IP=<--ip>, capability args
// portMappings=<ports>, and turn the 1.x Result into Endpoints. 'DEL' must be idempotent (it also runs after
// a crash, maybe for an ADD that never happened) and should remove published ports.
//
// Until it is wired, install a provider with setCniProvider() (the CLI does it at start-up when available);
// without one, bridge/named/attach networks fail with a clear error and --net none / host / container: work.
import { TsnetError } from '../errors.js';
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

export type CniProvider = (command: 'ADD' | 'DEL', req: CniSeamRequest) => Promise<CniSeamResult>;

let provider: CniProvider | undefined;

export function setCniProvider(p: CniProvider | undefined): void {
  provider = p;
}

/** The one function the runtime calls for CNI-backed networks. */
export async function cniNetworks(command: 'ADD' | 'DEL', req: CniSeamRequest): Promise<CniSeamResult> {
  if (!provider) {
    if (command === 'DEL') return { networks: {}, ports: [] }; // nothing can have been added
    throw new TsnetError(
      `--net ${req.mode.kind === 'network' ? req.mode.name : req.mode.kind === 'attach' ? `attach:${req.mode.spec}` : 'bridge'}`,
      'CNI-backed networks are not wired into the engine yet',
      'use --net none, --net host or --net container:<ctr> for now',
    );
  }
  return provider(command, req);
}
