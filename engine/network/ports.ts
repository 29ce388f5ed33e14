// -p hostPort:ctrPort[/tcp|udp] and [hostIp:]hostPort:ctrPort parsing.
import { isIP } from 'node:net';
import { TsnetError } from '../../common/errors.js';

export interface PortMapping {
  hostIp?: string;
  hostPort: number;
  containerPort: number;
  protocol: 'tcp' | 'udp';
}

function port(s: string, spec: string): number {
  const n = Number(s);
  if (!/^\d+$/.test(s) || n < 1 || n > 65535) throw new TsnetError(`-p ${spec}`, `'${s}' is not a port number 1-65535`, 'write -p 8080:80 or -p 127.0.0.1:8080:80/udp');
  return n;
}

export function parsePort(spec: string): PortMapping {
  const [main, proto = 'tcp', ...rest] = spec.split('/');
  if (rest.length || (proto !== 'tcp' && proto !== 'udp')) throw new TsnetError(`-p ${spec}`, `protocol '${proto}' is not tcp or udp`, 'write -p 8080:80/tcp or /udp');
  const parts = main.split(':');
  if (parts.length === 2) return { hostPort: port(parts[0], spec), containerPort: port(parts[1], spec), protocol: proto };
  if (parts.length === 3 && isIP(parts[0]) === 4) return { hostIp: parts[0], hostPort: port(parts[1], spec), containerPort: port(parts[2], spec), protocol: proto };
  throw new TsnetError(`-p ${spec}`, 'expected hostPort:containerPort', 'write -p 8080:80, -p 8080:80/udp or -p 127.0.0.1:8080:80');
}

export function formatPort(p: PortMapping): string {
  return `${p.hostIp ?? '0.0.0.0'}:${p.hostPort}->${p.containerPort}/${p.protocol}`;
}
