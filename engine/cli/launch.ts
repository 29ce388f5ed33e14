// The `tsnet` executable (bundled into dist/engine/cli/tsnet.cjs): it runs the CLI bundle next to it
// (tsnet-cli.cjs, main.ts bundled) through V8's code cache, so a command does not parse and compile the CLI's
// code again at every start — a `tsnet run` would otherwise spend more time compiling than Node takes to
// start (Node 20 has no compile cache of its own: module.enableCompileCache came with Node 22).
//
// The cache is bytecode that this process will execute as root, so it is read only from a directory no one
// else can write: <state root>/cache/v8, made 0700, used only when it and the state root are owned by us and
// writable by no group or other user (else the CLI runs without a cache). One file per command (what `run`
// compiles differs from what `ps` does), per bundle build (size, mtime, inode), Node version and Node flags; V8 checks
// the rest (its version, flags, a checksum) and rejects what does not match. A missing or rejected cache is
// written at exit (temp file + rename) with everything the command compiled; files of other builds go then.
import { closeSync, lstatSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Script } from 'node:vm';

const here = dirname(fileURLToPath(import.meta.url));
const bundle = join(here, 'tsnet-cli.cjs');

/** Commands with a cache of their own; others share one. */
const CACHED = new Set(['run', 'ps', 'rm', 'start', 'stop', 'restart', 'kill', 'exec', 'inspect', 'logs', 'port', '__container-exited']);

/** Ours and writable by no one else (not a symlink). */
function isPrivate(path: string, uid: number, dir: boolean): boolean {
  const st = lstatSync(path, { throwIfNoEntry: false });
  return !!st && (dir ? st.isDirectory() : st.isFile()) && st.uid === uid && (st.mode & 0o022) === 0;
}

/** The cache file for this command and bundle build, in a private directory (made if missing); else undefined. */
function cacheFile(build: string, flags: string): string | undefined {
  const uid = process.getuid?.();
  if (uid === undefined) return undefined;
  const root = resolve(process.env.TSNET_ROOT || '/var/lib/tsnet');
  const dir = join(root, 'cache', 'v8');
  try {
    if (!isPrivate(root, uid, true)) return undefined;
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    if (!isPrivate(join(root, 'cache'), uid, true) || !isPrivate(dir, uid, true)) return undefined;
  } catch {
    return undefined;
  }
  const cmd = process.argv.slice(2).find((a) => !a.startsWith('-'));
  return join(dir, `cli-${cmd && CACHED.has(cmd) ? cmd : 'other'}-${build}-${flags}.v8`);
}

/** Writes the cache atomically, and removes those of other bundle builds (or Node versions). */
function writeCache(file: string, build: string, data: Buffer): void {
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    const fd = openSync(tmp, 'wx', 0o600);
    try {
      writeSync(fd, data);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, file);
    for (const f of readdirSync(dirname(file))) if (!f.includes(build)) rmSync(join(dirname(file), f), { force: true });
  } catch {
    rmSync(tmp, { force: true }); // a cache is an optimisation: never an error
  }
}

/** FNV-1a, 32 bits: names a set of flags in a file name. */
function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

function main(): void {
  const source = readFileSync(bundle, 'utf8').replace(/^#!.*/, '');
  const st = statSync(bundle);
  // V8 rejects a cache made under other flags: each way of starting Node (the interpreter line's flags, the exit
  // hook's, `node tsnet.cjs`) keeps its own instead of replacing the other's at every call
  const flags = fnv1a([...process.execArgv, process.env.NODE_OPTIONS ?? ''].join(' ')).toString(16);
  const build = `${st.size}-${Math.trunc(st.mtimeMs)}-${st.ino}-${process.version}-${process.arch}`;
  const file = cacheFile(build, flags);
  const cachedData = file && isPrivate(file, process.getuid!(), false) ? readFileSync(file) : undefined;
  const script = new Script(`(function (exports, require, module, __filename, __dirname) {${source}\n})`, {
    filename: bundle,
    cachedData,
  });
  // registered before the CLI runs: commander may end the process synchronously (--version, --help)
  if (file && (!cachedData || script.cachedDataRejected)) process.once('exit', () => writeCache(file, build, script.createCachedData()));
  const mod = { exports: {} };
  const fn = script.runInThisContext() as (...a: unknown[]) => void;
  fn.call(mod.exports, mod.exports, createRequire(bundle), mod, bundle, here);
}

main();
