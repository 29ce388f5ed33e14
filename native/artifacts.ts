// Where tsnet's native build products are (the addon, tsnet-init, tsnet-nsexec): an override from the
// environment, next to this file (a bundle directory copied elsewhere), then native/build/{Release,Debug}
// found upwards from here — which covers dist/native, the bundles in dist/cni and the CLI in dist/engine/cli.
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export function nativeArtifactCandidates(file: string, envVar?: string): string[] {
  const here = dirname(fileURLToPath(import.meta.url));
  const out: string[] = [];
  const fromEnv = envVar ? process.env[envVar] : undefined;
  if (fromEnv) out.push(resolve(fromEnv));
  out.push(join(here, file));
  for (const up of ['.', '..', '../..', '../../..', '../../../..']) {
    for (const kind of ['Release', 'Debug']) out.push(join(here, up, 'native', 'build', kind, file));
  }
  return [...new Set(out)];
}

/** The first candidate that exists, and every path tried (for the error that names them). */
export function findNativeArtifact(file: string, envVar?: string): { path?: string; tried: string[] } {
  const tried = nativeArtifactCandidates(file, envVar);
  return { path: tried.find((p) => existsSync(p)), tried };
}
