// Image records on disk: <root>/images/<id>/image.json; layers are directories under <root>/layers/<id>/.
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { TsnetError } from '../../common/errors.js';
import { newId, shortId } from '../ids.js';
import { ensureStateDir, paths } from '../paths.js';
import { readJsonIfExists, writeJsonAtomic } from '../util/files.js';
import { join } from 'node:path';

export interface ImageConfig {
  env?: string[];
  cmd?: string[];
  entrypoint?: string[];
  workingDir?: string;
  /** The image's exposed ports (`80/tcp`, `53/udp`), where it records them (`docker save`'s ExposedPorts); for -P. */
  exposedPorts?: string[];
}

export interface ImageRecord {
  id: string;
  /** name:tag */
  name: string;
  created: string;
  /** Layer ids, bottom-most first. */
  layers: string[];
  config: ImageConfig;
  /** Bytes of the extracted layers (approximate). */
  size: number;
  source: 'import' | 'load' | 'from-host';
}

/** 'busybox' → 'busybox:latest'; a name with a tag stays as is. */
export function normalizeImageName(name: string): string {
  const slash = name.lastIndexOf('/');
  return name.slice(slash + 1).includes(':') ? name : `${name}:latest`;
}

const IMAGE_NAME_RE = /^[a-z0-9][a-z0-9._/-]*(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?$/;

export function validateImageName(name: string): string {
  if (!IMAGE_NAME_RE.test(name)) {
    throw new TsnetError(`image name '${name}'`, 'invalid', 'use lowercase letters, digits, . _ - / and an optional :tag');
  }
  return normalizeImageName(name);
}

export function listImages(): ImageRecord[] {
  if (!existsSync(paths.images())) return [];
  const out: ImageRecord[] = [];
  for (const id of readdirSync(paths.images())) {
    const rec = readJsonIfExists<ImageRecord>(join(paths.image(id), 'image.json'));
    if (rec) out.push(rec);
  }
  return out.sort((a, b) => a.created.localeCompare(b.created));
}

/** Finds an image by name (tag defaults to latest), full id or unique id prefix; undefined if none. */
export function findImage(ref: string): ImageRecord | undefined {
  const all = listImages();
  const byName = all.find((i) => i.name === normalizeImageName(ref) || i.name === ref);
  if (byName) return byName;
  const id = ref.startsWith('sha256:') ? ref.slice(7) : ref;
  if (/^[0-9a-f]{4,64}$/.test(id)) {
    const hits = all.filter((i) => i.id.startsWith(id));
    if (hits.length === 1) return hits[0];
    if (hits.length > 1) throw new TsnetError(`image '${ref}'`, 'ambiguous id prefix', 'give more characters of the id, or the name');
  }
  return undefined;
}

export function getImage(ref: string): ImageRecord {
  const img = findImage(ref);
  if (!img) {
    throw new TsnetError(
      `image '${ref}'`,
      'not found',
      "list images with 'tsnet image ls'; make one with 'tsnet image from-host NAME', 'image import' or 'image load'",
    );
  }
  return img;
}

/** The image with this full id (as a container's config records it): one record read, no listing. */
export function imageById(id: string): ImageRecord {
  const rec = /^[0-9a-f]{64}$/.test(id) ? readJsonIfExists<ImageRecord>(join(paths.image(id), 'image.json')) : undefined;
  if (!rec)
    throw new TsnetError(
      `image ${shortId(id)}`,
      'not found (removed since the container was created?)',
      "list images with 'tsnet image ls'; remove the container and run it again from an existing image",
    );
  return rec;
}

/** Layer directories for overlayfs lowerdir, top-most first. */
export function lowerDirs(img: ImageRecord): string[] {
  return [...img.layers].reverse().map((l) => paths.layer(l));
}

/** Allocates an empty layer directory. */
export function newLayerDir(): { id: string; dir: string } {
  const id = newId();
  const dir = paths.layer(id);
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  return { id, dir };
}

/** Saves a record; an existing image with the same name loses the name (it becomes '<none>'), like docker. */
export function saveImage(rec: Omit<ImageRecord, 'id' | 'created'>): ImageRecord {
  const full: ImageRecord = { ...rec, id: newId(), created: new Date().toISOString() };
  for (const old of listImages()) {
    if (old.name === full.name) writeJsonAtomic(join(paths.image(old.id), 'image.json'), { ...old, name: `<none>:${shortId(old.id)}` });
  }
  ensureStateDir(paths.images());
  ensureStateDir(paths.image(full.id));
  writeJsonAtomic(join(paths.image(full.id), 'image.json'), full);
  return full;
}

/** Removes the image record and every layer no other image uses. */
export function removeImage(img: ImageRecord): void {
  rmSync(paths.image(img.id), { recursive: true, force: true });
  const used = new Set(listImages().flatMap((i) => i.layers));
  for (const l of img.layers) if (!used.has(l)) rmSync(paths.layer(l), { recursive: true, force: true });
}
