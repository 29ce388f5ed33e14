// `tsnet network create|ls|inspect|rm`: docker-like commands over the networks registry.
// The lead wires this into the main CLI and passes the netlink-backed host usage for `--subnet auto`.
import { renderRows, renderTemplate } from './go-template.js';
import { Command, InvalidArgumentError } from 'commander';
import { NetworkRegistry, type HostUsage, type NetworkRecord } from '../../ipam/networks.js';
import { collect, parseDriverOpts } from './options.js';
import { TsnetError } from '../../common/errors.js';
import { DEFAULT_BRIDGE, DEFAULT_NETWORK } from '../../common/paths.js';

export interface NetworkCliDeps {
  /** Host routes and addresses, for --subnet auto. Without it only other tsnet networks are avoided. */
  hostUsage?: HostUsage;
  /** State root (else $TSNET_ROOT, else /var/lib/tsnet); may also be a function read at run time. */
  root?: string | (() => string | undefined);
  out?: (s: string) => void;
  err?: (s: string) => void;
  /** Runs after a network is removed from the registry (the engine removes its Linux bridge); a returned text is printed as a warning. */
  onRemoved?: (rec: NetworkRecord) => Promise<string | undefined | void>;
  /** `network reload`: re-creates every firewall rule tsnet owns from its state; returns lines to print. */
  onReload?: () => Promise<string[]>;
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows
    .map((r) =>
      r
        .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]! + 3)))
        .join('')
        .trimEnd(),
    )
    .join('\n');
}

/**
 * The network's resolver as inspect shows it: whether the network has one, the address containers ask (its
 * gateway, written into their resolv.conf), the domain, and whether a resolver process listens there now
 * (it runs while a container of a DNS-enabled network does).
 */
async function resolverOf(rec: NetworkRecord, root: string): Promise<Record<string, unknown>> {
  const { dnsEnabled } = await import('../network/conflists.js');
  if (!dnsEnabled(rec)) return { enabled: false };
  const { DEFAULT_DOMAIN } = await import('../../plugins/shared/dns-names.js');
  const { request } = await import('../../plugins/tsnet-dns/control.js');
  const { join } = await import('node:path');
  const status = await request(join(root, 'dns'), 'status', 2000).catch(() => undefined);
  if (rec.driver === 'overlay') {
    // on this host: the resolver addresses of its blocks (one per block its containers' addresses are in)
    const here = (status?.listening ?? []).filter((l) => l.network === rec.name).map((l) => l.address);
    return { enabled: true, resolver: here.length ? here.sort() : null, domain: DEFAULT_DOMAIN, listening: here.length > 0 };
  }
  const listening = !!status?.listening.some((l) => l.network === rec.name && l.address === rec.gateway);
  return { enabled: true, resolver: rec.gateway ?? null, domain: DEFAULT_DOMAIN, listening };
}

/**
 * --subnet and --gateway, each given at most once per family (as docker's): the IPv4 ones, and with --ipv6 the
 * IPv6 ones. tsnet has no IPv6 pool to pick from, so --ipv6 needs an IPv6 --subnet.
 */
async function byFamily(
  subnets: string[] = [],
  gateways: string[] = [],
  ipv6: boolean,
): Promise<{ subnet?: string; subnet6?: string; gateway?: string; gateway6?: string }> {
  const { isIP } = await import('node:net');
  const out: { subnet?: string; subnet6?: string; gateway?: string; gateway6?: string } = {};
  for (const s of subnets) {
    const key = s !== 'auto' && isIP(s.split('/')[0]!) === 6 ? 'subnet6' : 'subnet';
    if (out[key] !== undefined)
      throw new TsnetError(
        `--subnet ${s}`,
        `a second ${key === 'subnet6' ? 'IPv6' : 'IPv4'} subnet`,
        'give one IPv4 and, with --ipv6, one IPv6 subnet',
      );
    out[key] = s;
  }
  for (const g of gateways) {
    const key = isIP(g) === 6 ? 'gateway6' : 'gateway';
    if (out[key] !== undefined)
      throw new TsnetError(`--gateway ${g}`, 'a second gateway of the same family', 'give one gateway per subnet');
    out[key] = g;
  }
  if (out.subnet6 && !ipv6)
    throw new TsnetError(
      `--subnet ${out.subnet6}`,
      'is an IPv6 subnet, and IPv6 is not enabled on the network',
      'add --ipv6 (dual stack), as docker needs',
    );
  if (ipv6 && !out.subnet6)
    throw new TsnetError(
      '--ipv6',
      'needs an IPv6 subnet: tsnet has no IPv6 pool to pick one from',
      'add --subnet with a unique local prefix, e.g. --subnet fd00:1::/64',
    );
  if (out.gateway6 && !out.subnet6)
    throw new TsnetError(`--gateway ${out.gateway6}`, 'is IPv6, and the network has no IPv6 subnet', 'add --ipv6 --subnet fd…/64');
  return out;
}

function prefixLen(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 128) throw new InvalidArgumentError('expected a prefix length such as 24');
  return n;
}

/** `network create`'s flags, as commander hands them over. */
interface CreateFlags {
  subnet?: string[];
  ipv6?: boolean;
  prefix?: number;
  gateway?: string[];
  ipRange?: string;
  driver: string;
  bridge?: string;
  masquerade: boolean;
  disableDns?: boolean;
  mtu?: number;
  internal?: boolean;
  opt?: string[];
  store?: string;
  vni?: number;
  vtep?: string;
  hostName?: string;
  storeCa?: string;
  storeCert?: string;
  storeKey?: string;
}

/** An option parser for an integer from `min` to `max` ("expected WHAT between MIN and MAX" otherwise). */
function intIn(min: number, max: number, what: string): (v: string) => number {
  return (v) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max) throw new InvalidArgumentError(`expected ${what} between ${min} and ${max}`);
    return n;
  };
}

/**
 * A bridge another network of this engine has (the default network's `tsnet0` included) is refused, as Docker
 * refuses it ("networks have same bridge name"): two subnets, their rules and their removal on one bridge would
 * be tangled. A bridge of the user's, no network's, is fine.
 */
async function refuseSharedBridge(name: string, bridge: string | undefined, reg: NetworkRegistry): Promise<void> {
  if (bridge === undefined) return;
  const { bridgeNameOf } = await import('../network/owners.js');
  const other =
    bridge === DEFAULT_BRIDGE
      ? DEFAULT_NETWORK
      : reg.list().find((n) => n.driver === 'bridge' && n.name !== name && bridgeNameOf(n) === bridge)?.name;
  if (other !== undefined)
    throw new TsnetError(
      `network ${name}`,
      `bridge ${bridge} is network ${other}'s (networks have the same bridge name)`,
      `give another name with -o com.docker.network.bridge.name=NAME, or leave it out for br-<id>`,
    );
}

/** Docker's `Options` of a network: the `-o` keys its options stand for. */
function dockerOptions(o: NetworkRecord['options']): Record<string, string> {
  return {
    ...(o?.bridge ? { 'com.docker.network.bridge.name': o.bridge } : {}),
    ...(o?.icc === false ? { 'com.docker.network.bridge.enable_icc': 'false' } : {}),
    ...(o?.ipMasq === false ? { 'com.docker.network.bridge.enable_ip_masquerade': 'false' } : {}),
    ...(o?.mtu ? { 'com.docker.network.driver.mtu': String(o.mtu) } : {}),
  };
}

/**
 * Docker's `Containers` of a network: per container holding an address on it, its name, EndpointID, MAC and addresses
 * (with the prefix length). An address whose owner is no engine container (a CNI or Docker caller's) is listed
 * under its owner's id with no name.
 */
async function containersOn(
  rec: NetworkRecord,
  allocations: Record<string, { containerID: string; ifname: string }>,
): Promise<Record<string, { Name: string; EndpointID: string; MacAddress: string; IPv4Address: string; IPv6Address: string }>> {
  const { findContainer } = await import('../containers/store.js');
  const len = (s: string | undefined) => s?.split('/')[1] ?? '';
  const out: Record<string, { Name: string; EndpointID: string; MacAddress: string; IPv4Address: string; IPv6Address: string }> = {};
  for (const [addr, { containerID }] of Object.entries(allocations)) {
    const c = /^[0-9a-f]{64}$/.test(containerID) ? findContainer(containerID) : undefined;
    const ep = c?.state.network?.networks[rec.name];
    const e = (out[containerID] ??= {
      Name: c?.config.name ?? '',
      EndpointID: c?.state.status === 'running' ? (ep?.endpointId ?? '') : '',
      MacAddress: ep?.mac ?? '',
      IPv4Address: '',
      IPv6Address: '',
    });
    if (addr.includes(':')) e.IPv6Address = `${addr}/${len(rec.subnet6)}`;
    else e.IPv4Address = `${addr}/${len(rec.subnet)}`;
  }
  return out;
}

export function networkCommands(deps: NetworkCliDeps = {}): Command {
  const out = deps.out ?? ((s: string) => process.stdout.write(s + '\n'));
  const err = deps.err ?? ((s: string) => process.stderr.write(s + '\n'));
  const registry = () => new NetworkRegistry(typeof deps.root === 'function' ? deps.root() : deps.root);
  const guard =
    <A extends unknown[]>(fn: (...a: A) => Promise<void>) =>
    async (...a: A): Promise<void> => {
      try {
        await fn(...a);
      } catch (e) {
        err(`Error: ${(e as Error).message}`);
        process.exitCode = 1;
      }
    };

  const cmd = new Command('network').description('manage tsnet networks (subnets and their address allocations)');

  cmd
    .command('create')
    .description('create a network; its subnet is picked from free private ranges unless given')
    .argument('<name>', 'network name')
    .option(
      '--subnet <cidr|auto>',
      'subnet in CIDR notation, or "auto" to pick a free one (default); with --ipv6 once more for the IPv6 subnet',
      collect,
    )
    .option('--ipv6', 'dual stack: an IPv6 subnet (--subnet fd…/64) besides the IPv4 one; containers get both')
    .option('--prefix <n>', 'prefix length for --subnet auto (default: the pool size, /16 for 172.17-31, /20 for 192.168)', prefixLen)
    .option('--gateway <ip>', 'gateway address (default: the first address of the subnet); one per family', collect)
    .option('--ip-range <cidr>', 'allocate container addresses only from this part of the subnet')
    .option('-d, --driver <driver>', 'network driver: bridge (this host), overlay (VXLAN across hosts, needs --store)', 'bridge')
    .option('--store <url>', 'overlay: the cluster store, etcd://HOST:2379[,HOST:2379…] (etcds:// for TLS)')
    .option('--vni <n>', 'overlay: the VXLAN network identifier (default: a free one from 4096)', intIn(1, 16777215, 'a VNI'))
    .option('--vtep <ip>', "overlay: this host's underlay address (default: its address on the link that routes to the store)")
    .option('--host-name <name>', "overlay: this host's name in the store (default: the hostname)")
    .option('--store-ca <file>', "overlay: CA certificate (PEM) of the store's TLS")
    .option('--store-cert <file>', 'overlay: client certificate (PEM) for the store')
    .option('--store-key <file>', 'overlay: client key (PEM) for the store')
    .option('--bridge <ifname>', 'name of the Linux bridge (default: br-<id prefix>)')
    .option('--no-masquerade', 'do not masquerade traffic that leaves the subnet')
    .option('--disable-dns', "no resolver for the containers' names on this network (user networks have one by default)")
    .option('--mtu <n>', 'MTU of the bridge and the container interfaces', intIn(68, 65535, 'an MTU'))
    .option('--internal', 'no route out: no masquerade, no published ports; containers on it still talk to each other')
    .option(
      '-o, --opt <key=value>',
      'driver option, repeatable: icc=false (containers on the network cannot talk to each other), bridge=NAME, mtu=N, ' +
        "masquerade=false, or docker's " +
        'com.docker.network.bridge.enable_icc, .name, .enable_ip_masquerade and com.docker.network.driver.mtu',
      collect,
    )
    .action(
      guard(async (name: string, o: CreateFlags) => {
        if (o.driver === 'overlay') {
          out((await createOverlay(name, o, deps, registry())).id);
          return;
        }
        if (o.bridge !== undefined && !/^[^/:\s]{1,15}$/.test(o.bridge))
          throw new Error(`--bridge ${JSON.stringify(o.bridge)}: an interface name has 1-15 characters without '/', ':' or spaces`);
        const fam = await byFamily(o.subnet, o.gateway, !!o.ipv6);
        const driverOpts = parseDriverOpts(o.opt);
        await refuseSharedBridge(name, o.bridge ?? driverOpts.bridge, registry());
        const rec = await registry().create({
          name,
          subnet: fam.subnet ?? 'auto',
          ...(fam.subnet6 ? { subnet6: fam.subnet6 } : {}),
          ...(fam.gateway6 ? { gateway6: fam.gateway6 } : {}),
          driver: o.driver,
          options: {
            ...driverOpts,
            ...(o.bridge ? { bridge: o.bridge } : {}),
            ...(o.masquerade === false ? { ipMasq: false } : {}),
            ...(o.mtu ? { mtu: o.mtu } : {}),
            ...(o.disableDns ? { dns: false } : {}),
            ...(o.internal ? { internal: true } : {}),
          },
          ...(o.prefix !== undefined ? { prefixLength: o.prefix } : {}),
          ...(fam.gateway ? { gateway: fam.gateway } : {}),
          ...(o.ipRange ? { ipRange: o.ipRange } : {}),
          ...(deps.hostUsage ? { hostUsage: deps.hostUsage } : {}),
        });
        out(rec.id);
      }),
    );

  cmd
    .command('ls')
    .alias('list')
    .description('list networks')
    .option('-q, --quiet', "only show network ids (as Docker; 'network rm' and 'inspect' take them)")
    .option('--format <template>', "a Go template per network, e.g. '{{.ID}} {{.Name}} {{.Driver}} {{.Scope}} {{.Subnet}}'")
    .option('--json', 'JSON array')
    .action(
      guard(async (o: { quiet?: boolean; format?: string; json?: boolean }) => {
        const reg = registry();
        const nets = reg.list();
        if (o.quiet) {
          for (const n of nets) out(n.id.slice(0, 12));
          return;
        }
        // an overlay's addresses are in the cluster store: this host's share of them
        const held = async (n: NetworkRecord) =>
          n.driver === 'overlay'
            ? Object.keys((await import('../network/overlay.js')).overlayAllocations(n)).length
            : await reg.held(n.name);
        const rows = [];
        for (const n of nets)
          rows.push({
            ID: n.id.slice(0, 12),
            Name: n.name,
            Driver: n.driver,
            Scope: n.driver === 'overlay' ? 'global' : 'local', // as Docker shows a multi-host driver's networks
            Subnet: n.subnet,
            Gateway: n.gateway ?? '',
            IPv6: !!n.subnet6,
            ...(n.subnet6 ? { Subnet6: n.subnet6, Gateway6: n.gateway6 ?? '' } : {}),
            InUse: await held(n),
          });
        if (o.json) return out(JSON.stringify(rows, null, 2));
        if (o.format) {
          for (const line of renderRows(o.format, rows, { ID: 'NETWORK ID', Name: 'NAME', Driver: 'DRIVER', Scope: 'SCOPE' })) out(line);
          return;
        }
        // Docker's columns
        out(table([['NETWORK ID', 'NAME', 'DRIVER', 'SCOPE'], ...rows.map((r) => [r.ID, r.Name, r.Driver, r.Scope])]));
      }),
    );

  cmd
    .command('inspect')
    .description('show networks as JSON, with their allocations and their resolver')
    .argument('<network...>', 'network names or ids (an id prefix no other id has will do)')
    .option('-f, --format <template>', "a Go template per network, e.g. '{{range .IPAM.Config}}{{.Subnet}} {{end}}'")
    .option('--json', 'a JSON array (the default output)')
    .action(
      guard(async (names: string[], o: { format?: string; json?: boolean }) => {
        if (o.format && o.json) throw new TsnetError('network inspect', '--format and --json are two outputs', 'give one of them');
        const reg = registry();
        const shown: (NetworkRecord & Record<string, unknown>)[] = [];
        for (const ref of names) {
          const name = reg.resolve(ref);
          const rec = reg.require(name);
          const allocations: Record<string, { containerID: string; ifname: string }> = {};
          for (const r of (await reg.store(name).read()).all()) {
            const { formatAddr } = await import('../../ipam/cidr.js');
            allocations[formatAddr(r)] = { containerID: r.containerID, ifname: r.ifname };
          }
          if (rec.driver === 'overlay') Object.assign(allocations, (await import('../network/overlay.js')).overlayAllocations(rec)); // this host's
          // docker's EnableIPv6 and IPAM.Config: a subnet (and gateway, and ip range) per family
          const config = [
            { Subnet: rec.subnet, ...(rec.gateway ? { Gateway: rec.gateway } : {}), ...(rec.ipRange ? { IPRange: rec.ipRange } : {}) },
            ...(rec.subnet6 ? [{ Subnet: rec.subnet6, ...(rec.gateway6 ? { Gateway: rec.gateway6 } : {}) }] : []),
          ];
          shown.push({
            // Docker's fields first (Name, Id, Containers, Options … as `docker network inspect -f` reads them)
            Name: rec.name,
            Id: rec.id,
            Created: rec.created,
            Scope: rec.driver === 'overlay' ? 'global' : 'local',
            Driver: rec.driver,
            EnableIPv6: !!rec.subnet6,
            IPAM: { Driver: 'default', Config: config },
            Internal: !!rec.options?.internal,
            Containers: await containersOn(rec, allocations),
            Options: dockerOptions(rec.options),
            ...rec,
            allocations,
            dns: await resolverOf(rec, reg.root),
          });
        }
        if (o.format) for (const d of shown) out(renderTemplate(o.format, d));
        else out(JSON.stringify(shown, null, 2));
      }),
    );

  cmd
    .command('rm')
    .alias('remove')
    .description(
      'remove networks; refuses while addresses are allocated unless --force. An overlay network: this host leaves it ' +
        '(its blocks go back to the store, its bridge and vxlan device go), and the last host to leave removes it ' +
        'from the cluster store; while other hosts use it, it stays there for them',
    )
    .argument('<network...>', 'network names or ids (an id prefix no other id has will do)')
    .option('-f, --force', 'remove even if addresses are allocated (drops the allocations; overlay: this host leaves, other hosts keep it)')
    .action(
      guard(async (names: string[], o: { force?: boolean }) => {
        const reg = registry();
        let failed = false;
        for (const ref of names) {
          try {
            const name = reg.resolve(ref);
            const overlay = reg.get(name);
            // an overlay network: this host leaves the store first (refused while its containers hold addresses)
            const notes = overlay?.driver === 'overlay' ? await (await import('../network/overlay.js')).leaveOverlay(overlay, o) : [];
            const rec = await reg.remove(name, { force: !!o.force });
            let note: string | undefined | void;
            try {
              note = await deps.onRemoved?.(rec);
            } catch (e) {
              throw new Error(`network ${name} removed, but tidying up after it failed: ${(e as Error).message}`, { cause: e });
            }
            out(ref); // as docker network rm: what was given
            for (const n of notes) err(n);
            if (note) err(`Warning: network ${name} removed; ${note}`);
          } catch (e) {
            err(`Error: ${(e as Error).message}`);
            failed = true;
          }
        }
        if (failed) process.exitCode = 1;
      }),
    );

  cmd
    .command('reload')
    .description(
      "re-create every firewall rule tsnet owns from its state (networks, containers' addresses and published ports, the Docker driver's networks and endpoints), " +
        "e.g. after 'nft flush ruleset', a firewall reload or a firewall that started after tsnet's networks",
    )
    .action(
      guard(async () => {
        if (!deps.onReload) throw new Error('network reload needs the engine (run it as tsnet network reload)');
        for (const line of await deps.onReload()) out(line);
      }),
    );

  cmd
    .command('reclaim-host')
    .description(
      "overlay: give a dead host's blocks, addresses and tunnel endpoint back now (revokes its lease in the cluster store) " +
        'instead of when its lease runs out. Only for a host that is down: one still running keeps handing out addresses ' +
        'from the blocks it holds until its own record of the lease runs out, so the same address could be given twice',
    )
    .argument('<host>', "the host's name in the store (its --host-name, or its hostname)")
    .requiredOption('--store <url>', 'the cluster store, etcd://HOST:2379[,HOST:2379…] (etcds:// for TLS)')
    .option('--store-ca <file>', "CA certificate (PEM) of the store's TLS")
    .option('--store-cert <file>', 'client certificate (PEM) for the store')
    .option('--store-key <file>', 'client key (PEM) for the store')
    .action(
      guard(async (host: string, o: { store: string; storeCa?: string; storeCert?: string; storeKey?: string }) => {
        const { ClusterStore } = await import('../../ipam/cluster/store.js');
        const tls = o.storeCa || o.storeCert || o.storeKey ? { ca: o.storeCa, cert: o.storeCert, key: o.storeKey } : undefined;
        const store = new ClusterStore({ url: o.store, ...(tls ? { tls } : {}) });
        try {
          if (!(await store.reclaimHost(host)))
            throw new Error(
              `host ${host}: not in the store ${o.store} (its lease ran out already, or the name differs: see its --host-name)`,
            );
          out(host);
        } finally {
          store.close();
        }
      }),
    );

  cmd
    .command('prune')
    .description(
      "remove every network of this host no container uses (no address allocated), as docker network prune; overlay networks are left alone (leave one with 'network rm')",
    )
    .option('-f, --force', 'accepted for docker compatibility (tsnet does not ask)')
    .action(
      guard(async () => {
        const reg = registry();
        const removed: string[] = [];
        for (const n of reg.list()) {
          if (n.driver === 'overlay' || (await reg.held(n.name)) > 0) continue;
          const rec = await reg.remove(n.name, { force: false });
          await deps.onRemoved?.(rec);
          removed.push(n.name);
        }
        if (removed.length) out(['Deleted Networks:', ...removed].join('\n'));
      }),
    );

  return cmd;
}

/**
 * `network create --driver overlay`: the network is created in the cluster store, or joined when another host
 * made it (same parameters; a mismatch is refused naming the stored values), then recorded here so that
 * `tsnet run --net NAME` finds it. Its addresses live in the store, not in this host's registry.
 */
async function createOverlay(name: string, o: CreateFlags, deps: NetworkCliDeps, registry: NetworkRegistry): Promise<NetworkRecord> {
  if (!o.store) throw new InvalidArgumentError('--driver overlay needs --store etcd://HOST:2379');
  // what a bridge network has and an overlay does not: refused rather than ignored
  const moot = Object.entries({
    '--gateway': o.gateway,
    '--ipv6': o.ipv6, // one IPv4 subnet across the cluster
    '--subnet (twice)': (o.subnet?.length ?? 0) > 1 || undefined,
    '--ip-range': o.ipRange,
    '--bridge': o.bridge,
    '--no-masquerade': o.masquerade === false || undefined,
    '--mtu': o.mtu, // the underlay's less VXLAN's 50 bytes
    '--internal': o.internal, // no route out anyway
    '-o': o.opt?.length || undefined,
  })
    .filter(([, v]) => v !== undefined && v !== false)
    .map(([k]) => k);
  if (moot.length) {
    throw new InvalidArgumentError(
      `${moot.join(', ')}: not options of an overlay network (no gateway or bridge of its own, no route out, its MTU the underlay's less 50); leave them out`,
    );
  }
  const tls = o.storeCa || o.storeCert || o.storeKey ? { ca: o.storeCa, cert: o.storeCert, key: o.storeKey } : undefined;
  const { ClusterStore } = await import('../../ipam/cluster/store.js');
  const store = new ClusterStore({ url: o.store, ...(tls ? { tls } : {}) });
  try {
    const { network } = await store.ensureNetwork({
      name,
      ...(o.subnet?.[0] && o.subnet[0] !== 'auto' ? { subnet: o.subnet[0] } : {}),
      ...(o.prefix !== undefined ? { prefixLength: o.prefix } : {}),
      ...(o.vni !== undefined ? { vni: o.vni } : {}),
      ...(deps.hostUsage ? { occupied: await deps.hostUsage() } : {}),
    });
    const existing = registry.get(name);
    if (existing?.driver === 'overlay' && existing.subnet === network.subnet) return existing;
    return await registry.create({
      name,
      subnet: network.subnet,
      driver: 'overlay',
      options: {
        store: o.store,
        vni: network.vni,
        ...(o.hostName ? { host: o.hostName } : {}),
        ...(o.vtep ? { vtep: o.vtep } : {}),
        ...(tls ? { tls } : {}),
        ...(o.disableDns ? { dns: false } : {}),
      },
    });
  } finally {
    store.close();
  }
}
