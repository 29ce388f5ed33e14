// `tsnet image load <tar>`: a `docker save` archive. manifest.json lists, per image, its config file and its
// layer tars (bottom first); each layer tar is extracted into its own overlay lower dir and docker's
// whiteouts (.wh.NAME, .wh..wh..opq) are converted to overlayfs form by the init helper.
import { mkdtempSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join, normalize } from 'node:path';
import { childProcess } from '../../common/builtins.js';
import { TsnetError } from '../../common/errors.js';
import { paths } from '../paths.js';
import { initBinary } from '../runtime/init-binary.js';
import { dirSize } from './size.js';
import { type ImageConfig, type ImageRecord, newLayerDir, saveImage, validateImageName } from './store.js';
import { extractTar } from './tar.js';

interface ManifestEntry {
  Config: string;
  RepoTags: string[] | null;
  Layers: string[];
}

interface DockerConfig {
  config?: { Env?: string[]; Cmd?: string[]; Entrypoint?: string[]; WorkingDir?: string; ExposedPorts?: Record<string, unknown> };
}

/** Converts whiteouts in an extracted layer (needs root: mknod + trusted.* xattrs). */
export function convertWhiteouts(dir: string): void {
  const r = childProcess().spawnSync(initBinary(), ['whiteouts', dir], { encoding: 'utf8' });
  if (r.status !== 0)
    throw new TsnetError(
      `layer ${dir}`,
      `whiteout conversion failed: ${(r.stderr || '').trim()}`,
      'run as root on a filesystem that supports trusted.* xattrs',
    );
}

function inside(base: string, member: string): string {
  const p = normalize(member);
  if (p.startsWith('..') || p.startsWith('/'))
    throw new TsnetError(`archive member '${member}'`, 'points outside the archive', 'use an archive written by docker save');
  return join(base, p);
}

export async function loadArchive(tarFile: string): Promise<ImageRecord[]> {
  mkdirSync(paths.tmp(), { recursive: true });
  const tmp = mkdtempSync(join(paths.tmp(), 'load-'));
  try {
    await extractTar(tarFile, tmp, { label: `reading ${tarFile}` });
    let manifest: ManifestEntry[];
    try {
      manifest = JSON.parse(readFileSync(join(tmp, 'manifest.json'), 'utf8')) as ManifestEntry[];
    } catch {
      throw new TsnetError(
        `archive '${tarFile}'`,
        'has no readable manifest.json',
        "it is not a 'docker save' archive; for a 'docker export' rootfs tar use 'tsnet image import <tar> NAME'",
      );
    }
    const out: ImageRecord[] = [];
    for (const [n, entry] of manifest.entries()) {
      let cfg: DockerConfig;
      try {
        cfg = JSON.parse(readFileSync(inside(tmp, entry.Config), 'utf8')) as DockerConfig;
      } catch (e) {
        throw new TsnetError(
          `archive '${tarFile}'`,
          `image ${n + 1}'s config ${entry.Config} is missing or not JSON (${(e as Error).message})`,
          "re-create the archive with 'docker save'",
        );
      }
      const layers: string[] = [];
      let size = 0;
      for (const [i, layerTar] of entry.Layers.entries()) {
        const layer = newLayerDir();
        layers.push(layer.id);
        try {
          await extractTar(inside(tmp, layerTar), layer.dir, { label: `layer ${i + 1}/${entry.Layers.length}` });
          convertWhiteouts(layer.dir);
        } catch (e) {
          for (const l of layers) rmSync(paths.layer(l), { recursive: true, force: true });
          throw e;
        }
        size += dirSize(layer.dir);
      }
      const c = cfg.config ?? {};
      const exposed = Object.keys(c.ExposedPorts ?? {}).filter((k) => /^\d{1,5}(\/(tcp|udp))?$/.test(k));
      const config: ImageConfig = {
        env: c.Env,
        cmd: c.Cmd,
        entrypoint: c.Entrypoint,
        workingDir: c.WorkingDir,
        ...(exposed.length ? { exposedPorts: exposed } : {}),
      };
      const tags = entry.RepoTags?.length ? entry.RepoTags : [`loaded-${n}:latest`];
      out.push(saveImage({ name: validateImageName(tags[0]), layers, config, size, source: 'load' }));
    }
    return out;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
