// libnetwork's IpamDriver over tsnet's IPAM: a pool is a tsnet network in the registry (picked by the picker
// when Docker asks for none, so it overlaps no host route, interface or other network), its addresses come
// from that network's journaled store (ipam/), as the tsnet-ipam plugin's do.
import { Allocator } from '../../ipam/allocator.js';
import { formatAddr, parseAddr, parseCidr, parsePrefix } from '../../ipam/cidr.js';
import { NetworkRegistry, type HostUsage, type NetworkRecord } from '../../ipam/networks.js';
import { canonicalizeRangeSets } from '../../ipam/ranges.js';
import { randomHex } from '../../common/random.js';
import { PluginError } from '../shared/errors.js';

/** The prefix of the registry names of pools the driver made. */
export const POOL_PREFIX = 'docker-';
const GATEWAY = 'com.docker.network.gateway';

type Req = Record<string, unknown>;

function str(req: Req, key: string): string | undefined {
  const v = req[key];
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v !== 'string') throw new PluginError(`${key}`, `must be a string, got ${JSON.stringify(v)}`, 'send the request Docker sends');
  return v;
}

function poolOf(reg: NetworkRegistry, req: Req) {
  const id = str(req, 'PoolID');
  if (!id || !id.startsWith(POOL_PREFIX))
    throw new PluginError(
      `pool ${JSON.stringify(id ?? '')}`,
      'is not a pool of the tsnet IPAM driver',
      'use a pool id RequestPool returned',
    );
  const rec = reg.get(id);
  if (!rec) throw new PluginError(`pool ${id}`, 'does not exist (released, or made on another host)', 'recreate the Docker network');
  return rec;
}

/** The pool (a registry network this driver made) whose subnet is `subnet`; pools never overlap, so one at most. */
export function poolOfSubnet(reg: NetworkRegistry, subnet: string): NetworkRecord | undefined {
  return reg.list().find((n) => n.name.startsWith(POOL_PREFIX) && n.subnet === subnet);
}

/**
 * Holds `address` of `pool` for endpoint `eid` if it is free (released by a restarted driver's GC while Docker
 * still had it); false when it is held already (as it is when Docker asked this driver for it).
 */
export async function claimAddress(reg: NetworkRegistry, pool: NetworkRecord, address: string, eid: string): Promise<boolean> {
  const addr = parseCidr(address.includes('/') ? address : `${address}/32`).addr;
  return reg
    .store(pool.name)
    .transact((s) => !s.isHeld(addr) && s.reserve(addr, { containerID: `docker-${eid.slice(0, 12)}`, ifname: 'docker' }, '0'));
}

export class IpamDriver {
  constructor(
    private readonly reg: NetworkRegistry,
    private readonly hostUsage?: HostUsage,
  ) {}

  capabilities() {
    return { RequiresMACAddress: false, RequiresRequestReplay: false };
  }

  defaultAddressSpaces() {
    return { LocalDefaultAddressSpace: 'tsnet-local', GlobalDefaultAddressSpace: 'tsnet-global' };
  }

  async requestPool(req: Req) {
    if (req.V6 === true)
      throw new PluginError(
        'IPv6 pool',
        'the tsnet IPAM driver hands out IPv4 pools only',
        "drop --ipv6, or use Docker's default IPAM for IPv6",
      );
    const pool = str(req, 'Pool');
    if (str(req, 'SubPool'))
      throw new PluginError('--ip-range', 'is not supported by the tsnet IPAM driver', 'drop --ip-range, or use a smaller --subnet');
    if (pool) parsePrefix(pool, { strict: true });
    const rec = await this.reg.create({
      name: POOL_PREFIX + randomHex(6),
      ...(pool ? { subnet: pool } : {}),
      driver: 'docker',
      ...(this.hostUsage ? { hostUsage: this.hostUsage } : {}),
    });
    return { PoolID: rec.name, Pool: rec.subnet, Data: {} };
  }

  async releasePool(req: Req) {
    const rec = poolOf(this.reg, req);
    await this.reg.remove(rec.name, { force: true });
    return {};
  }

  async requestAddress(req: Req) {
    const rec = poolOf(this.reg, req);
    const { length } = parsePrefix(rec.subnet);
    const want = str(req, 'Address');
    const opts = (req.Options ?? {}) as Record<string, string>;
    if (opts.RequestAddressType === GATEWAY) {
      if (want && want !== rec.gateway)
        throw new PluginError(
          `gateway ${want}`,
          `pool ${rec.subnet} has gateway ${rec.gateway}`,
          'drop --gateway with the tsnet IPAM driver',
        );
      return { Address: `${rec.gateway}/${length}`, Data: {} };
    }
    const sets = canonicalizeRangeSets(rec.ranges);
    const owner = { containerID: `docker-${randomHex(8)}`, ifname: 'docker' };
    const a = await this.reg.store(rec.name).transact((state) => new Allocator(sets[0]!, state, '0', rec.name).get(owner, want));
    return { Address: a.address, Data: {} };
  }

  async releaseAddress(req: Req) {
    const rec = poolOf(this.reg, req);
    const text = str(req, 'Address');
    if (!text) throw new PluginError('ReleaseAddress', 'names no Address', 'send the address RequestAddress returned');
    const addr = text.includes('/') ? parseCidr(text).addr : parseAddr(text);
    if (formatAddr(addr) === rec.gateway) return {};
    await this.reg.store(rec.name).transact((state) => state.releaseAddr(addr));
    return {};
  }
}
