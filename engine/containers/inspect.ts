// `tsnet inspect`: docker-like JSON.
import { formatNetMode, parseNetMode } from '../network/modes.js';
import { CPU_PERIOD_US } from '../runtime/cgroups.js';
import type { Container } from './model.js';
import { files } from './store.js';
import { findImage } from '../images/store.js';
import { NetworkRegistry } from '../../ipam/networks.js';
import { readAttachments, type AttachmentRecord } from '../../plugins/attach/registry.js';

/** The `tsnet attach` interfaces of a container, from the attachment registry (as inspect shows them). */
export function attachmentsOf(c: Container, records: AttachmentRecord[]): Record<string, unknown>[] {
  const { config: cfg, state: st } = c;
  if (st.status !== 'running') return [];
  const paths = new Set([st.network?.netnsPath, st.pid ? `/proc/${st.pid}/ns/net` : undefined].filter(Boolean));
  return records
    .filter((r) => paths.has(r.netnsPath) || r.container === cfg.name || (r.container.length >= 12 && cfg.id.startsWith(r.container)))
    .map((r) => ({
      InterfaceName: r.ifname,
      HostInterface: r.hostIf,
      ...(r.bridge ? { Bridge: r.bridge, HostVeth: r.hostVeth } : { Macvlan: r.parent }),
      Addresses: r.addresses,
      Gateway: r.gateway ?? '',
      MacAddress: r.mac,
      Routes: r.routes,
      ...(r.dhcp ? { Dhcp: { Client: r.dhcp.client, LeaseSeconds: r.dhcp.lease ?? 0, KeeperPid: r.dhcp.keeper.pid } } : {}),
    }));
}

export function inspectJson(c: Container): Record<string, unknown> {
  const { config: cfg, state: st } = c;
  const netMode = formatNetMode(parseNetMode(cfg.net));
  const networks: Record<string, unknown> = {};
  // a container that is not running holds no address (Docker: the network is listed, its address empty)
  const up = st.status === 'running';
  const mode = parseNetMode(cfg.net);
  const first = mode.kind === 'network' ? mode.name : mode.kind === 'bridge' ? 'bridge' : undefined;
  const registry = new NetworkRegistry();
  for (const [name, ep] of Object.entries(st.network?.networks ?? {})) {
    // Docker's first fields: the address asked for with --ip/--ip6 of run or connect (kept while stopped), no links, the network's id
    const asked = name === first ? cfg : st.network?.connected?.find((x) => x.network === name); // run's, or connect's
    const head = {
      IPAMConfig:
        asked?.ip || asked?.ip6
          ? { ...(asked.ip ? { IPv4Address: asked.ip } : {}), ...(asked.ip6 ? { IPv6Address: asked.ip6 } : {}) }
          : null,
      Links: null,
      Aliases: ep.aliases ?? null,
      NetworkID: registry.get(name)?.id ?? '',
      // made at the attach, one per endpoint; a stopped container has none (Docker: "")
      EndpointID: up ? (ep.endpointId ?? '') : '',
    };
    networks[name] = up
      ? {
          ...head,
          IPAddress: ep.ip,
          IPPrefixLen: ep.prefixLen,
          Gateway: ep.gateway,
          MacAddress: ep.mac,
          GlobalIPv6Address: ep.ip6 ?? '',
          GlobalIPv6PrefixLen: ep.prefixLen6 ?? 0,
          IPv6Gateway: ep.gateway6 ?? '',
          InterfaceName: ep.iface,
          DriverOpts: null,
        }
      : {
          ...head,
          IPAddress: '',
          IPPrefixLen: 0,
          Gateway: '',
          MacAddress: '',
          GlobalIPv6Address: '',
          GlobalIPv6PrefixLen: 0,
          IPv6Gateway: '',
          InterfaceName: '',
          DriverOpts: null,
        };
  }
  if (netMode === 'host' || netMode === 'none')
    networks[netMode] ??= {
      EndpointID: up ? (st.network?.endpointId ?? '') : '',
      IPAddress: '',
      IPPrefixLen: 0,
      Gateway: '',
      MacAddress: '',
    };
  const bridge = networks.bridge as Record<string, unknown> | undefined;
  const ports: Record<string, { HostIp: string; HostPort: string }[]> = {};
  for (const p of cfg.ports)
    (ports[`${p.containerPort}/${p.protocol}`] ??= []).push({ HostIp: p.hostIp ?? '0.0.0.0', HostPort: String(p.hostPort) });
  return {
    Id: cfg.id,
    Created: cfg.created,
    Path: cfg.cmd[0],
    Args: cfg.cmd.slice(1),
    State: {
      Status: st.status,
      Running: st.status === 'running',
      Pid: st.status === 'running' ? (st.pid ?? 0) : 0,
      ExitCode: st.exitCode ?? 0,
      OOMKilled: !!st.oomKilled,
      Error: st.error ?? '',
      StartedAt: st.startedAt ?? '0001-01-01T00:00:00Z',
      FinishedAt: st.finishedAt ?? '0001-01-01T00:00:00Z',
    },
    Image: cfg.imageId,
    Name: `/${cfg.name}`,
    LogPath: files.log(cfg.id),
    HostConfig: {
      NetworkMode: netMode,
      AutoRemove: cfg.autoRemove,
      Memory: cfg.limits.memory ?? 0,
      NanoCpus: cfg.limits.cpus ? Math.round(cfg.limits.cpus * 1e9) : 0,
      CpuPeriod: cfg.limits.cpus ? CPU_PERIOD_US : 0,
      CpuQuota: cfg.limits.cpus ? Math.round(cfg.limits.cpus * CPU_PERIOD_US) : 0,
      PidsLimit: cfg.limits.pidsLimit ?? null,
      Privileged: cfg.security?.privileged ?? false,
      CapAdd: cfg.security?.capAdd.length ? cfg.security.capAdd : null,
      CapDrop: cfg.security?.capDrop.length ? cfg.security.capDrop : null,
      SecurityOpt: cfg.security?.securityOpt.length ? cfg.security.securityOpt : null,
      MaskedPaths: cfg.security?.maskedPaths ?? [],
      ReadonlyPaths: cfg.security?.readonlyPaths ?? [],
      PortBindings: ports,
      Dns: cfg.dns?.servers ?? [],
      DnsSearch: cfg.dns?.search ?? [],
      DnsOptions: cfg.dns?.options ?? [],
      ExtraHosts: cfg.extraHosts ?? null,
      CgroupDirs: st.cgroup?.dirs ?? [],
    },
    Config: {
      Hostname: cfg.hostname,
      Env: cfg.env,
      Cmd: cfg.cmd,
      Image: cfg.image,
      WorkingDir: cfg.workdir,
      ...(cfg.mac ? { MacAddress: cfg.mac } : {}),
      ExposedPorts: exposedPorts(cfg),
    },
    NetworkSettings: {
      SandboxKey: st.network && st.network.netnsPath !== 'host' ? st.network.netnsPath : '',
      Ports: up ? ports : {},
      // Docker's top-level fields: the default network's ('bridge') endpoint, empty on any other
      EndpointID: bridge?.EndpointID ?? '',
      IPAddress: bridge?.IPAddress ?? '',
      IPPrefixLen: bridge?.IPPrefixLen ?? 0,
      Gateway: bridge?.Gateway ?? '',
      MacAddress: bridge?.MacAddress ?? '',
      GlobalIPv6Address: bridge?.GlobalIPv6Address ?? '',
      GlobalIPv6PrefixLen: bridge?.GlobalIPv6PrefixLen ?? 0,
      IPv6Gateway: bridge?.IPv6Gateway ?? '',
      Networks: networks,
      Attachments: attachmentsOf(c, readAttachments()),
    },
  };
}

/**
 * Docker's Config.ExposedPorts: the image's exposed ports, --expose's and every published container port, as
 * {"80/tcp": {}}; null when there are none (the image gone: the published ones only).
 */
function exposedPorts(cfg: Container['config']): Record<string, object> | null {
  const keys = new Set([
    ...(findImage(cfg.imageId)?.config.exposedPorts ?? []).map((k) => (k.includes('/') ? k : `${k}/tcp`)),
    ...(cfg.exposed ?? []),
    ...cfg.ports.map((p) => `${p.containerPort}/${p.protocol}`),
  ]);
  return keys.size ? Object.fromEntries([...keys].sort().map((k) => [k, {}])) : null;
}
