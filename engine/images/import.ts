// `tsnet image import <tar> NAME`: a rootfs tar as `docker export` writes it becomes a one-layer image.
import { rmSync } from 'node:fs';
import { type ImageRecord, newLayerDir, saveImage, validateImageName } from './store.js';
import { extractTar } from './tar.js';
import { dirSize } from './size.js';

export async function importRootfs(tarFile: string, name: string): Promise<ImageRecord> {
  const full = validateImageName(name);
  const layer = newLayerDir();
  try {
    await extractTar(tarFile, layer.dir, { label: `importing ${full}` });
  } catch (e) {
    rmSync(layer.dir, { recursive: true, force: true });
    throw e;
  }
  return saveImage({
    name: full,
    layers: [layer.id],
    config: { env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'], cmd: ['sh'] },
    size: dirSize(layer.dir),
    source: 'import',
  });
}
