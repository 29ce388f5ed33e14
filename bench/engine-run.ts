// Benchmark (not a test): wall time of `tsnet run --rm IMAGE true` next to `podman run --rm` (Debian podman
// 4.3, CNI backend, the reference bridge + host-local plugins) and `docker run --rm` (Debian docker.io 20.10),
// on the same busybox rootfs and the same network shape: each engine's bridge network (a Linux bridge with the
// gateway on it, masquerade on, no DNS service): tsnet's default `bridge`, Docker's default `bridge`, and for
// podman a conflist of the same shape. Rounds are interleaved (tsnet, podman, docker, tsnet, …) so a change in
// the machine's load falls on all three alike; medians and ratios come from the same run.
//
// Every engine runs in a namespace of the bench's own that plays the host (tsnet and podman share one, entered
// with nsenter; dockerd has another, with a private mount namespace in which /run/docker and /run/netns are
// directories of the bench's, its own --data-root, --exec-root, socket, pidfile and cgroup parent, and its
// iptables rules inside that namespace only), so the machine's own network is untouched. Everything the bench
// made — containers, dockerd and its containerd, namespaces, cgroups, mounts, the temp dir — is removed at the
// end, also on failure or Ctrl-C.
//
// tsnet runs with TSNET_TRACE=1, which prints its phases with timestamps on stderr; the bench reports the
// median split of a run: CLI start (Node up, the CLI loaded), image and rootfs (the container record, its
// config), network ADD, cgroup and /etc files, init (spawn of the init helper until the command is exec'd),
// the command, and the exit (network DEL, cgroup, --rm) until the CLI has gone.
// With --tsnetd, a tsnetd runs in the host namespace and tsnet's network ADD/DEL go through it (the fast path).
// Then, under the noise of whole runs, the init helper is timed alone (posix_spawn → exit, by exec-timed).
// Run as root after `npm ci`:
//   node dist/bench/engine-run.js [-n 20] [--no-podman] [--no-docker] [--tsnetd] [--privileged] [--no-helper]
import { spawn, spawnSync, type ChildProcess, type SpawnSyncReturns } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const args = process.argv.slice(2);
const opt = (k: string, d: string) => (args.includes(k) ? args[args.indexOf(k) + 1]! : d);
const n = Number(opt('-n', '20'));
const withPodman = !args.includes('--no-podman');
const withDocker = !args.includes('--no-docker');
const withTsnetd = args.includes('--tsnetd');
const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
// The CLI as users run it: the bundled executable, through its interpreter line.
const cli = join(REPO, 'dist', 'engine', 'cli', 'tsnet.cjs');
const release = join(REPO, 'native', 'build', 'Release');
const DOCKERD = '/usr/sbin/dockerd';
const DOCKER = '/usr/bin/docker'; // Debian's docker.io client (20.10), not another one on PATH
const dir = mkdtempSync(join(tmpdir(), 'tsnet-bench-'));
const id = Math.random().toString(16).slice(2, 8);
const hostNs = `tsb-run-${id}`;
const dockerNs = `tsb-dk-${id}`;
const cgroupParent = `tsb-dk-${id}`;
const tsnetSock = join(dir, 'tsnetd.sock');
const env: NodeJS.ProcessEnv = {
  ...process.env,
  TSNET_ROOT: join(dir, 'tsnet'),
  ...(withTsnetd ? { TSNET_SOCKET: tsnetSock } : {}),
};
delete env.NODE_EXTRA_CA_CERTS; // as tsnet's interpreter line does; the bench's own node -e 0 compares fairly

function inHost(cmd: string, a: string[], e: NodeJS.ProcessEnv = env): SpawnSyncReturns<string> {
  return spawnSync('nsenter', [`--net=/run/netns/${hostNs}`, cmd, ...a], { env: e, encoding: 'utf8' });
}
function tsnet(...a: string[]): string {
  const r = inHost(cli, a);
  if (r.status !== 0) throw new Error(`tsnet ${a.join(' ')}: ${r.stderr}`);
  return r.stdout;
}
const now = () => performance.timeOrigin + performance.now();
const median = (xs: number[]) => {
  const s = xs.filter((x) => !Number.isNaN(x)).sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
};
function stats(xs: number[]): string {
  const s = xs.filter((x) => !Number.isNaN(x)).sort((a, b) => a - b);
  return `median ${median(xs).toFixed(1)} ms, min ${s[0]!.toFixed(1)} ms, max ${s[s.length - 1]!.toFixed(1)} ms`;
}

// ── tsnet, with its phases ─────────────────────────────────────────────────────────────────────────────
/** The split of one run, from TSNET_TRACE lines (ms, each from the previous mark). */
const PHASES: [string, string, string][] = [
  ['CLI start (Node up, CLI loaded)', 'start', 'cli-loaded'],
  ['image, rootfs, config (reclaim, ports, record)', 'cli-loaded', 'created'],
  ['cgroup', 'created', 'cgroup'],
  ['netns made', 'cgroup', 'netns'],
  ['init.conf, spawn of the init helper', 'netns', 'spawned'],
  ['network ADD (the helper joins netns, cgroups)', 'spawned', 'network-added'],
  ['/etc files, go', 'network-added', 'go'],
  ['init: go → command exec’d', 'go', 'helper-execd'],
  ['the command (true) → exit seen', 'helper-execd', 'exited'],
  ['exit: network DEL, cgroup', 'exited', 'cleaned-up'],
  ['exit: --rm (record, rootfs dirs)', 'cleaned-up', 'removed'],
  ['CLI gone (supervisor answered, exit)', 'removed', 'end'],
];
const splits: Record<string, number[]> = Object.fromEntries(PHASES.map(([l]) => [l, []]));
let viaTsnetd = 0; // runs whose ADD went through tsnetd

function tsnetRun(extra: string[]): number {
  const t0 = now();
  const r = inHost(cli, ['run', '--rm', ...extra, '--net', 'bridge', 'bench', 'true'], { ...env, TSNET_TRACE: '1' });
  const t1 = now();
  if (r.status !== 0) throw new Error(`tsnet run: ${r.stderr}`);
  const at: Record<string, number> = { start: t0, end: t1 };
  for (const l of r.stderr.split('\n')) {
    const m = /^tsnet-trace (\d+) ([\d.]+) (\S+)$/.exec(l);
    if (m) at[m[3]!] ??= Number(m[2]);
  }
  if (!extra.length) {
    for (const [label, from, to] of PHASES) if (at[from] !== undefined && at[to] !== undefined) splits[label]!.push(at[to]! - at[from]!);
    if (at['tsnetd-ADD-bridge'] !== undefined) viaTsnetd++;
  }
  return t1 - t0;
}

// ── podman ─────────────────────────────────────────────────────────────────────────────────────────────
const podmanBase = ['--root', join(dir, 'storage'), '--runroot', join(dir, 'run'), '--storage-driver', 'overlay'];
const penv = { ...env, CONTAINERS_CONF: join(dir, 'containers.conf') };
function podmanSetup(tar: string): void {
  const netd = join(dir, 'net.d');
  mkdirSync(netd);
  writeFileSync(
    join(netd, 'bench.conflist'),
    JSON.stringify({
      cniVersion: '1.0.0',
      name: 'bench',
      plugins: [
        {
          type: 'bridge',
          bridge: `tbp${id}`,
          isGateway: true,
          ipMasq: true,
          ipam: { type: 'host-local', subnet: '10.78.0.0/24', dataDir: join(dir, 'host-local') },
        },
      ],
    }),
  );
  writeFileSync(
    join(dir, 'containers.conf'),
    `[containers]\ndefault_ulimits = ["nofile=4096:4096", "nproc=4096:4096"]\n[network]\nnetwork_backend = "cni"\ncni_plugin_dirs = ["/usr/lib/cni"]\nnetwork_config_dir = "${netd}"\n[engine]\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\nruntime = "runc"\n`,
  );
  const r = inHost('podman', [...podmanBase, 'import', tar, 'localhost/tsnet-bench'], penv);
  if (r.status !== 0) throw new Error(`podman import: ${r.stderr}`);
}
/**
 * A run that fails or hangs (docker 20.10 here once kept a container of `true` "Up" for minutes, its exit never
 * reported) is not a time: it is removed by name, counted, reported, and left out of the medians.
 */
const RUN_TIMEOUT_MS = 60_000;
const failures: Record<string, string[]> = {};
let runNo = 0;
function failed(engine: string, why: string, remove: (name: string) => void, name: string): number {
  remove(name);
  (failures[engine] ??= []).push(why.trim().split('\n')[0]!.slice(0, 200));
  return Number.NaN;
}

function podmanRun(): number {
  const name = `tsb-${id}-${runNo++}`;
  const t0 = now();
  const r = spawnSync(
    'nsenter',
    [
      `--net=/run/netns/${hostNs}`,
      'podman',
      ...podmanBase,
      'run',
      '--rm',
      '--name',
      name,
      '--net',
      'bench',
      'localhost/tsnet-bench',
      'true',
    ],
    {
      env: penv,
      encoding: 'utf8',
      timeout: RUN_TIMEOUT_MS,
      killSignal: 'SIGKILL',
    },
  );
  const t = now() - t0;
  if (r.status !== 0)
    return failed(
      'podman',
      r.error ? `hung > ${RUN_TIMEOUT_MS / 1000} s` : r.stderr,
      (n) => inHost('podman', [...podmanBase, 'rm', '-f', n], penv),
      name,
    );
  return t;
}

// ── docker ─────────────────────────────────────────────────────────────────────────────────────────────
const dockerSock = join(dir, 'docker.sock');
const dockerPid = join(dir, 'docker.pid');
const denv = { ...env, DOCKER_CONFIG: join(dir, 'docker-config') };
let dockerd: ChildProcess | undefined;
let dockerLog = '';
const docker = (...a: string[]) =>
  spawnSync(DOCKER, ['-H', `unix://${dockerSock}`, ...a], { env: denv, encoding: 'utf8', timeout: RUN_TIMEOUT_MS, killSignal: 'SIGKILL' });

function sleepMs(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

async function dockerSetup(tar: string): Promise<void> {
  spawnSync('ip', ['netns', 'add', dockerNs]);
  spawnSync('ip', ['-n', dockerNs, 'link', 'set', 'lo', 'up']);
  for (const d of ['run-docker', 'run-netns', 'docker-config']) mkdirSync(join(dir, d));
  mkdirSync('/run/docker', { recursive: true }); // mount points (Docker's run directory, ip's netns directory)
  mkdirSync('/run/netns', { recursive: true });
  writeFileSync(join(dir, 'daemon.json'), '{}');
  const script = [
    `mount --bind ${join(dir, 'run-docker')} /run/docker`,
    `mount --bind ${join(dir, 'run-netns')} /run/netns`,
    `exec ${DOCKERD} --config-file ${join(dir, 'daemon.json')} --data-root ${join(dir, 'docker-data')} --exec-root ${join(dir, 'docker-exec')} ` +
      `-H unix://${dockerSock} --pidfile ${dockerPid} --cgroup-parent=${cgroupParent}`,
  ].join('\n');
  dockerd = spawn('nsenter', [`--net=/run/netns/${dockerNs}`, 'unshare', '--mount', '--propagation', 'private', 'sh', '-c', script], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  dockerd.stderr!.on('data', (c: Buffer) => (dockerLog = (dockerLog + c.toString()).slice(-20_000)));
  for (let i = 0; docker('version').status !== 0; i++) {
    if (dockerd.exitCode !== null || i > 600) throw new Error(`dockerd did not come up:\n${dockerLog.slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  const r = docker('import', tar, 'tsnet-bench');
  if (r.status !== 0) throw new Error(`docker import: ${r.stderr}`);
}
function dockerRun(): number {
  const name = `tsb-${id}-${runNo++}`;
  const t0 = now();
  const r = docker('run', '--rm', '--name', name, '--net', 'bridge', 'tsnet-bench', 'true');
  const t = now() - t0;
  if (r.status !== 0) return failed('docker', r.error ? `hung > ${RUN_TIMEOUT_MS / 1000} s` : r.stderr, (n) => docker('rm', '-f', n), name);
  return t;
}

// ── tsnetd ─────────────────────────────────────────────────────────────────────────────────────────────
let tsnetd: ChildProcess | undefined;
async function tsnetdStart(): Promise<void> {
  tsnetd = spawn('nsenter', [`--net=/run/netns/${hostNs}`, cli, 'daemon', '--socket', tsnetSock], { env, stdio: 'ignore' });
  for (let i = 0; !existsSync(tsnetSock); i++) {
    if (tsnetd.exitCode !== null || i > 300) throw new Error('tsnetd did not come up');
    await new Promise((r) => setTimeout(r, 100));
  }
}

// ── the init helper alone ──────────────────────────────────────────────────────────────────────────────
/** `tsnet-init run` of a `true` container, alone: the keys of a real container's init.conf, own dirs, no netns. */
function helperAlone(rounds: number): void {
  const probe = tsnet('run', '-d', '--net', 'none', 'bench', 'sh', '-c', 'exec busybox sleep 600').trim();
  const conf = readFileSync(join(dir, 'tsnet', 'containers', probe, 'init.conf'), 'utf8');
  tsnet('rm', '-f', probe);
  const own = ['rootfs', 'upper', 'work', 'pidfile', 'exitfile', 'onexit', 'notify', 'go', 'cgroup', 'netns', 'lo_up', 'arg', 'bind'];
  const keep = (line: string, drop: string[]) => !drop.includes(line.split('=')[0]!);
  const lines = conf.split('\n').filter((l) => l && !l.startsWith('#') && keep(l, own));
  const h = mkdtempSync(join(dir, 'helper-'));
  for (const d of ['upper', 'work', 'rootfs']) mkdirSync(join(h, d));
  const dirs = [`rootfs=${join(h, 'rootfs')}`, `upper=${join(h, 'upper')}`, `work=${join(h, 'work')}`, 'arg=true'];
  const write = (name: string, body: string[]) => (writeFileSync(join(h, name), `${[...body, ...dirs].join('\n')}\n`), join(h, name));
  const confined = write('confined.conf', lines);
  const timed = (c: string): number => {
    const r = spawnSync(
      'nsenter',
      [`--net=/run/netns/${hostNs}`, join(release, 'tsnet-bench-exec'), join(release, 'tsnet-init'), 'run', c],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe', 'pipe'] },
    );
    if (r.status !== 0) throw new Error(`tsnet-init run ${c}: ${r.stderr}`);
    return Number(r.output[3]);
  };
  timed(confined); // fills the seccomp cache the engine names
  const a = Array.from({ length: rounds }, () => timed(confined));
  console.log(`tsnet-init run alone ×${rounds} (posix_spawn → exit, default confinement, filter cached): ${stats(a)}`);
}

// ── cleanup, on every path ─────────────────────────────────────────────────────────────────────────────
let cleaned = false;
function cleanup(): void {
  if (cleaned) return;
  cleaned = true;
  if (existsSync(`/run/netns/${hostNs}`)) {
    const left = inHost(cli, ['ps', '-aq']).stdout.split('\n').filter(Boolean);
    if (left.length) inHost(cli, ['rm', '-f', ...left]);
  }
  tsnetd?.kill('SIGKILL');
  if (existsSync(join(dir, 'storage'))) {
    inHost('podman', [...podmanBase, 'rm', '-af'], penv);
    inHost('podman', [...podmanBase, 'system', 'reset', '--force'], penv);
  }
  if (dockerd && dockerd.exitCode === null) {
    const ids = docker('ps', '-aq').stdout.split('\n').filter(Boolean);
    if (ids.length) docker('rm', '-f', ...ids);
    dockerd.kill('SIGTERM'); // dockerd stops its containers and its containerd
    for (let i = 0; i < 300 && existsSync(dockerPid); i++) sleepMs(100);
    const pid = existsSync(dockerPid) ? Number(readFileSync(dockerPid, 'utf8')) : 0;
    if (pid) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  }
  if (existsSync('/sys/fs/cgroup'))
    for (const c of readdirSync('/sys/fs/cgroup')) {
      const p = join('/sys/fs/cgroup', c, cgroupParent);
      if (existsSync(p)) spawnSync('sh', ['-c', `find ${p} -depth -type d -exec rmdir {} +`]);
    }
  spawnSync('sh', ['-c', `grep -o ' ${dir}[^ ]*' /proc/self/mountinfo | sort -r | xargs -r -n1 umount -l`]);
  spawnSync('ip', ['netns', 'del', hostNs]);
  spawnSync('ip', ['netns', 'del', dockerNs]);
  rmSync(dir, { recursive: true, force: true });
}
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const)
  process.once(sig, () => {
    process.stderr.write(`\n${sig}: cleaning up\n`);
    cleanup();
    process.exit(130);
  });

function busyboxTar(): string {
  const rootfs = join(dir, 'rootfs');
  mkdirSync(join(rootfs, 'bin'), { recursive: true });
  copyFileSync('/bin/busybox', join(rootfs, 'bin', 'busybox'));
  for (const b of ['sh', 'true']) symlinkSync('busybox', join(rootfs, 'bin', b));
  const tar = join(dir, 'rootfs.tar');
  spawnSync('tar', ['-C', rootfs, '-cf', tar, '.']);
  return tar;
}

async function main(): Promise<void> {
  spawnSync('ip', ['netns', 'add', hostNs]);
  spawnSync('ip', ['-n', hostNs, 'link', 'set', 'lo', 'up']);
  const tar = busyboxTar();
  tsnet('image', 'import', tar, 'bench');
  if (withTsnetd) await tsnetdStart();
  const engines: { name: string; run: () => number; times: number[] }[] = [{ name: 'tsnet  run --rm', run: () => tsnetRun([]), times: [] }];
  if (args.includes('--privileged'))
    engines.push({ name: 'tsnet  run --rm --privileged', run: () => tsnetRun(['--privileged']), times: [] });
  if (!withPodman) console.log('--no-podman: podman not measured');
  else if (spawnSync('podman', ['--version']).status !== 0) console.log('podman not installed (apt-get install podman runc)');
  else {
    podmanSetup(tar);
    engines.push({ name: 'podman run --rm', run: podmanRun, times: [] });
  }
  if (!withDocker) console.log('--no-docker: docker not measured');
  else if (!existsSync(DOCKERD) || !existsSync(DOCKER)) console.log('docker.io not installed (apt-get install docker.io)');
  else {
    await dockerSetup(tar);
    engines.push({ name: 'docker run --rm', run: dockerRun, times: [] });
  }
  for (const e of engines) e.run(); // warm-up: the default network made, caches filled
  for (const s of Object.values(splits)) s.length = 0;
  viaTsnetd = 0;
  for (let i = 0; i < n; i++) for (const e of engines) e.times.push(e.run());

  const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  console.log(
    `\n${n} interleaved rounds, bridge network, ${withTsnetd ? 'tsnetd running (fast-path ADD/DEL)' : 'no tsnetd (ADD/DEL in the CLI)'}; load average at the end: ${load}`,
  );
  for (const e of engines) console.log(`${e.name.padEnd(30)} ${stats(e.times)}`);
  const ours = median(engines[0]!.times);
  for (const e of engines.slice(1)) console.log(`ratio tsnet/${e.name.split(' ')[0]} (medians): ${(ours / median(e.times)).toFixed(2)}`);
  for (const [engine, whys] of Object.entries(failures))
    console.log(`${engine}: ${whys.length} of ${n + 1} runs failed or hung, left out of its median: ${[...new Set(whys)].join('; ')}`);
  console.log('\nsplit of `tsnet run --rm bench true` (median of each phase over the rounds):');
  let sum = 0;
  for (const [label] of PHASES) {
    const xs = splits[label]!;
    if (!xs.length) continue;
    sum += median(xs);
    console.log(`  ${label.padEnd(44)} ${median(xs).toFixed(1).padStart(6)} ms`);
  }
  console.log(`  ${'(sum of the medians)'.padEnd(44)} ${sum.toFixed(1).padStart(6)} ms`);
  console.log(`  (network ADD through tsnetd in ${viaTsnetd} of ${splits[PHASES[0]![0]]!.length} runs)`);
  const nodeStart = Array.from({ length: 9 }, () => {
    const t0 = now();
    spawnSync(process.execPath, ['-e', '0'], { env });
    return now() - t0;
  });
  console.log(`(node -e 0 alone: ${stats(nodeStart)})`);
  if (!args.includes('--no-helper')) helperAlone(Math.max(n, 20));
}

try {
  await main();
} finally {
  cleanup();
}
