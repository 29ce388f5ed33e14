// Option parsers shared by the CLI commands (pure, unit-tested).
import { TsnetError } from '../../common/errors.js';
import { parsePortSpec, type PortMapping } from '../network/ports.js';
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

export function parsePorts(specs: string[] = []): PortMapping[] {
  return specs.flatMap(parsePortSpec);
}

export function parseTimeout(s: string | undefined, dflt = 10): number {
  if (s === undefined) return dflt;
  const n = Number(s);
  if (!Number.isFinite(n) || n < 0) throw new TsnetError(`-t ${s}`, 'not a number of seconds', 'e.g. -t 5');
  return n;
}
