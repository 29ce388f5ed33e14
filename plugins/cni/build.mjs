#!/usr/bin/env node
// Builds one standalone CNI executable per plugin into dist/cni/<type>: `plugins/<type>/main.ts` bundled by
// esbuild into a single CommonJS file with a node shebang, mode 755. Run after `tsc`:
//   node plugins/cni/build.mjs [--format=cjs|esm] [--out=dist/cni]
// (a) regenerates plugins/cni/validators.generated.ts when a schema changed (tsc compiles it for dist/);
// (b) bundles; the native addon stays external and is loaded lazily by native/addon.ts's loader, whose
//     candidates include <bundle dir>/../../native/build/Release (dist/cni → repo/native/build/Release).
import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { generateValidators } from './gen-validators.mjs';

const here = dirname(fileURLToPath(import.meta.url));
export const REPO = resolve(here, '..', '..');

/**
 * The bundles' interpreter line. Node 20 reads the whole file named by NODE_EXTRA_CA_CERTS at every start
 * (~50 ms with a system CA bundle); tsnet never speaks TLS, so its executables start without it.
 */
export const SHEBANG = '#!/usr/bin/env -S -u NODE_EXTRA_CA_CERTS node';

/** Every `plugins/<type>/main.ts`: the executables to build, named by their folder (= CNI type). */
export function discoverEntries(root = REPO) {
  const dir = join(root, 'plugins');
  return readdirSync(dir)
    .filter((d) => d !== 'cni' && existsSync(join(dir, d, 'main.ts')))
    .sort()
    .map((type) => ({ type, entry: join(dir, type, 'main.ts') }));
}

/**
 * Bundles one entry into an executable file. CJS (default) runs anywhere (no package.json "type" needed
 * next to the file, so dist/cni can be copied to /opt/cni/bin); import.meta.url is mapped to the bundle's
 * own file URL so the addon loader's relative candidates still resolve.
 */
export async function bundlePlugin({ entry, outfile, format = 'cjs', minify = true }) {
  mkdirSync(dirname(outfile), { recursive: true });
  const cjs = format === 'cjs';
  if (cjs && !existsSync(join(dirname(outfile), 'package.json'))) writeFileSync(join(dirname(outfile), 'package.json'), '{ "type": "commonjs" }\n');
  await build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format,
    minify,
    legalComments: 'none',
    sourcemap: false,
    logLevel: 'warning',
    external: ['*.node'],
    banner: {
      js: cjs
        ? `${SHEBANG}\nconst __tsnetMetaUrl = require("url").pathToFileURL(__filename).href;`
        : `${SHEBANG}\nimport { createRequire as __tsnetCreateRequire } from "module"; const require = __tsnetCreateRequire(import.meta.url);`,
    },
    define: cjs ? { 'import.meta.url': '__tsnetMetaUrl' } : {},
  });
  chmodSync(outfile, 0o755);
  return { outfile, bytes: statSync(outfile).size };
}

/**
 * The tsnet CLI as one ESM file next to its tsc output (dist/engine/cli/tsnet.mjs), so the relative lookups
 * of the addon, the init helper and the exit hook resolve the same way; one file loads ~70 ms faster than
 * the module graph, and a `tsnet run` starts Node twice (the CLI and the exit hook).
 */
export async function bundleCli(root = REPO) {
  const outfile = join(root, 'dist', 'engine', 'cli', 'tsnet.mjs');
  mkdirSync(dirname(outfile), { recursive: true });
  await build({
    entryPoints: [join(root, 'engine', 'cli', 'main.ts')],
    outfile,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    minify: true,
    legalComments: 'none',
    logLevel: 'warning',
    external: ['*.node'],
    banner: { js: 'import { createRequire as __tsnetCreateRequire } from "module"; const require = __tsnetCreateRequire(import.meta.url);' },
  });
  chmodSync(outfile, 0o755);
  return { outfile, bytes: statSync(outfile).size };
}

export async function buildAll({ outDir = join(REPO, 'dist', 'cni'), format = 'cjs', root = REPO } = {}) {
  const regenerated = generateValidators();
  const entries = discoverEntries(root);
  const built = [];
  // Extensionless files inside this repo would be ESM (package.json "type": "module"); pin dist/cni to CJS.
  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(outDir, 'package.json'), '{ "type": "commonjs" }\n');
  for (const { type, entry } of entries) built.push({ type, ...(await bundlePlugin({ entry, outfile: join(outDir, type), format })) });
  built.push({ type: 'tsnet (CLI)', ...(await bundleCli(root)) });
  // The addon travels with the bundles, so the directory can be copied to /opt/cni/bin as a whole.
  const addon = join(root, 'native', 'build', 'Release', 'tsnet_native.node');
  if (existsSync(addon)) copyFileSync(addon, join(outDir, 'tsnet_native.node'));
  return { regenerated, built, outDir };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === resolve(process.argv[1])) {
  const opt = (k, d) => process.argv.find((a) => a.startsWith(`--${k}=`))?.slice(k.length + 3) ?? d;
  try {
    const { regenerated, built, outDir } = await buildAll({ outDir: resolve(opt('out', join(REPO, 'dist', 'cni'))), format: opt('format', 'cjs') });
    if (regenerated) console.log('regenerated plugins/cni/validators.generated.ts (run tsc again so dist/ has it)');
    if (!built.length) console.log('no plugins/<type>/main.ts found; nothing to bundle');
    for (const b of built) console.log(`${relative(REPO, b.outfile ?? join(outDir, b.type))}  ${(b.bytes / 1024).toFixed(1)} KiB`);
  } catch (e) {
    console.error(`build:cni failed: ${e.message}`);
    process.exit(1);
  }
}
