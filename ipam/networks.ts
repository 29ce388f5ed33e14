// The registry of named tsnet networks: one JSON file per network under <root>/networks/, each replaced
// atomically, all changes made under <root>/networks/.lock. A network's addresses live in its IPAM store
// (<root>/ipam/<name>/); `rm` refuses while that store holds addresses, unless forced.
import { CniCode, IpamError, IpamErrorCode } from './errors.js';
import { existsSync, readdirSync, readFileSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { containsAddr, first, formatAddr, formatPrefix, last, overlaps, parseAddr, parsePrefix, type Prefix } from './cidr.js';
import { randomHex } from '../common/random.js';
import { stateRoot } from '../common/paths.js';
import { ensureDir, fsyncDir, writeFileAtomic } from './durable.js';
import { withLock } from './lock.js';
import { pickSubnet, type Occupied } from './picker.js';
import type { PoolSpec } from './pools.js';
import type { RangeConfigError, RangeSpec } from './ranges.js';
import { canonicalizeRange, canonicalizeRangeSets } from './ranges.js';
import { checkName, IpamStore } from './store.js';

export interface NetworkRecord {
  name: string;
  /** 64 hex digits, like a Docker network id. */
  id: string;
  created: string;
  driver: string;
  subnet: string;
  gateway?: string;
  ipRange?: string;
  /** True when the subnet was chosen by the picker. */
  auto: boolean;
  /** Dual stack (`network create --ipv6 --subnet fd…/64`): the IPv6 subnet and its gateway, a second range set. */
  subnet6?: string;
  gateway6?: string;
  /** What the allocator uses (host-local range sets). */
  ranges: RangeSpec[][];
  /** Driver options (the bridge driver: its Linux bridge name, masquerade, MTU, internal, icc). */
  options?: NetworkOptions;
}

/** Options of the bridge driver, as docker's -o com.docker.network.bridge.*, driver.mtu and --internal. */
export interface NetworkOptions {
  /** Linux bridge name (default: br-<first 12 of the id>, tsnet0 for the default network). */
  bridge?: string;
  /** Masquerade traffic leaving the subnet (default true, as Docker). */
  ipMasq?: boolean;
  mtu?: number;
  /** The network's resolver (container names and aliases; tsnet-dns); false = `network create --disable-dns`. */
  dns?: boolean;
  /** No route out, no masquerade, no published ports: containers talk only to each other (docker's --internal). */
  internal?: boolean;
  /** Containers on the network may talk to each other (default true; docker's com.docker.network.bridge.enable_icc). */
  icc?: boolean;
  /** The overlay driver: the cluster store (etcd://…), the network's VNI, this host's name and VTEP, the store's TLS files. */
  store?: string;
  vni?: number;
  host?: string;
  vtep?: string;
  tls?: { ca?: string; cert?: string; key?: string };
}

export type NetworkErrorKind = 'invalid' | 'exists' | 'not-found' | 'in-use' | 'overlap' | 'no-subnet';

export class NetworkError extends IpamError {
  constructor(
    readonly kind: NetworkErrorKind,
    msg: string,
    fix?: string,
  ) {
    super(msg, fix, kind === 'no-subnet' ? IpamErrorCode.NoFreeSubnet : CniCode.InvalidNetworkConfig);
    this.name = 'NetworkError';
  }
}

export type HostUsage = () => Promise<Occupied[]>;

export interface CreateNetworkOptions {
  name: string;
  /** A CIDR, or "auto" / undefined to pick a free one. */
  subnet?: string;
  /** For auto: prefix length wanted (default: each pool's own size). */
  prefixLength?: number;
  gateway?: string;
  /** Allocate container addresses only from this sub-range of the subnet. */
  ipRange?: string;
  /** IPv6 too (dual stack): this IPv6 subnet (no IPv6 pool is picked from) and optionally its gateway. */
  subnet6?: string;
  gateway6?: string;
  pools?: PoolSpec[];
  driver?: string;
  /** Host routes and addresses (netlink-backed in production); only consulted for auto. */
  hostUsage?: HostUsage;
  options?: NetworkOptions;
}

export class NetworkRegistry {
  readonly root: string;
  readonly dir: string;
  private readonly lockPath: string;

  constructor(
    root?: string,
    private readonly lockTimeoutMs?: number,
  ) {
    this.root = stateRoot(root);
    this.dir = join(this.root, 'networks');
    this.lockPath = join(this.dir, '.lock');
  }

  private file(name: string): string {
    return join(this.dir, `${checkName(name)}.json`);
  }

  list(): NetworkRecord[] {
    if (!existsSync(this.dir)) return [];
    return readdirSync(this.dir)
      .filter((f) => f.endsWith('.json'))
      .sort()
      .map((f) => this.readFile(join(this.dir, f)));
  }

  private readFile(path: string): NetworkRecord {
    try {
      return JSON.parse(readFileSync(path, 'utf8')) as NetworkRecord;
    } catch (e) {
      throw new NetworkError('invalid', `network record ${path} is unreadable: ${(e as Error).message}. Remove or repair the file.`);
    }
  }

  get(name: string): NetworkRecord | undefined {
    const f = this.file(name);
    return existsSync(f) ? this.readFile(f) : undefined;
  }

  /**
   * The name of the network REF names, as Docker looks a network up: its name, else its full id, else an id
   * prefix no other network's id has (`network ls` shows 12 characters). Not found or ambiguous: a NetworkError.
   */
  resolve(ref: string): string {
    if (this.get(ref)) return ref;
    if (/^[0-9a-f]{1,64}$/.test(ref)) {
      const all = this.list();
      const full = all.find((n) => n.id === ref);
      if (full) return full.name;
      const matches = all.filter((n) => n.id.startsWith(ref));
      if (matches.length === 1) return matches[0]!.name;
      if (matches.length > 1)
        throw new NetworkError(
          'invalid',
          `network id prefix "${ref}" is ambiguous: it starts the ids of ${matches.map((n) => n.name).join(', ')}; give more of the id, or the name`,
        );
    }
    return this.require(ref).name;
  }

  /** The network, or a NetworkError naming the known ones. */
  require(name: string): NetworkRecord {
    const n = this.get(name);
    if (!n) {
      const known = this.list().map((r) => r.name);
      throw new NetworkError(
        'not-found',
        `network "${name}" not found${known.length ? ` (known: ${known.join(', ')})` : ' (no networks exist)'}; create it with 'tsnet network create ${name}'`,
      );
    }
    return n;
  }

  store(name: string): IpamStore {
    return IpamStore.forNetwork(this.root, name, this.lockTimeoutMs === undefined ? {} : { lockTimeoutMs: this.lockTimeoutMs });
  }

  /** Addresses currently allocated on the network. */
  async held(name: string): Promise<number> {
    return (await this.store(name).read()).size;
  }

  async create(o: CreateNetworkOptions): Promise<NetworkRecord> {
    checkName(o.name);
    ensureDir(this.dir);
    // Host usage is read before taking the lock: it may be slow (netlink dumps) and needs no lock.
    const auto = o.subnet === undefined || o.subnet === '' || o.subnet === 'auto';
    const host = auto && o.hostUsage ? await o.hostUsage() : [];
    return withLock(
      this.lockPath,
      async () => {
        if (this.get(o.name))
          throw new NetworkError(
            'exists',
            `network "${o.name}" already exists; pick another name or remove it first ('tsnet network rm ${o.name}')`,
          );
        const others = this.list();
        let subnet: Prefix;
        if (auto) {
          const occupied: Occupied[] = [...host, ...others.map((n) => ({ prefix: n.subnet, what: `tsnet network ${n.name}` }))];
          try {
            subnet = pickSubnet({
              occupied,
              ...(o.pools ? { pools: o.pools } : {}),
              ...(o.prefixLength !== undefined ? { prefixLength: o.prefixLength } : {}),
            }).subnet;
          } catch (e) {
            throw new NetworkError('no-subnet', `cannot create network "${o.name}": ${(e as Error).message}`);
          }
        } else {
          try {
            subnet = parsePrefix(o.subnet!, { strict: true });
          } catch (e) {
            throw new NetworkError('invalid', `--subnet: ${(e as Error).message}`);
          }
          const clash = others.find((n) => overlaps(parsePrefix(n.subnet), subnet));
          if (clash) {
            throw new NetworkError(
              'overlap',
              `subnet ${formatPrefix(subnet)} overlaps network "${clash.name}" (${clash.subnet}); choose another subnet or use --subnet auto`,
            );
          }
        }
        let subnet6: Prefix | undefined;
        if (o.subnet6 !== undefined) {
          try {
            subnet6 = parsePrefix(o.subnet6, { strict: true });
          } catch (e) {
            throw new NetworkError('invalid', `--subnet ${o.subnet6}: ${(e as Error).message}`);
          }
          if (subnet6.family !== 6) throw new NetworkError('invalid', `--subnet ${o.subnet6} is not an IPv6 subnet`);
          const clash6 = others.find((n) => n.subnet6 && overlaps(parsePrefix(n.subnet6), subnet6!));
          if (clash6)
            throw new NetworkError(
              'overlap',
              `subnet ${formatPrefix(subnet6)} overlaps network "${clash6.name}" (${clash6.subnet6}); choose another IPv6 subnet`,
            );
        }
        const rec = buildRecord(o, subnet, auto, subnet6);
        await writeFileAtomic(this.file(o.name), JSON.stringify(rec, null, 2) + '\n');
        return rec;
      },
      this.lockTimeoutMs,
    );
  }

  /** Remove a network; refuses while addresses are allocated unless `force` (which drops them). */
  async remove(name: string, opts: { force?: boolean } = {}): Promise<NetworkRecord> {
    ensureDir(this.dir);
    return withLock(
      this.lockPath,
      async () => {
        const rec = this.require(name);
        const store = this.store(name);
        const state = await store.read();
        if (state.size > 0 && !opts.force) {
          const sample = [...state.all()].slice(0, 3).map((r) => `${formatAddr(r)} (${r.containerID.slice(0, 12)}/${r.ifname})`);
          throw new NetworkError(
            'in-use',
            `network "${name}" still has ${state.size} address${state.size === 1 ? '' : 'es'} allocated: ${sample.join(', ')}${state.size > 3 ? ', …' : ''}. ` +
              `Remove or disconnect those containers first, or use --force to drop the allocations.`,
          );
        }
        await store.destroy();
        unlinkSync(this.file(name));
        fsyncDir(this.dir);
        return rec;
      },
      this.lockTimeoutMs,
    );
  }

  /** Get the network named `name`, creating it with a picked subnet if it does not exist (CNI "subnet": "auto"). */
  async ensureAuto(o: CreateNetworkOptions): Promise<NetworkRecord> {
    const existing = this.get(o.name);
    if (existing) return existing;
    try {
      return await this.create({ ...o, subnet: 'auto' });
    } catch (e) {
      if (e instanceof NetworkError && e.kind === 'exists') return this.require(o.name);
      throw e;
    }
  }
}

/** A subnet's range: checked to be large enough, with its gateway (given, or the first address). */
function subnetRange(o: CreateNetworkOptions, subnet: Prefix, auto: boolean, gatewayText: string | undefined): RangeSpec {
  try {
    canonicalizeRange({ subnet: formatPrefix(subnet) }); // too small (a /31, /32)?
  } catch (e) {
    const max = subnet.family === 4 ? 30 : 126;
    throw new NetworkError(
      'invalid',
      `cannot create network "${o.name}": ${(e as RangeConfigError).reason}`,
      auto ? `ask for a prefix length of ${max} or less` : (e as RangeConfigError).fix,
    );
  }
  let gateway: string;
  if (gatewayText) {
    let gw;
    try {
      gw = parseAddr(gatewayText);
    } catch (e) {
      throw new NetworkError('invalid', `--gateway: ${(e as Error).message}`);
    }
    if (!containsAddr(subnet, gw))
      throw new NetworkError('invalid', `--gateway ${gatewayText} is not inside subnet ${formatPrefix(subnet)}`);
    gateway = formatAddr(gw);
  } else {
    gateway = formatAddr({ family: subnet.family, value: first(subnet) + 1n });
  }
  return { subnet: formatPrefix(subnet), gateway };
}

function buildRecord(o: CreateNetworkOptions, subnet: Prefix, auto: boolean, subnet6?: Prefix): NetworkRecord {
  const v4 = subnet.family === 4;
  const range = subnetRange(o, subnet, auto, o.gateway);
  const gateway = range.gateway;
  const range6 = subnet6 ? subnetRange(o, subnet6, false, o.gateway6) : undefined;
  let ipRange: string | undefined;
  if (o.ipRange) {
    let r: Prefix;
    try {
      r = parsePrefix(o.ipRange, { strict: true });
    } catch (e) {
      throw new NetworkError('invalid', `--ip-range: ${(e as Error).message}`);
    }
    if (r.family !== subnet.family || r.length < subnet.length || !containsAddr(subnet, { family: r.family, value: first(r) })) {
      throw new NetworkError('invalid', `--ip-range ${o.ipRange} is not inside subnet ${formatPrefix(subnet)}`);
    }
    let start = first(r);
    let end = last(r);
    if (start === first(subnet)) start += 1n;
    if (v4 && end === last(subnet)) end -= 1n;
    if (start > end) throw new NetworkError('invalid', `--ip-range ${o.ipRange} leaves no usable address`);
    range.rangeStart = formatAddr({ family: subnet.family, value: start });
    range.rangeEnd = formatAddr({ family: subnet.family, value: end });
    ipRange = formatPrefix(r);
  }
  try {
    canonicalizeRangeSets(range6 ? [[range], [range6]] : [[range]]);
  } catch (e) {
    throw new NetworkError('invalid', (e as Error).message);
  }
  return {
    name: o.name,
    id: randomHex(32),
    created: new Date().toISOString(),
    driver: o.driver ?? 'bridge',
    subnet: formatPrefix(subnet),
    ...(gateway ? { gateway } : {}),
    ...(ipRange ? { ipRange } : {}),
    auto,
    ...(range6 ? { subnet6: range6.subnet, gateway6: range6.gateway } : {}),
    ranges: range6 ? [[range], [range6]] : [[range]],
    ...(o.options && Object.keys(o.options).length ? { options: o.options } : {}),
  };
}
