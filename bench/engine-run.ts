// Benchmark (not a test): wall time of `tsnet run --rm IMAGE true` next to `podman run --rm` (Debian podman
// 4.3, CNI backend, the reference bridge + host-local plugins) on the same rootfs and the same network shape:
// a bridge network of its own, gateway on the bridge, no masquerade. Both run inside a namespace that plays
// the host (entered with nsenter), so the machine's own network is untouched; everything is removed after.
// tsnet's runs alternate between the default confinement (Docker's capabilities, no_new_privs, seccomp
// profile, masked paths, device cgroup) and `--privileged` (none of it: how every container started before),
// so the cost of the defaults is measured in the same run. Under the noise of two Node starts per run, the
// init helper is then timed alone (posix_spawn → exit, by exec-timed): `tsnet-init run` of a `true` container
// with the default confinement keys, without them, and with a seccomp cache it has to fill first.
// Run as root after `npm ci`:  node dist/bench/engine-run.js [--net bridge|none] [-n 20] [--no-podman]
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const args = process.argv.slice(2);
const opt = (k: string, d: string) => (args.includes(k) ? args[args.indexOf(k) + 1]! : d);
const net = opt('--net', 'bridge');
const n = Number(opt('-n', '20'));
// The CLI as users run it: the bundle, through its interpreter line.
const cli = fileURLToPath(new URL('../engine/cli/tsnet.cjs', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'tsnet-bench-'));
const id = Math.random().toString(16).slice(2, 8);
const hostNs = `tsb-run-${id}`;
const env = { ...process.env, TSNET_ROOT: join(dir, 'tsnet') };
const release = join(resolve(dirname(fileURLToPath(import.meta.url)), '..', '..'), 'native', 'build', 'Release');

function inHost(cmd: string, a: string[], e: NodeJS.ProcessEnv = env): SpawnSyncReturns<string> {
  return spawnSync('nsenter', [`--net=/run/netns/${hostNs}`, cmd, ...a], { env: e, encoding: 'utf8' });
}
function tsnet(...a: string[]): string {
  const r = inHost(cli, a);
  if (r.status !== 0) throw new Error(`tsnet ${a.join(' ')}: ${r.stderr}`);
  return r.stdout;
}
function time(fn: () => void): number {
  const t0 = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - t0) / 1e6;
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
function stats(xs: number[]): string {
  const s = [...xs].sort((a, b) => a - b);
  return `median ${median(xs).toFixed(1)} ms, min ${s[0]!.toFixed(1)} ms, max ${s[s.length - 1]!.toFixed(1)} ms`;
}

/** `tsnet-init run` of a `true` container, alone: the keys of a real container's init.conf, own dirs, no netns. */
function helperAlone(rounds: number): void {
  const probe = tsnet('run', '-d', '--net', 'none', 'bench', 'sleep', '600').trim();
  const conf = readFileSync(join(dir, 'tsnet', 'containers', probe, 'init.conf'), 'utf8');
  tsnet('rm', '-f', probe);
  const own = ['rootfs', 'upper', 'work', 'pidfile', 'exitfile', 'onexit', 'notify', 'cgroup', 'netns', 'lo_up', 'arg', 'bind'];
  const confinement = ['caps', 'no_new_privs', 'seccomp_default', 'seccomp_arch', 'seccomp', 'seccomp_cache', 'mask', 'ro'];
  const keep = (line: string, drop: string[]) => !drop.includes(line.split('=')[0]!);
  const lines = conf.split('\n').filter((l) => l && !l.startsWith('#') && keep(l, own));
  const h = mkdtempSync(join(dir, 'helper-'));
  for (const d of ['upper', 'work', 'rootfs']) mkdirSync(join(h, d));
  const dirs = [`rootfs=${join(h, 'rootfs')}`, `upper=${join(h, 'upper')}`, `work=${join(h, 'work')}`, 'arg=true'];
  const write = (name: string, body: string[]) => (writeFileSync(join(h, name), `${[...body, ...dirs].join('\n')}\n`), join(h, name));
  const confined = write('confined.conf', lines);
  const unconfined = write(
    'unconfined.conf',
    lines.filter((l) => keep(l, confinement)),
  );
  const timed = (conf: string): number => {
    const r = spawnSync(
      'nsenter',
      [`--net=/run/netns/${hostNs}`, join(release, 'tsnet-bench-exec'), join(release, 'tsnet-init'), 'run', conf],
      {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
      },
    );
    if (r.status !== 0) throw new Error(`tsnet-init run ${conf}: ${r.stderr}`);
    return Number(r.output[3]);
  };
  const cold = (i: number) =>
    write(`cold${i}.conf`, [...lines.filter((l) => !l.startsWith('seccomp_cache=')), `seccomp_cache=${join(h, `cache${i}`)}`]);
  timed(confined); // fills the seccomp cache the engine names
  const a: number[] = [];
  const b: number[] = [];
  const c: number[] = [];
  for (let i = 0; i < rounds; i++) {
    a.push(timed(confined));
    b.push(timed(unconfined));
    if (i % 4 === 0) c.push(timed(cold(i)));
  }
  console.log(`tsnet-init run alone ×${rounds}, default confinement (filter cached): ${stats(a)}`);
  console.log(`tsnet-init run alone ×${rounds}, unconfined: ${stats(b)}`);
  console.log(`tsnet-init run alone ×${c.length}, default confinement, filter compiled (first container of a root): ${stats(c)}`);
  console.log(
    `cost of the default confinement in the helper (median): ${(median(a) - median(b)).toFixed(2)} ms cached, ${(median(c) - median(b)).toFixed(2)} ms compiling`,
  );
}

spawnSync('ip', ['netns', 'add', hostNs]);
spawnSync('ip', ['-n', hostNs, 'link', 'set', 'lo', 'up']);
try {
  tsnet('image', 'from-host', 'bench', '--bin', 'sh,true');
  let ourNet = net;
  if (net === 'bridge') {
    tsnet('network', 'create', 'bench', '--subnet', '10.77.0.0/24', '--bridge', `tbr${id}`, '--no-masquerade');
    ourNet = 'bench';
  }
  tsnet('run', '--rm', '--net', ourNet, 'bench', 'true'); // warm-up
  tsnet('run', '--rm', '--privileged', '--net', ourNet, 'bench', 'true');
  const ours: number[] = [];
  const unconfined: number[] = [];
  for (let i = 0; i < n; i++) {
    ours.push(time(() => tsnet('run', '--rm', '--net', ourNet, 'bench', 'true')));
    unconfined.push(time(() => tsnet('run', '--rm', '--privileged', '--net', ourNet, 'bench', 'true')));
  }
  console.log(`tsnet  run --rm --net ${net} ×${n} (default confinement): ${stats(ours)}`);
  console.log(`tsnet  run --rm --privileged --net ${net} ×${n} (unconfined): ${stats(unconfined)}`);
  console.log(`cost of the default confinement (median): ${(median(ours) - median(unconfined)).toFixed(1)} ms`);
  helperAlone(Math.max(n, 20));
  const nodeStart = Array.from({ length: 5 }, () =>
    time(() => spawnSync(process.execPath, ['-e', '0'], { env: { ...process.env, NODE_EXTRA_CA_CERTS: '' } })),
  );
  console.log(`(node -e 0 alone: ${stats(nodeStart)}; a tsnet run pays a Node start for the CLI and one for the exit hook)`);

  if (args.includes('--no-podman')) {
    console.log('--no-podman: no reference measurement');
  } else if (spawnSync('podman', ['--version']).status !== 0) {
    console.log('podman not installed: no reference measurement (apt-get install podman runc for the ratio)');
  } else {
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
            ipam: { type: 'host-local', subnet: '10.78.0.0/24', dataDir: join(dir, 'host-local') },
          },
        ],
      }),
    );
    writeFileSync(
      join(dir, 'containers.conf'),
      `[containers]\ndefault_ulimits = ["nofile=4096:4096", "nproc=4096:4096"]\n[network]\nnetwork_backend = "cni"\ncni_plugin_dirs = ["/usr/lib/cni"]\nnetwork_config_dir = "${netd}"\n[engine]\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\nruntime = "runc"\n`,
    );
    const penv = { ...process.env, CONTAINERS_CONF: join(dir, 'containers.conf') };
    const base = ['--root', join(dir, 'storage'), '--runroot', join(dir, 'run'), '--storage-driver', 'vfs'];
    const img = JSON.parse(tsnet('image', 'ls', '--json'))[0];
    const tar = join(dir, 'bench.tar');
    spawnSync('tar', ['-cf', tar, '-C', join(dir, 'tsnet', 'layers', img.layers[0]), '.']);
    inHost('podman', [...base, 'import', tar, 'localhost/tsnet-bench'], penv);
    const pnet = net === 'bridge' ? 'bench' : net;
    const prun = () => {
      const r = inHost('podman', [...base, 'run', '--rm', '--net', pnet, 'localhost/tsnet-bench', 'true'], penv);
      if (r.status !== 0) throw new Error(`podman run: ${r.stderr}`);
    };
    prun(); // warm-up
    const theirs = Array.from({ length: n }, () => time(prun));
    console.log(`podman run --rm --net ${pnet} ×${n}: ${stats(theirs)}`);
    console.log(`ratio tsnet/podman (median): ${(median(ours) / median(theirs)).toFixed(2)}`);
    inHost('podman', [...base, 'rm', '-af'], penv);
    inHost('podman', [...base, 'system', 'reset', '--force'], penv);
  }
} finally {
  const left = inHost(cli, ['ps', '-aq']).stdout.split('\n').filter(Boolean);
  if (left.length) inHost(cli, ['rm', '-f', ...left]);
  spawnSync('sh', ['-c', `grep -o ' ${dir}[^ ]*' /proc/self/mountinfo | sort -r | xargs -r -n1 umount -l`]);
  spawnSync('ip', ['netns', 'del', hostNs]);
  rmSync(dir, { recursive: true, force: true });
}
