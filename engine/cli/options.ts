// Option parsers shared by the CLI commands (pure, unit-tested).
import { TsnetError } from '../../common/errors.js';
import type { NetworkOptions } from '../../ipam/networks.js';
import { parsePortSpec, type PortRequest } from '../network/ports.js';
import { type Limits, parseSize } from '../runtime/cgroups.js';
import type { SecurityOptions } from '../runtime/security.js';

export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

export function parseLimits(o: { memory?: string; cpus?: string; pidsLimit?: string }): Limits {
  const limits: Limits = {};
  if (o.memory !== undefined) limits.memory = parseSize(o.memory);
  if (o.cpus !== undefined) {
    const n = Number(o.cpus);
    if (!(n > 0) || n > 1024) throw new TsnetError(`--cpus ${o.cpus}`, 'not a positive number of CPUs', 'e.g. --cpus 0.5 or --cpus 2');
    limits.cpus = n;
  }
  if (o.pidsLimit !== undefined) {
    const n = Number(o.pidsLimit);
    if (!Number.isInteger(n) || n < 1)
      throw new TsnetError(`--pids-limit ${o.pidsLimit}`, 'not a positive integer', 'e.g. --pids-limit 100');
    limits.pidsLimit = n;
  }
  return limits;
}

/** --privileged, --cap-add, --cap-drop, --security-opt (checked when the container is created). */
export function securityOptions(o: {
  privileged?: boolean;
  capAdd?: string[];
  capDrop?: string[];
  securityOpt?: string[];
}): SecurityOptions {
  const split = (v: string[] = []) => v.flatMap((s) => s.split(',')).filter(Boolean);
  return { privileged: !!o.privileged, capAdd: split(o.capAdd), capDrop: split(o.capDrop), securityOpt: o.securityOpt ?? [] };
}

export function parsePorts(specs: string[] = []): PortRequest[] {
  return specs.flatMap(parsePortSpec);
}

export function parseTimeout(s: string | undefined, dflt = 10): number {
  if (s === undefined) return dflt;
  const n = Number(s);
  if (!Number.isFinite(n) || n < 0) throw new TsnetError(`-t ${s}`, 'not a number of seconds', 'e.g. -t 5');
  return n;
}

/**
 * `network create -o KEY=VALUE` keys: docker's bridge driver options, and tsnet's short names for them (those
 * the docker-plugin takes too: bridge, mtu, masquerade; and icc).
 */
const DRIVER_OPTS: Record<string, { key: keyof NetworkOptions; kind: 'bool' | 'mtu' | 'ifname' }> = {
  icc: { key: 'icc', kind: 'bool' },
  masquerade: { key: 'ipMasq', kind: 'bool' },
  bridge: { key: 'bridge', kind: 'ifname' },
  mtu: { key: 'mtu', kind: 'mtu' },
  'com.docker.network.bridge.enable_icc': { key: 'icc', kind: 'bool' },
  'com.docker.network.bridge.enable_ip_masquerade': { key: 'ipMasq', kind: 'bool' },
  'com.docker.network.bridge.name': { key: 'bridge', kind: 'ifname' },
  'com.docker.network.driver.mtu': { key: 'mtu', kind: 'mtu' },
};

/** `-o icc=false -o com.docker.network.bridge.enable_icc=false …` → the network's options. */
export function parseDriverOpts(specs: string[] = []): NetworkOptions {
  const out: NetworkOptions = {};
  for (const spec of specs) {
    const eq = spec.indexOf('=');
    const name = eq < 0 ? spec : spec.slice(0, eq);
    const value = eq < 0 ? '' : spec.slice(eq + 1);
    const opt = DRIVER_OPTS[name];
    if (!opt) throw new TsnetError(`-o ${spec}`, `unknown driver option '${name}'`, `known: ${Object.keys(DRIVER_OPTS).join(', ')}`);
    if (opt.kind === 'bool') {
      const b = /^(true|1)$/i.test(value) ? true : /^(false|0)$/i.test(value) ? false : undefined;
      if (b === undefined) throw new TsnetError(`-o ${spec}`, `'${value}' is not true or false`, `write -o ${name}=false`);
      (out as Record<string, unknown>)[opt.key] = b;
    } else if (opt.kind === 'mtu') {
      const n = Number(value);
      if (!/^\d+$/.test(value) || n < 68 || n > 65535)
        throw new TsnetError(`-o ${spec}`, `'${value}' is not an MTU between 68 and 65535`, `write -o ${name}=1400`);
      out.mtu = n;
    } else {
      if (!/^[^/:\s]{1,15}$/.test(value))
        throw new TsnetError(`-o ${spec}`, "an interface name has 1-15 characters without '/', ':' or spaces", `write -o ${name}=br-web`);
      out.bridge = value;
    }
  }
  return out;
}

/** How the commands that reach into a container (attach, route, rule, tc) take it: every form containerRef accepts. */
export const CONTAINER_ARG =
  'tsnet container id or name, pid, /proc/PID/ns/net, /run/netns/NAME, netns name, LXC container name, Docker container name or id';
