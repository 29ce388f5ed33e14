// Runs a CNI plugin executable the way a runtime does (env + stdin), inside a namespace that plays the host,
// so everything the plugin does to "the host" lands in a namespace the test owns.
import { spawnSync } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const OUR_CNI = join(REPO, 'dist', 'cni');
export const REF_CNI = '/usr/lib/cni';

export interface CniCall {
  /** The namespace that plays the host (the plugin runs in it). */
  hostNs: string;
  plugin: string;
  command: 'ADD' | 'DEL' | 'CHECK' | 'VERSION' | 'GC' | 'STATUS';
  conf: unknown;
  containerId?: string;
  /** Container netns path. */
  netns?: string;
  ifname?: string;
  args?: string;
  /** CNI_PATH; default ours then the reference plugins. */
  path?: string;
  env?: Record<string, string>;
}

export interface CniOutcome {
  status: number;
  json: any;
  stdout: string;
  stderr: string;
}

export function cni(call: CniCall): CniOutcome {
  const path = call.path ?? `${OUR_CNI}:${REF_CNI}`;
  const file = call.plugin.includes('/')
    ? call.plugin
    : join(call.plugin.startsWith('ref:') ? REF_CNI : OUR_CNI, call.plugin.replace(/^ref:/, ''));
  const env = {
    PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin',
    CNI_COMMAND: call.command,
    CNI_CONTAINERID: call.containerId ?? 'ctr1',
    CNI_NETNS: call.netns ?? '',
    CNI_IFNAME: call.ifname ?? 'eth0',
    CNI_ARGS: call.args ?? '',
    CNI_PATH: path,
    ...(process.env.TSNET_ROOT ? { TSNET_ROOT: process.env.TSNET_ROOT } : {}),
    ...call.env,
  };
  const r = spawnSync('ip', ['netns', 'exec', call.hostNs, file], {
    env,
    input: typeof call.conf === 'string' ? call.conf : JSON.stringify(call.conf),
    encoding: 'utf8',
  });
  let json: any;
  try {
    json = r.stdout.trim() ? JSON.parse(r.stdout) : undefined;
  } catch {
    json = undefined;
  }
  return { status: r.status ?? -1, json, stdout: r.stdout, stderr: r.stderr };
}

/** ADD that must succeed: returns the result JSON or throws with the plugin's error. */
export function cniOk(call: CniCall): any {
  const r = cni(call);
  if (r.status !== 0) throw new Error(`${call.plugin} ${call.command} failed (${r.status}): ${r.stdout}${r.stderr}`);
  return r.json;
}
