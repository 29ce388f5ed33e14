// Benchmark (not a test): wall time of `tsnet run --rm IMAGE true`, next to `podman run --rm` on the same
// rootfs when podman is installed. Run as root: node dist/bench/engine-run.js [--net none|host|bridge] [-n 20]
// Uses a throw-away TSNET_ROOT. With --net bridge it needs the CNI seam wired (engine/network/cni-seam.ts).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const args = process.argv.slice(2);
const net = args[args.indexOf('--net') + 1] && args.includes('--net') ? args[args.indexOf('--net') + 1] : 'none';
const n = args.includes('-n') ? Number(args[args.indexOf('-n') + 1]) : 20;
const cli = fileURLToPath(new URL('../engine/cli/main.js', import.meta.url));
const root = mkdtempSync(join(tmpdir(), 'tsnet-bench-'));
const env = { ...process.env, TSNET_ROOT: root };

function tsnet(...a: string[]): void {
  const r = spawnSync(process.execPath, [cli, ...a], { env, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`tsnet ${a.join(' ')}: ${r.stderr}`);
}

function time(fn: () => void): number {
  const t0 = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

function stats(xs: number[]): string {
  const s = [...xs].sort((a, b) => a - b);
  return `median ${s[Math.floor(s.length / 2)].toFixed(1)} ms, min ${s[0].toFixed(1)} ms, max ${s[s.length - 1].toFixed(1)} ms`;
}

try {
  tsnet('image', 'from-host', 'bench', '--bin', 'sh,true');
  tsnet('run', '--rm', '--net', net, 'bench', 'true'); // warm-up
  const ours = Array.from({ length: n }, () => time(() => tsnet('run', '--rm', '--net', net, 'bench', 'true')));
  console.log(`tsnet run --rm --net ${net} bench true  ×${n}: ${stats(ours)}`);
  const nodeStart = Array.from({ length: 5 }, () => time(() => spawnSync(process.execPath, ['-e', '0'])));
  console.log(`(node start alone: ${stats(nodeStart)}; a run pays it twice: the CLI and the exit hook)`);
  const podman = spawnSync('podman', ['--version'], { encoding: 'utf8' });
  if (podman.status === 0) {
    const tar = join(root, 'bench.tar');
    const img = JSON.parse(spawnSync(process.execPath, [cli, 'image', 'ls', '--json'], { env, encoding: 'utf8' }).stdout)[0];
    spawnSync('tar', ['-cf', tar, '-C', join(root, 'layers', img.layers[0]), '.']);
    spawnSync('podman', ['import', tar, 'localhost/tsnet-bench'], { encoding: 'utf8' });
    const pnet = net === 'bridge' ? 'bridge' : net;
    const theirs = Array.from({ length: n }, () => time(() => spawnSync('podman', ['run', '--rm', '--net', pnet, 'localhost/tsnet-bench', 'true'])));
    console.log(`podman run --rm --net ${pnet} ×${n}: ${stats(theirs)}`);
    const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    console.log(`ratio tsnet/podman (median): ${(med(ours) / med(theirs)).toFixed(2)}`);
    spawnSync('podman', ['rmi', 'localhost/tsnet-bench']);
  } else console.log('podman not installed: no reference measurement (apt-get install podman for the ratio)');
} finally {
  const left = spawnSync(process.execPath, [cli, 'ps', '-aq'], { env, encoding: 'utf8' }).stdout.split('\n').filter(Boolean);
  if (left.length) spawnSync(process.execPath, [cli, 'rm', '-f', ...left], { env });
  rmSync(root, { recursive: true, force: true });
}
