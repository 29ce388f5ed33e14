// `tsnet image from-host NAME [--bin sh,ip,ping,…]`: a small image made of host binaries and the shared
// libraries they need (found with ldd), plus busybox (if installed) for every applet the host did not
// provide. Needs no download, so a fresh machine can run a networked container right away.
import {
  copyFileSync,
  existsSync,
  lstatSync,
  mkdirSync,
  realpathSync,
  rmSync,
  symlinkSync,
  writeFileSync,
  chmodSync,
  statSync,
} from 'node:fs';
import { delimiter, dirname, join, relative } from 'node:path';
import { childProcess } from '../../common/builtins.js';
import { TsnetError } from '../../common/errors.js';
import { dirSize } from './size.js';
import { type ImageRecord, newLayerDir, saveImage, validateImageName } from './store.js';

export const DEFAULT_BINS = [
  'sh',
  'ip',
  'ping',
  'cat',
  'ls',
  'hostname',
  'sleep',
  'true',
  'false',
  'echo',
  'ps',
  'mount',
  'head',
  'tail',
  'seq',
  'grep',
  'wc',
  'env',
  'id',
  'sed',
  'kill',
  'mkdir',
  'rm',
  'touch',
  'dd',
  'tr',
  'uname',
  'df',
  'stat',
];

const BUSYBOX_CANDIDATES = ['/bin/busybox', '/usr/bin/busybox', '/usr/sbin/busybox'];
const TOP_LINKS = ['bin', 'sbin', 'lib', 'lib32', 'lib64', 'libx32'];

/** Resolves a command name to its host path via PATH (plus the sbin dirs root usually has). */
export function whichHost(name: string): string | undefined {
  if (name.includes('/')) return existsSync(name) ? name : undefined;
  const dirs = [
    ...(process.env.PATH ?? '').split(delimiter),
    '/usr/local/sbin',
    '/usr/local/bin',
    '/usr/sbin',
    '/usr/bin',
    '/sbin',
    '/bin',
  ];
  for (const d of dirs) {
    if (!d) continue;
    const p = join(d, name);
    try {
      if (statSync(p).isFile()) return p;
    } catch {
      /* next */
    }
  }
  return undefined;
}

/** Parses `ldd` output into absolute library paths (including the dynamic loader). */
export function parseLdd(out: string): string[] {
  const libs: string[] = [];
  for (const line of out.split('\n')) {
    const arrow = line.match(/=>\s+(\/\S+)/);
    if (arrow) libs.push(arrow[1]);
    else {
      const direct = line.match(/^\s*(\/\S+)\s+\(0x/);
      if (direct) libs.push(direct[1]);
    }
  }
  return libs;
}

function libsOf(bin: string): string[] {
  const r = childProcess().spawnSync('ldd', [bin], { encoding: 'utf8' });
  if (r.status !== 0) return []; // static binaries: "not a dynamic executable"
  return parseLdd(r.stdout);
}

class Rootfs {
  constructor(readonly root: string) {}

  private at(p: string): string {
    return join(this.root, p);
  }

  /** Mirrors the host's merged-/usr links (/bin -> usr/bin …) as relative links, so nothing points outside. */
  mirrorTopLinks(): void {
    for (const name of TOP_LINKS) {
      const host = `/${name}`;
      try {
        if (!lstatSync(host).isSymbolicLink()) continue;
      } catch {
        continue;
      }
      const target = relative('/', realpathSync(host));
      mkdirSync(this.at(target), { recursive: true });
      symlinkSync(target, this.at(name));
    }
  }

  /** Copies a host file to its real path in the image and links the name it was asked by, if different. */
  copy(hostPath: string, asPath = hostPath): void {
    const real = realpathSync(hostPath);
    const dst = this.at(real);
    if (!existsSync(dst)) {
      mkdirSync(dirname(dst), { recursive: true });
      copyFileSync(real, dst);
      chmodSync(dst, statSync(real).mode & 0o7777);
    }
    this.link(asPath, real);
  }

  /** Makes `path` in the image point at `target` (absolute, inside the image) unless it already exists. */
  link(path: string, target: string): void {
    if (path === target) return;
    const at = this.at(path);
    try {
      lstatSync(at);
      return;
    } catch {
      /* create it */
    }
    mkdirSync(dirname(at), { recursive: true });
    // absolute: right inside the container, whatever links the parent directory went through
    symlinkSync(target, at);
  }

  exists(path: string): boolean {
    try {
      lstatSync(this.at(path));
      return true;
    } catch {
      return false;
    }
  }

  write(path: string, text: string, mode = 0o644): void {
    mkdirSync(dirname(this.at(path)), { recursive: true });
    writeFileSync(this.at(path), text, { mode });
  }
}

export interface FromHostOptions {
  bins?: string[];
  /** Use busybox applets to fill gaps (default true when busybox is installed). */
  busybox?: boolean;
}

export function findBusybox(): string | undefined {
  return BUSYBOX_CANDIDATES.find((p) => existsSync(p));
}

export function buildFromHost(root: string, opts: FromHostOptions = {}): { missing: string[] } {
  const fs = new Rootfs(root);
  fs.mirrorTopLinks();
  for (const d of ['proc', 'sys', 'dev', 'tmp', 'etc', 'root', 'run', 'var/tmp', 'usr/bin', 'usr/sbin'])
    mkdirSync(join(root, d), { recursive: true });
  chmodSync(join(root, 'tmp'), 0o1777);
  const bins = opts.bins?.length ? opts.bins : DEFAULT_BINS;
  const missing: string[] = [];
  const libs = new Set<string>();
  for (const name of bins) {
    const host = whichHost(name);
    if (!host) {
      missing.push(name);
      continue;
    }
    fs.copy(host);
    for (const lib of libsOf(realpathSync(host))) libs.add(lib);
  }
  for (const lib of libs) fs.copy(lib);
  const bb = opts.busybox === false ? undefined : findBusybox();
  if (bb) {
    fs.copy(bb, '/usr/bin/busybox');
    for (const lib of libsOf(bb)) fs.copy(lib);
    const list = childProcess().spawnSync(bb, ['--list-full'], { encoding: 'utf8' });
    for (const applet of (list.stdout ?? '').split('\n').filter(Boolean)) {
      const p = `/${applet}`;
      if (!fs.exists(p)) fs.link(p, '/usr/bin/busybox');
    }
  }
  const stillMissing = missing.filter(
    (m) => !(bb && (fs.exists(`/usr/bin/${m}`) || fs.exists(`/bin/${m}`) || fs.exists(`/usr/sbin/${m}`) || fs.exists(`/sbin/${m}`))),
  );
  fs.write('/etc/passwd', 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n');
  fs.write('/etc/group', 'root:x:0:\nnogroup:x:65534:\n');
  fs.write('/etc/nsswitch.conf', 'passwd: files\ngroup: files\nhosts: files dns\n');
  return { missing: stillMissing };
}

export function imageFromHost(name: string, opts: FromHostOptions = {}): ImageRecord {
  const full = validateImageName(name);
  const layer = newLayerDir();
  let missing: string[];
  try {
    ({ missing } = buildFromHost(layer.dir, opts));
  } catch (e) {
    rmSync(layer.dir, { recursive: true, force: true });
    throw e;
  }
  if (missing.length) {
    rmSync(layer.dir, { recursive: true, force: true });
    throw new TsnetError(
      `image from-host ${full}`,
      `not found on this host: ${missing.join(', ')}`,
      'install them (or busybox-static), or leave them out of --bin',
    );
  }
  return saveImage({
    name: full,
    layers: [layer.id],
    config: { env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'], cmd: ['sh'] },
    size: dirSize(layer.dir),
    source: 'from-host',
  });
}
