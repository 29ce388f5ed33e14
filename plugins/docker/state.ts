// The driver's own records (not IPAM state, which ipam/ keeps): one JSON file per Docker network and per
// endpoint under <root>/docker/, each replaced atomically, so the driver can be restarted at any time and
// answer for what Docker made before.
import { existsSync, readFileSync, readdirSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { ensureDir, writeFileAtomic } from '../../ipam/durable.js';
import { PluginError } from '../shared/errors.js';

export interface NetworkRec {
  id: string;
  bridge: string;
  /** True when the driver made the bridge (it removes it with the network, if no port is left on it). */
  madeBridge: boolean;
  mtu: number;
  masquerade: boolean;
  /** --internal (absent: false). */
  internal?: boolean;
  /** false for icc=false (absent: true). */
  icc?: boolean;
  /** host_binding_ipv4: the host address of a -p that names none (absent: every local address). */
  hostIp?: string;
  /** container_iface_prefix (absent: eth). */
  ifacePrefix?: string;
  /** IPv4 subnet and gateway (CIDR form, as Docker hands them). */
  subnet?: string;
  gateway?: string;
}

export interface PortRec {
  proto: 'tcp' | 'udp';
  hostIp?: string;
  hostPort: number;
  port: number;
}

export interface EndpointRec {
  id: string;
  network: string;
  hostVeth: string;
  /** The end Docker moves into the sandbox (named here in the host namespace until then). */
  ctrVeth: string;
  address?: string;
  mac: string;
  ports?: PortRec[];
}

/** The prefix of the host ends of the driver's veths. */
export const HOST_VETH_PREFIX = 'tsd';

const ID_RE = /^[a-zA-Z0-9_.-]{1,128}$/;

export class DriverState {
  readonly dir: string;
  constructor(root: string) {
    this.dir = join(root, 'docker');
  }

  private file(kind: 'networks' | 'endpoints', id: string): string {
    if (!ID_RE.test(id))
      throw new PluginError(
        `${kind === 'networks' ? 'network' : 'endpoint'} id ${JSON.stringify(id)}`,
        'is not a Docker id',
        'pass the id Docker gave',
      );
    return join(this.dir, kind, `${id}.json`);
  }

  private read<T>(kind: 'networks' | 'endpoints', id: string): T | undefined {
    const f = this.file(kind, id);
    return existsSync(f) ? (JSON.parse(readFileSync(f, 'utf8')) as T) : undefined;
  }

  private async write(kind: 'networks' | 'endpoints', id: string, rec: object): Promise<void> {
    ensureDir(join(this.dir, kind));
    await writeFileAtomic(this.file(kind, id), JSON.stringify(rec, null, 2) + '\n');
  }

  private remove(kind: 'networks' | 'endpoints', id: string): void {
    const f = this.file(kind, id);
    if (existsSync(f)) unlinkSync(f);
  }

  network(id: string): NetworkRec | undefined {
    return this.read<NetworkRec>('networks', id);
  }
  requireNetwork(id: string): NetworkRec {
    const n = this.network(id);
    if (!n)
      throw new PluginError(
        `network ${String(id).slice(0, 12)}`,
        'is not a tsnet network known to this driver',
        'create it with docker network create -d tsnet, or remove it from Docker (docker network rm)',
      );
    return n;
  }
  saveNetwork(n: NetworkRec): Promise<void> {
    return this.write('networks', n.id, n);
  }
  removeNetwork(id: string): void {
    this.remove('networks', id);
  }

  networks(): NetworkRec[] {
    return this.list<NetworkRec>('networks');
  }

  private list<T>(kind: 'networks' | 'endpoints'): T[] {
    const d = join(this.dir, kind);
    if (!existsSync(d)) return [];
    return readdirSync(d)
      .filter((f) => f.endsWith('.json'))
      .map((f) => JSON.parse(readFileSync(join(d, f), 'utf8')) as T);
  }

  endpoint(id: string): EndpointRec | undefined {
    return this.read<EndpointRec>('endpoints', id);
  }
  requireEndpoint(id: string): EndpointRec {
    const e = this.endpoint(id);
    if (!e)
      throw new PluginError(
        `endpoint ${String(id).slice(0, 12)}`,
        'is not known to the tsnet driver',
        'reconnect the container (docker network disconnect, then connect)',
      );
    return e;
  }
  saveEndpoint(e: EndpointRec): Promise<void> {
    return this.write('endpoints', e.id, e);
  }
  removeEndpoint(id: string): void {
    this.remove('endpoints', id);
  }
  endpoints(): EndpointRec[] {
    return this.list<EndpointRec>('endpoints');
  }
}
