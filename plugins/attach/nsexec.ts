// Locates native/nsexec/tsnet-nsexec (built by `npm run build:native`): runs a program inside a netns
// without `ip netns exec` or `nsenter`.
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AttachError, AttachErrorCode } from './errors.js';

export function nsexecCandidates(): string[] {
  const here = dirname(fileURLToPath(import.meta.url));
  const out: string[] = [];
  if (process.env.TSNET_NSEXEC) out.push(resolve(process.env.TSNET_NSEXEC));
  for (const up of ['..', '../..', '../../..', '../../../..']) out.push(join(here, up, 'native', 'build', 'Release', 'tsnet-nsexec'));
  return [...new Set(out)];
}

export function nsexecBinary(): string {
  const c = nsexecCandidates();
  const hit = c.find((p) => existsSync(p));
  if (!hit) throw new AttachError('helper tsnet-nsexec', `not found; tried ${c.join(', ')}`, "build it with 'npm run build:native', or set TSNET_NSEXEC to its path", AttachErrorCode.Unsupported);
  return hit;
}
