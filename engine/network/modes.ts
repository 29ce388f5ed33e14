// --net parsing: host | none | bridge | container:<id|name> | attach:<spec> | <network name>.
import { TsnetError } from '../../common/errors.js';
import type { NetMode } from './driver.js';

export function parseNetMode(s: string | undefined): NetMode {
  const v = (s ?? 'bridge').trim();
  if (v === 'host' || v === 'none' || v === 'bridge') return { kind: v };
  if (v === 'default') return { kind: 'bridge' };
  if (v.startsWith('container:')) {
    const ref = v.slice('container:'.length);
    if (!ref) throw new TsnetError(`--net ${v}`, 'no container given', 'write --net container:<id or name>');
    return { kind: 'container', ref };
  }
  if (v.startsWith('attach:')) {
    const spec = v.slice('attach:'.length);
    if (!spec) throw new TsnetError(`--net ${v}`, 'no attachment given', 'write --net attach:br0:10.1.0.5/24@10.1.0.1');
    return { kind: 'attach', spec };
  }
  if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(v)) {
    throw new TsnetError(
      `--net ${v}`,
      'not a network mode or network name',
      'use host, none, bridge, container:<ctr>, attach:<spec> or a name from tsnet network ls',
    );
  }
  return { kind: 'network', name: v };
}

export function formatNetMode(m: NetMode): string {
  switch (m.kind) {
    case 'container':
      return `container:${m.ref}`;
    case 'network':
      return m.name;
    case 'attach':
      return `attach:${m.spec}`;
    default:
      return m.kind;
  }
}

/** The mode of a bridge network by name: `bridge` is the default network. */
export function networkMode(network: string): Extract<NetMode, { kind: 'bridge' | 'network' }> {
  return network === 'bridge' ? { kind: 'bridge' } : { kind: 'network', name: network };
}
