// Benchmark (not a test): the cost of a CNI VERSION call for a bundled tsnet plugin, next to bare `node -e 0`
// and the reference Go plugin (/usr/lib/cni/bridge), measured in the same run with hyperfine and printed as
// ratios. Target (issue 6): bundled plugin ≤ 1.15× `node -e 0`.
//   node dist/bench/cni-version.js [plugin-type|path] [--runs N]
// Needs `node plugins/cni/build.mjs` first (bundles into dist/cni/).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const argv = process.argv.slice(2);
const runsIdx = argv.indexOf('--runs');
const runs = runsIdx >= 0 ? Number(argv[runsIdx + 1]) : 40;
const positional = argv.filter((a, i) => !a.startsWith('--') && (runsIdx < 0 || i !== runsIdx + 1));

function pickPlugin(): string {
  const want = positional[0];
  if (want && want.includes('/')) return resolve(want);
  const dir = join(repo, 'dist', 'cni');
  if (!existsSync(dir)) throw new Error(`${dir} does not exist; run 'node plugins/cni/build.mjs' first`);
  const types = readdirSync(dir).filter((f) => f !== 'package.json');
  const type = want ?? (types.includes('bridge') ? 'bridge' : types[0]);
  if (!type || !types.includes(type)) throw new Error(`no bundled plugin '${want ?? ''}' in ${dir} (have: ${types.join(', ') || 'none'})`);
  return join(dir, type);
}

try {
  execFileSync('hyperfine', ['--version'], { stdio: 'ignore' });
} catch {
  console.error('hyperfine is required (apt-get install hyperfine)');
  process.exit(1);
}

const plugin = pickPlugin();
const reference = '/usr/lib/cni/bridge';
const commands: [string, string][] = [
  ['node -e 0', 'node -e 0'],
  [`tsnet ${plugin.split('/').pop()} VERSION`, plugin],
];
if (existsSync(reference)) commands.push(['reference bridge VERSION', reference]);

const out = mkdtempSync(join(tmpdir(), 'tsnet-bench-'));
try {
  const json = join(out, 'h.json');
  execFileSync(
    'hyperfine',
    ['-N', '--warmup', '5', '--runs', String(runs), '--export-json', json, ...commands.flatMap(([name, cmd]) => ['-n', name, cmd])],
    { env: { ...process.env, CNI_COMMAND: 'VERSION' }, stdio: ['ignore', 'ignore', 'inherit'] },
  );
  const results = (
    JSON.parse(readFileSync(json, 'utf8')) as { results: { command: string; mean: number; stddev: number; median: number }[] }
  ).results;
  const base = results[0].median;
  console.log(`CNI VERSION call cost (${runs} runs each, median; ratios against node -e 0)`);
  for (const r of results) {
    console.log(
      `  ${r.command.padEnd(34)} ${(r.median * 1000).toFixed(1).padStart(7)} ms  ±${(r.stddev * 1000).toFixed(1)}  ${(r.median / base).toFixed(2)}×`,
    );
  }
  const ours = results[1].median / base;
  console.log(`target ≤ 1.15× node -e 0: ${ours <= 1.15 ? 'met' : 'NOT met'} (${ours.toFixed(2)}×)`);
  if (results[2]) console.log(`tsnet / reference Go plugin: ${(results[1].median / results[2].median).toFixed(1)}×`);
} finally {
  rmSync(out, { recursive: true, force: true });
}
