// The invoker's result cache (like libcni's): one file per attachment (network, container, ifname) under
// <root>/cni-cache/results, holding the ADD result and the config it was made with, for DEL/CHECK/GC.
import { NAME_RE } from '../../common/paths.js';
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync, openSync, fsyncSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_STATE_ROOT } from '../../common/paths.js';
import { validateContainerId, validateIfname } from './env.js';

export function cacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.TSNET_ROOT || DEFAULT_STATE_ROOT, 'cni-cache');
}

export interface CachedAttachment {
  kind: 'cniCacheV1';
  networkName: string;
  containerId: string;
  ifName: string;
  cniArgs?: Record<string, string>;
  capabilityArgs?: Record<string, unknown>;
  netns?: string;
  /** The network config text the attachment was made with. */
  config: string;
  /** The ADD result, in the list's cniVersion. */
  result: unknown;
}

export class ResultCache {
  constructor(readonly dir: string = cacheDir()) {}

  private file(network: string, containerId: string, ifname: string): string {
    // Names are validated, so none can contain '/' or be '..': the path stays inside the cache.
    if (!NAME_RE.test(network)) throw new Error(`cache: invalid network name '${network}'`);
    validateContainerId(containerId, 'container ID');
    validateIfname(ifname, 'interface name');
    return join(this.dir, 'results', `${network}-${containerId}-${ifname}`);
  }

  write(entry: Omit<CachedAttachment, 'kind'>): void {
    const f = this.file(entry.networkName, entry.containerId, entry.ifName);
    mkdirSync(join(this.dir, 'results'), { recursive: true, mode: 0o700 });
    const tmp = `${f}.tmp-${process.pid}`;
    writeFileSync(tmp, JSON.stringify({ kind: 'cniCacheV1', ...entry }), { mode: 0o600 });
    const fd = openSync(tmp, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, f);
  }

  read(network: string, containerId: string, ifname: string): CachedAttachment | undefined {
    try {
      const v = JSON.parse(readFileSync(this.file(network, containerId, ifname), 'utf8')) as CachedAttachment;
      return v.kind === 'cniCacheV1' ? v : undefined;
    } catch {
      return undefined;
    }
  }

  remove(network: string, containerId: string, ifname: string): void {
    rmSync(this.file(network, containerId, ifname), { force: true });
  }

  /** Every cached attachment of `network`. */
  list(network: string): CachedAttachment[] {
    let names: string[];
    try {
      names = readdirSync(join(this.dir, 'results'));
    } catch {
      return [];
    }
    const out: CachedAttachment[] = [];
    for (const n of names) {
      if (!n.startsWith(`${network}-`) || n.includes('.tmp-')) continue;
      try {
        const v = JSON.parse(readFileSync(join(this.dir, 'results', n), 'utf8')) as CachedAttachment;
        if (v.kind === 'cniCacheV1' && v.networkName === network) out.push(v);
      } catch {
        /* a foreign or damaged file is not an attachment */
      }
    }
    return out;
  }
}
