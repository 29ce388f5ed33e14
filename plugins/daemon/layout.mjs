#!/usr/bin/env node
// Lays out the CNI fast path: dist/cni-fast/<type> for every standalone plugin in dist/cni, each a hardlink
// (or a copy, across filesystems) of the native shim native/build/Release/tsnet-cni-shim. The shim forwards
// to tsnetd and falls back to ../cni/<type> (found through /proc/self/exe) when no daemon answers.
// Run after `npm run build:native` and `node plugins/cni/build.mjs`:
//   node plugins/daemon/layout.mjs [--cni=dist/cni] [--out=dist/cni-fast] [--shim=native/build/Release/tsnet-cni-shim]
// If you copy dist/cni-fast elsewhere (e.g. /opt/cni/bin), set TSNET_CNI_STANDALONE_DIR for the fallback,
// or copy dist/cni next to it as ../cni.
import { copyFileSync, chmodSync, existsSync, linkSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

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

/** Writes out/<type> for each type, atomically (temp name + rename), removing shims of types gone from cniDir. */
export function layout({ cniDir = join(REPO, 'dist', 'cni'), outDir = join(REPO, 'dist', 'cni-fast'), shim = join(REPO, 'native', 'build', 'Release', 'tsnet-cni-shim') } = {}) {
  if (!existsSync(shim)) throw new Error(`shim ${shim} is missing: build it with 'npm run build:native'`);
  if (!existsSync(cniDir)) throw new Error(`standalone plugins directory ${cniDir} is missing: build it with 'node plugins/cni/build.mjs'`);
  const types = standaloneTypes(cniDir);
  if (!types.length) throw new Error(`no standalone plugins in ${cniDir}: build them with 'node plugins/cni/build.mjs'`);
  mkdirSync(outDir, { recursive: true });
  for (const f of readdirSync(outDir)) if (!types.includes(f)) rmSync(join(outDir, f), { force: true });
  for (const type of types) {
    const dst = join(outDir, type);
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

if (process.argv[1] && fileURLToPath(import.meta.url) === resolve(process.argv[1])) {
  const opt = (k, d) => process.argv.find((a) => a.startsWith(`--${k}=`))?.slice(k.length + 3) ?? d;
  try {
    const { outDir, types } = layout({
      cniDir: resolve(opt('cni', join(REPO, 'dist', 'cni'))),
      outDir: resolve(opt('out', join(REPO, 'dist', 'cni-fast'))),
      shim: resolve(opt('shim', join(REPO, 'native', 'build', 'Release', 'tsnet-cni-shim'))),
    });
    console.log(`${relative(REPO, outDir) || outDir}: ${types.join(', ')} -> tsnet-cni-shim`);
  } catch (e) {
    console.error(`layout: ${e.message}`);
    process.exit(1);
  }
}
