// Where the engine keeps its state: one root ($TSNET_ROOT, default /var/lib/tsnet).
//   <root>/images/<id>/image.json        image record (name, layers, config)
//   <root>/layers/<id>/                   an extracted layer (an overlay lower dir)
//   <root>/containers/<id>/               config.json, state.json, pid, exit, init.conf, container.log,
//                                         upper/, work/, rootfs/ (mount point), etc/ (hosts, resolv.conf, hostname)
//   <root>/names/<name>                   holds the id of the container called <name> (created O_EXCL: unique)
//   <root>/cache/seccomp/<hash>.bpf       seccomp filters the init helper compiled (written and read by it)
import { join, resolve } from 'node:path';

export function stateRoot(): string {
  return resolve(process.env.TSNET_ROOT || '/var/lib/tsnet');
}

export const paths = {
  images: () => join(stateRoot(), 'images'),
  image: (id: string) => join(stateRoot(), 'images', id),
  layers: () => join(stateRoot(), 'layers'),
  layer: (id: string) => join(stateRoot(), 'layers', id),
  containers: () => join(stateRoot(), 'containers'),
  container: (id: string) => join(stateRoot(), 'containers', id),
  names: () => join(stateRoot(), 'names'),
  name: (n: string) => join(stateRoot(), 'names', n),
  tmp: () => join(stateRoot(), 'tmp'),
  seccompCache: () => join(stateRoot(), 'cache', 'seccomp'),
};
