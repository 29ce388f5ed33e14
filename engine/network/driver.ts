// The network driver interface the runtime calls: attach() before the container starts (it decides which
// network namespace the init helper joins and records every network's address), detach() when the container
// stops or is removed (must be idempotent: it also runs after a crash, with whatever attach() left).
import type { PortMapping } from './ports.js';

/** How a container is networked, parsed from --net. */
export type NetMode =
  | { kind: 'host' }
  | { kind: 'none' }
  | { kind: 'bridge' }
  | { kind: 'container'; ref: string }
  /** A user network made with `tsnet network create`. */
  | { kind: 'network'; name: string }
  /** pipework-style: `attach:br0:10.1.0.5/24@10.1.0.1` */
  | { kind: 'attach'; spec: string };

/** One network's endpoint, as `inspect` shows it under NetworkSettings.Networks.<name>. */
export interface Endpoint {
  ip: string;
  prefixLen: number;
  gateway: string;
  mac: string;
  /** Interface name inside the container (eth0 …). */
  iface: string;
  /** On a dual-stack network (--ipv6): the IPv6 address, its prefix length and gateway. */
  ip6?: string;
  prefixLen6?: number;
  gateway6?: string;
  /**
   * More names for the container on this network (its resolver answers them): --network-alias / --alias, then,
   * on a user network, its short id (network/endpoint.ts).
   */
  aliases?: string[];
  /** Docker's EndpointID: 64 hex digits, made at each attach (absent: recorded before tsnet had one). */
  endpointId?: string;
}

/** What the driver knows about the container it networks. */
export interface NetworkTarget {
  id: string;
  name: string;
  hostname: string;
  mode: NetMode;
  /** --ip: a static address request for the (first) network. */
  ip?: string;
  /** --ip6: a static IPv6 address on the (first, dual-stack) network. */
  ip6?: string;
  /** --mac-address: eth0's MAC address. */
  mac?: string;
  /** --network-alias: names on the (first) network besides the container's name. */
  aliases?: string[];
  /** -p mappings; the bridge path publishes them (nftables DNAT), the others reject them. */
  ports: PortMapping[];
}

export interface Attachment {
  /** The netns the init helper joins; 'host' = stay in the host's. */
  netnsPath: string | 'host';
  /** True when the driver created the netns (then detach deletes it). */
  ownsNetns: boolean;
  /** The init helper brings `lo` up inside the netns (fresh namespaces have it down). */
  loUp: boolean;
  networks: Record<string, Endpoint>;
  /** --net host / none: the EndpointID of the container's endpoint on Docker's `host` / `none` network. */
  endpointId?: string;
  /**
   * Networks added to the running container with `tsnet network connect` (each on its own interface), with what
   * the connect asked for (`--ip`, `--ip6`, `--alias`): `start` and `restart` connect them again, as Docker.
   */
  connected?: { network: string; ifname: string; ip?: string; ip6?: string; aliases?: string[] }[];
  /** DNS the network wants in /etc/resolv.conf (CNI result dns); undefined = derive from the host. */
  dns?: { nameservers?: string[]; search?: string[]; options?: string[] };
  /** Ports actually published (inspect's NetworkSettings.Ports). */
  ports: PortMapping[];
}

/** What attach() tells its caller before it is done. */
export interface AttachHooks {
  /**
   * The netns the container will join ('host': none) and whether `lo` must be brought up in it: known before
   * the network is added (the netns is made first), so the container's init can start joining it meanwhile. A
   * hook that throws fails the attach, which undoes what it made.
   */
  netnsReady?(netnsPath: string | 'host', loUp: boolean): void | Promise<void>;
}

export interface NetworkDriver {
  attach(target: NetworkTarget, hooks?: AttachHooks): Promise<Attachment>;
  /** Undoes attach; `att` is what attach returned, or undefined when attach never finished (crash). */
  detach(target: NetworkTarget, att: Attachment | undefined): Promise<void>;
}
