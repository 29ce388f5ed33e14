// Test helper: bundles the probe plugin with build.mjs's bundlePlugin (the production bundler) into a dir.
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** The repository root (holds plugins/cni/build.mjs), from plugins/cni/testdata or dist/plugins/cni/testdata. */
export function repoRoot(): string {
  let d = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(d, 'plugins', 'cni', 'build.mjs'))) {
    const up = resolve(d, '..');
    if (up === d) throw new Error('cannot find the repository root (plugins/cni/build.mjs) above this file');
    d = up;
  }
  return d;
}

export interface BuildModule {
  bundlePlugin(o: { entry: string; outfile: string; format?: 'cjs' | 'esm' }): Promise<{ outfile: string; bytes: number }>;
  discoverEntries(root?: string): { type: string; entry: string }[];
  buildAll(o?: { outDir?: string; format?: string; root?: string }): Promise<{ built: { type: string; outfile: string }[] }>;
  /** The interpreter line of every bundle. */
  SHEBANG: string;
}

export async function buildModule(): Promise<BuildModule> {
  return (await import(pathToFileURL(join(repoRoot(), 'plugins', 'cni', 'build.mjs')).href)) as BuildModule;
}

/** Bundles the probe plugin to `<dir>/probe` and returns its path. */
export async function bundleProbe(dir: string): Promise<string> {
  const b = await buildModule();
  const outfile = join(dir, 'probe');
  await b.bundlePlugin({ entry: join(repoRoot(), 'plugins', 'cni', 'testdata', 'probe-main.ts'), outfile });
  return outfile;
}

/** Where the native addon is, for bundles placed outside the repo. */
export function addonPath(): string {
  return join(repoRoot(), 'native', 'build', 'Release', 'tsnet_native.node');
}
