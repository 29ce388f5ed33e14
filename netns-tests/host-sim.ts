// A namespace that plays the host, for engine and firewall scenarios: the real host's network, firewall, /run/netns
// and /run/tsnet are never touched.
//
// - `host`: a network namespace with an uplink (`up0`, 198.51.100.2/24, its default route) to `far`, a namespace
//   that plays the outside world (198.51.100.1) and has no route back to any container subnet — only
//   masquerade gets a container's packets answered there.
// - One mount namespace for the whole scenario (`ip netns exec` would give each command a fresh one, and the
//   persistent namespaces the engine bind-mounts would vanish with it), held by a `sleep` process: /sys is the
//   host namespace's own sysfs with the host's cgroup hierarchies bound back under /sys/fs/cgroup, /run/netns and
//   /run/tsnet are private tmpfs. Every command of the scenario runs there through nsenter (mount + net).
//
// Everything goes when the test ends, passed or failed: the containers (`tsnet rm -f`), the holder, the
// namespaces.
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { EngineFixture, type Out } from '../engine/testing/cli.js';
import { sh, type World } from './harness.js';

export const HOST_IP = '198.51.100.2';
export const FAR_IP = '198.51.100.1';

const SETUP = `set -e
d=$(mktemp -d)
mount --rbind /sys/fs/cgroup "$d"
umount -l /sys
mount -t sysfs sysfs /sys
mount --move "$d" /sys/fs/cgroup
rmdir "$d"
mkdir -p /run/netns /run/tsnet
mount -t tmpfs -o mode=0755 tmpfs /run/netns
mount -t tmpfs -o mode=0700 tmpfs /run/tsnet
echo ready
exec sleep 100000`;

export class HostSim {
  /** The tsnet CLI inside the host namespace, with a private TSNET_ROOT. */
  readonly e: EngineFixture;

  private constructor(
    readonly host: string,
    readonly far: string,
    readonly holder: number,
    root: string,
  ) {
    this.e = new EngineFixture(root, ['nsenter', '-t', String(holder), '-m', '-n', '--']);
  }

  /** Builds the scenario's world (removed with `w`). */
  static async create(w: World): Promise<HostSim> {
    const host = w.netns('host');
    const far = w.netns('far');
    sh('ip', 'link', 'add', 'up0', 'netns', host, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', far);
    for (const [ns, dev, addr] of [
      [host, 'up0', `${HOST_IP}/24`],
      [far, 'eth0', `${FAR_IP}/24`],
    ] as const) {
      sh('ip', '-n', ns, 'addr', 'add', addr, 'dev', dev);
      sh('ip', '-n', ns, 'link', 'set', dev, 'up');
      sh('ip', '-n', ns, 'link', 'set', 'lo', 'up');
    }
    sh('ip', '-n', host, 'route', 'add', 'default', 'via', FAR_IP);
    const p = spawn('unshare', ['--mount', '--propagation', 'slave', 'nsenter', `--net=/run/netns/${host}`, 'sh', '-c', SETUP], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let err = '';
    p.stderr.on('data', (c) => (err += c));
    w.defer(async () => {
      if (p.exitCode === null && p.signalCode === null) {
        p.kill('SIGKILL');
        await once(p, 'exit');
      }
    });
    const [line] = (await Promise.race([once(p.stdout, 'data'), once(p, 'exit')])) as [Buffer | number];
    if (!Buffer.isBuffer(line) || !line.toString().includes('ready')) throw new Error(`the host namespace's holder failed: ${err}`);
    const sim = new HostSim(host, far, p.pid!, w.tmpdir());
    // Before the holder goes: every container, so no process keeps the namespaces alive.
    w.defer(() => sim.e.removeAll());
    return sim;
  }

  /** Runs a command in the scenario's host (its mount and network namespaces). */
  run(cmd: string, ...args: string[]): Out {
    const r = spawnSync('nsenter', ['-t', String(this.holder), '-m', '-n', '--', cmd, ...args], { encoding: 'utf8', timeout: 60_000 });
    return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
  }

  /** Like run(), but throws with stderr when it fails. */
  ok(cmd: string, ...args: string[]): string {
    const r = this.run(cmd, ...args);
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}: ${r.stderr}${r.stdout}`);
    return r.stdout;
  }

  /** `tsnet ARGS` in the host; stdout, or a throw with stderr. */
  tsnet(...args: string[]): string {
    return this.e.ok(...args);
  }

  /** Runs a command in the `far` namespace (the outside world). */
  inFar(cmd: string, ...args: string[]): Out {
    const r = spawnSync('ip', ['netns', 'exec', this.far, cmd, ...args], { encoding: 'utf8', timeout: 60_000 });
    return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
  }
}
