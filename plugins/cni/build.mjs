#!/usr/bin/env node
// The build of tsnet's bundled executables (esbuild compiles the TypeScript itself: no tsc run needed first).
//   node plugins/cni/build.mjs [cni] [cli] [cni-fast] [--format=cjs|esm] [--out=dist/cni] [--fast-out=dist/cni-fast] [--shim=PATH]
// Targets (none given: all three, in this order):
//   cni       dist/cni/<type>: every plugins/<type>/main.ts bundled into one CommonJS file with a node shebang,
//             mode 755; plus dist/cni/package.json and a copy of the native addon, so the directory can be copied
//             elsewhere (e.g. /opt/cni/bin) as a whole.
//   cli       dist/engine/cli/tsnet.cjs (the executable: engine/cli/launch.ts) and tsnet-cli.cjs (the CLI, one
//             CommonJS file, which the executable runs through V8's code cache).
//   cni-fast  dist/cni-fast/<type> for every standalone plugin in dist/cni: a hardlink (or a copy, across file
//             systems) of the native shim native/build/Release/tsnet-cni-shim (`npm run build:native` builds it),
//             which forwards to tsnetd and falls back to ../cni/<type> when no daemon answers.
// It writes under dist/ only. The ajv validators the bundles import (plugins/cni/validators.generated.ts) are
// generated from plugins/cni/schemas/ by `npm run gen-validators` and committed; `cni` and `cli` stop with an error
// naming that command when the file is stale, instead of bundling old validators.
// The native addon stays external to every bundle and is loaded lazily by native/addon.ts's loader, whose
// candidates include <bundle dir>/../../native/build/Release (dist/cni → repo/native/build/Release).
import {
  chmodSync,
  copyFileSync,
  existsSync,
  linkSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { checkValidators } from './gen-validators.mjs';

const here = dirname(fileURLToPath(import.meta.url));
export const REPO = resolve(here, '..', '..');

/**
 * The bundles' interpreter line. Node 20 reads the whole file named by NODE_EXTRA_CA_CERTS at every start
 * (~50 ms with a system CA bundle); tsnet never speaks TLS, so its executables start without it.
 */
export const SHEBANG = '#!/usr/bin/env -S -u NODE_EXTRA_CA_CERTS node';

/**
 * commander requires node:child_process at its top, for executable subcommands, which tsnet has none of: loading
 * it (with dgram, and more of net) would cost every command ~1 ms at start. commander's require of it is served
 * by a proxy that loads the module on first use.
 */
const lazyChildProcessForCommander = {
  name: 'lazy-child-process-for-commander',
  setup(b) {
    b.onResolve({ filter: /^(node:)?child_process$/ }, (args) =>
      /[\\/]node_modules[\\/]commander[\\/]/.test(args.importer) ? { path: 'child_process', namespace: 'tsnet-lazy' } : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'tsnet-lazy' }, () => ({
      contents: "let m; module.exports = new Proxy({}, { get: (_, k) => (m ??= require('node:child_process'))[k] });",
      loader: 'js',
    }));
  },
};

/** What every bundle shares: one file for Node 20, minified, the native addon left external. */
const ESBUILD_BASE = {
  plugins: [lazyChildProcessForCommander],
  bundle: true,
  platform: 'node',
  target: 'node20',
  minify: true,
  legalComments: 'none',
  sourcemap: false,
  logLevel: 'warning',
  // etcd3 reads its .proto files next to its own code at load: it stays in node_modules (loaded only with a store)
  external: ['*.node', 'etcd3'],
};

/** Lets ESM code `require()` (bundled CommonJS dependencies need it). */
const ESM_REQUIRE =
  'import { createRequire as __tsnetCreateRequire } from "module"; const require = __tsnetCreateRequire(import.meta.url);';

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
  if (cjs && !existsSync(join(dirname(outfile), 'package.json')))
    writeFileSync(join(dirname(outfile), 'package.json'), '{ "type": "commonjs" }\n');
  await build({
    ...ESBUILD_BASE,
    entryPoints: [entry],
    outfile,
    format,
    minify,
    banner: {
      js: cjs ? `${SHEBANG}\nconst __tsnetMetaUrl = require("url").pathToFileURL(__filename).href;` : `${SHEBANG}\n${ESM_REQUIRE}`,
    },
    define: cjs ? { 'import.meta.url': '__tsnetMetaUrl' } : {},
  });
  chmodSync(outfile, 0o755);
  return { outfile, bytes: statSync(outfile).size };
}

/**
 * The tsnet CLI next to its tsc output (dist/engine/cli/), so the relative lookups of the addon, the init helper
 * and the exit hook resolve the same way: `tsnet-cli.cjs`, main.ts as one CommonJS file (one file loads ~70 ms
 * faster than the module graph; CommonJS ~15 ms faster than ESM, whose loader Node then needs at start), and
 * `tsnet.cjs`, the executable (engine/cli/launch.ts), which runs it through V8's code cache. @viz-js/viz (1.5 MB,
 * only `tsnet graph --svg` needs it) stays out of the bundle and is imported from node_modules when used.
 */
export async function bundleCli(root = REPO) {
  const dir = join(root, 'dist', 'engine', 'cli');
  mkdirSync(dir, { recursive: true });
  const cjs = {
    ...ESBUILD_BASE,
    format: 'cjs',
    define: { 'import.meta.url': '__tsnetMetaUrl' },
    banner: { js: 'const __tsnetMetaUrl = require("url").pathToFileURL(__filename).href;' },
    // `import()` of what stays outside the bundle (Node's builtins) becomes require(): the launcher runs the CLI
    // through vm.Script, where V8 refuses a dynamic import ("A dynamic import callback was not specified")
    supported: { 'dynamic-import': false },
  };
  const cli = join(dir, 'tsnet-cli.cjs');
  await build({
    ...cjs,
    entryPoints: [join(root, 'engine', 'cli', 'main.ts')],
    outfile: cli,
    external: [...ESBUILD_BASE.external, '@viz-js/viz'],
  });
  const outfile = join(dir, 'tsnet.cjs');
  await build({
    ...cjs,
    entryPoints: [join(root, 'engine', 'cli', 'launch.ts')],
    outfile,
    banner: { js: `${SHEBANG}\n${cjs.banner.js}` },
  });
  chmodSync(outfile, 0o755);
  rmSync(join(dir, 'tsnet.mjs'), { force: true }); // the single ESM file of earlier builds
  return { outfile, bytes: statSync(outfile).size + statSync(cli).size };
}

/** Every plugin into `outDir` (target `cni`), the addon copied next to them; with `cli`, the CLI bundle too. */
export async function buildAll({ outDir = join(REPO, 'dist', 'cni'), format = 'cjs', root = REPO, cli = true } = {}) {
  checkValidators();
  const built = [];
  // Extensionless files inside this repo would be ESM (package.json "type": "module"); pin dist/cni to CJS.
  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(outDir, 'package.json'), '{ "type": "commonjs" }\n');
  for (const { type, entry } of discoverEntries(root))
    built.push({ type, ...(await bundlePlugin({ entry, outfile: join(outDir, type), format })) });
  if (cli) built.push({ type: 'tsnet (CLI)', ...(await bundleCli(root)) });
  // The addon travels with the bundles, so the directory can be copied to /opt/cni/bin as a whole.
  const addon = join(root, 'native', 'build', 'Release', 'tsnet_native.node');
  if (existsSync(addon)) copyFileSync(addon, join(outDir, 'tsnet_native.node'));
  return { built, outDir };
}

/** Standalone plugin executables in `cniDir`: executable files that start with "#!". */
export function standaloneTypes(cniDir) {
  return readdirSync(cniDir)
    .filter((f) => {
      const p = join(cniDir, f);
      const st = statSync(p);
      if (!st.isFile() || !(st.mode & 0o111)) return false;
      return readFileSync(p).subarray(0, 2).toString() === '#!';
    })
    .sort();
}

/**
 * Target `cni-fast`: writes outDir/<type> for each standalone plugin in cniDir, atomically (temp name + rename),
 * removing whatever else is in outDir (shims of types gone from cniDir). Idempotent.
 */
export function layoutFastPath({
  cniDir = join(REPO, 'dist', 'cni'),
  outDir = join(REPO, 'dist', 'cni-fast'),
  shim = join(REPO, 'native', 'build', 'Release', 'tsnet-cni-shim'),
} = {}) {
  if (!existsSync(shim)) throw new Error(`shim ${shim} is missing: build it with 'npm run build:native'`);
  if (!existsSync(cniDir)) throw new Error(`standalone plugins directory ${cniDir} is missing: build it with 'npm run build:cni'`);
  const types = standaloneTypes(cniDir);
  if (!types.length) throw new Error(`no standalone plugins in ${cniDir}: build them with 'npm run build:cni'`);
  mkdirSync(outDir, { recursive: true });
  for (const f of readdirSync(outDir)) if (!types.includes(f)) rmSync(join(outDir, f), { force: true });
  const shimStat = statSync(shim);
  for (const type of types) {
    const dst = join(outDir, type);
    const st = existsSync(dst) ? statSync(dst) : undefined;
    // Already a link to this shim. (rename(2) onto another link of the same file does nothing and would leave the temp name behind.)
    if (st && st.ino === shimStat.ino && st.dev === shimStat.dev) continue;
    const tmp = `${dst}.tmp-${process.pid}`;
    rmSync(tmp, { force: true });
    try {
      linkSync(shim, tmp);
    } catch {
      copyFileSync(shim, tmp);
      chmodSync(tmp, 0o755);
    }
    renameSync(tmp, dst);
  }
  return { outDir, types };
}

const TARGETS = ['cni', 'cli', 'cni-fast'];

if (process.argv[1] && fileURLToPath(import.meta.url) === resolve(process.argv[1])) {
  const args = process.argv.slice(2);
  const opt = (k, d) => args.find((a) => a.startsWith(`--${k}=`))?.slice(k.length + 3) ?? d;
  const targets = args.filter((a) => !a.startsWith('--'));
  const unknown = targets.filter((t) => !TARGETS.includes(t));
  if (unknown.length) {
    console.error(`build: unknown target ${unknown.join(', ')} (targets: ${TARGETS.join(', ')})`);
    process.exit(2);
  }
  const want = (t) => !targets.length || targets.includes(t);
  const cniDir = resolve(opt('out', join(REPO, 'dist', 'cni')));
  try {
    if (want('cni')) {
      const { built } = await buildAll({ outDir: cniDir, format: opt('format', 'cjs'), cli: want('cli') });
      if (!built.length) console.log('no plugins/<type>/main.ts found; nothing to bundle');
      for (const b of built) console.log(`${relative(REPO, b.outfile)}  ${(b.bytes / 1024).toFixed(1)} KiB`);
    } else if (want('cli')) {
      checkValidators();
      const b = await bundleCli();
      console.log(`${relative(REPO, b.outfile)}  ${(b.bytes / 1024).toFixed(1)} KiB`);
    }
    if (want('cni-fast')) {
      const { outDir, types } = layoutFastPath({
        cniDir,
        outDir: resolve(opt('fast-out', join(REPO, 'dist', 'cni-fast'))),
        shim: resolve(opt('shim', join(REPO, 'native', 'build', 'Release', 'tsnet-cni-shim'))),
      });
      console.log(`${relative(REPO, outDir) || outDir}: ${types.join(', ')} -> tsnet-cni-shim`);
    }
  } catch (e) {
    console.error(`build failed: ${e.message}`);
    process.exit(1);
  }
}
