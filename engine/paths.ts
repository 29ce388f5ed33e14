// Where the engine keeps its state: one root ($TSNET_ROOT, default /var/lib/tsnet).
//   <root>/images/<id>/image.json        image record (name, layers, config)
//   <root>/layers/<id>/                   an extracted layer (an overlay lower dir)
//   <root>/containers/<id>/               config.json, state.json, exit, init.conf, container.log,
//                                         upper/, work/, rootfs/ (mount point), etc/ (hosts, resolv.conf, hostname)
//   <root>/names/<name>                   holds the id of the container called <name> (created O_EXCL: unique)
//   <root>/cache/seccomp/<hash>.bpf       seccomp filters the init helper compiled (written and read by it)
//   <root>/cache/v8/cli-<cmd>-<build>.v8  V8's code cache of the CLI, per command (cli/launch.ts writes and reads it)
// State is root's alone: records are written 0600, and images/, names/ made 0700 (containers/ 0710).
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { stateRoot } from '../common/paths.js';
import { DIR_MODE, tightenPath } from '../ipam/durable.js';

export { stateRoot };

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

/** mkdir -p a state directory, root's alone (0700); one left looser by an older tsnet is tightened. */
export function ensureStateDir(dir: string): void {
  if (mkdirSync(dir, { recursive: true, mode: DIR_MODE }) === undefined) tightenPath(dir, DIR_MODE);
}
