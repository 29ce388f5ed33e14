// A private dockerd for a test (Debian's docker.io): run in the test's namespace that plays the host, in a mount
// namespace of its own (Docker's /run/docker bound to a directory of the test), with its own data, exec root,
// socket, pid file and cgroup parent. Stopped at the end of the test on every path — its containers removed
// first, SIGTERM, SIGKILL after 30 s — and the cgroup directories it made under its parent removed.
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess, type SpawnSyncReturns } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { cgroupMounts } from '../plugins/shared/foreign-guests.js';
import { sh, until, type World } from './harness.js';

export const DOCKERD = '/usr/sbin/dockerd';
export const DOCKER = '/usr/bin/docker';
/** A skip reason when docker.io is missing. */
export const noDocker = !existsSync(DOCKERD) || !existsSync(DOCKER) ? 'docker.io is not installed (apt-get install docker.io)' : false;

export interface Dockerd {
  /** The API socket (`-H unix://…`). */
  sock: string;
  /** What dockerd sees as /run/docker (its `plugins/` directory is there). */
  runDir: string;
  /** The tail of dockerd's log. */
  log(): string;
  run(...args: string[]): SpawnSyncReturns<string>;
  /** Runs `docker …`, asserts success (with dockerd's log tail), returns stdout. */
  ok(...args: string[]): string;
  /** Starts dockerd (again) and waits until it answers. */
  start(): Promise<void>;
  /** SIGTERM (dockerd stops its containers and containerd), SIGKILL if it has not gone within 30 s. */
  stop(): Promise<void>;
  /** Removes every container (while whatever serves their networks still runs), then stops dockerd. */
  shutdown(): Promise<void>;
  /** Imports a busybox rootfs with these applets in /bin as image `name`. */
  importBusybox(name: string, applets: string[]): void;
}

/** Starts dockerd in `host` with `args` added (e.g. `--bridge=none --iptables=false`); resolves once it answers. */
export async function startDockerd(w: World, host: string, args: string[] = []): Promise<Dockerd> {
  const dir = w.tmpdir();
  const runDir = join(dir, 'run-docker');
  mkdirSync(join(runDir, 'plugins'), { recursive: true });
  mkdirSync('/run/docker', { recursive: true }); // the mount point (Docker's own run directory)
  const sock = join(dir, 'docker.sock');
  const pidfile = join(dir, 'docker.pid');
  const cgroupParent = `tsnet-dk-${w.id}`;
  writeFileSync(join(dir, 'daemon.json'), '{}');
  const script = [
    `mount --bind ${runDir} /run/docker`,
    `exec ${DOCKERD} --config-file ${dir}/daemon.json --data-root ${dir}/data --exec-root ${dir}/exec -H unix://${sock} ` +
      `--pidfile ${pidfile} ${[...args, '--storage-driver=vfs', `--cgroup-parent=${cgroupParent}`].join(' ')}`,
  ].join('\n');
  let log = '';
  let dockerd: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  const running = (): boolean => !!dockerd && dockerd.exitCode === null && dockerd.signalCode === null;

  const d: Dockerd = {
    sock,
    runDir,
    log: () => log,
    run: (...a) => spawnSync(DOCKER, ['-H', `unix://${sock}`, ...a], { encoding: 'utf8', timeout: 120_000 }),
    ok(...a) {
      const r = d.run(...a);
      assert.equal(r.status, 0, `docker ${a.join(' ')}: ${r.stderr}\n--- dockerd (tail) ---\n${log.slice(-3000)}`);
      return r.stdout;
    },
    async start() {
      const p = spawn('nsenter', [`--net=/run/netns/${host}`, 'unshare', '--mount', '--propagation', 'private', 'sh', '-c', script], {
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      p.stderr!.on('data', (c: Buffer) => (log = (log + c.toString()).slice(-20_000)));
      dockerd = p;
      exited = new Promise<void>((r) => p.once('exit', () => r()));
      await until('dockerd to answer', () => p.exitCode === null && d.run('version').status === 0);
    },
    async stop() {
      if (!running()) return;
      dockerd!.kill('SIGTERM');
      await Promise.race([exited, sleep(30_000, undefined, { ref: false })]);
      if (running()) {
        const pid = existsSync(pidfile) ? Number(readFileSync(pidfile, 'utf8')) : 0;
        if (pid) process.kill(pid, 'SIGKILL');
        await exited;
      }
    },
    async shutdown() {
      if (running()) {
        const ids = d.run('ps', '-aq').stdout.split('\n').filter(Boolean);
        if (ids.length) d.run('rm', '-f', ...ids);
      }
      await d.stop();
    },
    importBusybox(name, applets) {
      const rootfs = join(dir, `rootfs-${name}`);
      mkdirSync(join(rootfs, 'bin'), { recursive: true });
      copyFileSync('/bin/busybox', join(rootfs, 'bin', 'busybox'));
      for (const b of applets) symlinkSync('busybox', join(rootfs, 'bin', b));
      const tar = `${rootfs}.tar`;
      sh('tar', '-C', rootfs, '-cf', tar, '.');
      d.ok('import', tar, name);
    },
  };
  // registered before the start: a dockerd that never answers is stopped too
  w.defer(async () => {
    await d.shutdown();
    for (const m of cgroupMounts()) if (existsSync(join(m, cgroupParent))) spawnSync('rmdir', [join(m, cgroupParent)]);
  });
  await d.start();
  return d;
}
