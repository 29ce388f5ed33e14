// Test-only CNI plugin: touches nothing. Every verb that reaches plugin code appends a line to the file named
// by TSNET_PROBE_MARKER, so tests can prove hostile input was refused before plugin code ran.
import { appendFileSync } from 'node:fs';
import type { CniArgs, NetConf, Plugin, Result } from '../types.js';

function mark(verb: string, args: CniArgs): void {
  const f = process.env.TSNET_PROBE_MARKER;
  if (f) appendFileSync(f, `${verb} ${args.containerId} ${args.ifname}\n`);
}

export const probePlugin: Plugin = {
  async add(conf: NetConf, args: CniArgs): Promise<Result> {
    mark('ADD', args);
    if (conf.args && (conf.args as Record<string, unknown>).fail === 'transient')
      throw Object.assign(new Error('busy, try later'), { transient: true });
    if (conf.args && (conf.args as Record<string, unknown>).fail === 'internal') throw new Error('boom');
    const prev = conf.prevResult;
    return {
      cniVersion: conf.cniVersion,
      interfaces: [...(prev?.interfaces ?? []), { name: args.ifname, mac: '02:00:00:00:00:01', sandbox: args.netns }],
      ips: [...(prev?.ips ?? []), { address: '10.99.0.2/24', gateway: '10.99.0.1', interface: prev?.interfaces?.length ?? 0 }],
      routes: [{ dst: '0.0.0.0/0', gw: '10.99.0.1' }],
      dns: { nameservers: ['10.99.0.1'] },
    };
  },
  async del(_conf, args) {
    mark('DEL', args);
  },
  async check(_conf, args) {
    mark('CHECK', args);
  },
  async gc(_conf, args) {
    mark('GC', args);
  },
  async status(_conf, args) {
    mark('STATUS', args);
  },
};
