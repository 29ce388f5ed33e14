// Locates the container init helper (native/init/tsnet-init.c, built by `npm run build:native`).
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TsnetError } from '../errors.js';

export function initCandidates(): string[] {
  const here = dirname(fileURLToPath(import.meta.url));
  const out: string[] = [];
  if (process.env.TSNET_INIT) out.push(resolve(process.env.TSNET_INIT));
  for (const up of ['..', '../..', '../../..', '../../../..']) {
    out.push(join(here, up, 'native', 'build', 'Release', 'tsnet-init'));
  }
  return [...new Set(out)];
}

export function initBinary(): string {
  const c = initCandidates();
  const hit = c.find((p) => existsSync(p));
  if (!hit) {
    throw new TsnetError('init helper tsnet-init', `not found; tried ${c.join(', ')}`, "build it with 'npm run build:native', or set TSNET_INIT to its path");
  }
  return hit;
}
