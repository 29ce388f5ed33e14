// image import | load | from-host | ls | rm
import { Command } from 'commander';
import { TsnetError } from '../../common/errors.js';
import { shortId } from '../ids.js';
import { DEFAULT_BINS, imageFromHost } from '../images/from-host.js';
import { importRootfs } from '../images/import.js';
import { loadArchive } from '../images/load.js';
import { getImage, listImages, removeImage } from '../images/store.js';
import { listContainers } from '../containers/store.js';
import { ago, table } from '../containers/ps.js';

function size(n: number): string {
  return n >= 1 << 20 ? `${(n / (1 << 20)).toFixed(1)}MB` : `${Math.ceil(n / 1024)}kB`;
}

export function imageCommands(): Command {
  const image = new Command('image').description('manage images (no registry: tar archives and host binaries)');

  image
    .command('import')
    .description('import a rootfs tar (as `docker export` writes it) as a one-layer image')
    .argument('<tar>', 'the archive (may be gzip/xz/zstd compressed)')
    .argument('<name>', 'image name[:tag]')
    .action(async (tar: string, name: string) => {
      const img = await importRootfs(tar, name);
      process.stdout.write(`${img.name} ${shortId(img.id)}\n`);
    });

  image
    .command('load')
    .description('load a `docker save` archive (manifest.json + layer tars → overlay layers)')
    .argument('<tar>')
    .action(async (tar: string) => {
      for (const img of await loadArchive(tar)) process.stdout.write(`Loaded image: ${img.name} ${shortId(img.id)}\n`);
    });

  image
    .command('from-host')
    .description('make a small image from host binaries + their shared libraries (+ busybox if installed)')
    .argument('<name>', 'image name[:tag]')
    .option('--bin <list>', `comma-separated commands (default: ${DEFAULT_BINS.join(',')})`)
    .option('--no-busybox', 'do not add busybox applets')
    .action((name: string, o: { bin?: string; busybox?: boolean }) => {
      const img = imageFromHost(name, {
        bins: o.bin
          ?.split(',')
          .map((s) => s.trim())
          .filter(Boolean),
        busybox: o.busybox,
      });
      process.stdout.write(`${img.name} ${shortId(img.id)}\n`);
    });

  image
    .command('ls')
    .description('list images')
    .option('--json', 'JSON array')
    .action((o: { json?: boolean }) => {
      const imgs = listImages();
      if (o.json) return void process.stdout.write(`${JSON.stringify(imgs, null, 2)}\n`);
      const rows = [['REPOSITORY', 'TAG', 'IMAGE ID', 'CREATED', 'SIZE']];
      for (const i of imgs) {
        const c = i.name.lastIndexOf(':');
        rows.push([i.name.slice(0, c), i.name.slice(c + 1), shortId(i.id), ago(i.created), size(i.size)]);
      }
      process.stdout.write(`${table(rows)}\n`);
    });

  image
    .command('rm')
    .description('remove images (and layers no other image uses)')
    .argument('<image...>')
    .option('-f, --force', 'remove even if containers use it')
    .action((refs: string[], o: { force?: boolean }) => {
      for (const r of refs) {
        const img = getImage(r);
        const users = listContainers().filter((c) => c.config.imageId === img.id);
        if (users.length && !o.force) {
          throw new TsnetError(
            `image ${img.name}`,
            `used by container(s) ${users.map((u) => u.config.name).join(', ')}`,
            "remove them first with 'tsnet rm', or use 'image rm -f'",
          );
        }
        removeImage(img);
        process.stdout.write(`Deleted: ${img.name} ${shortId(img.id)}\n`);
      }
    });
  return image;
}
