// The path of a `tsnet run --rm` as users run it (the bundled CLI through its code-cache launcher), in a
// namespace that plays the host: a foreground run cleans up in the CLI itself — no exit hook, no second Node
// start — and keeps the container's exit code; a CLI killed meanwhile still gets its container cleaned up by
// the supervisor's exit hook; a detached container is cleaned up by the hook; with tsnetd running in that
// namespace the network ADD and DEL go through it. What is asserted comes from the kernel (`ip -j`) and the
// CLI's TSNET_TRACE lines (which process did what), never from timing.
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { test, type TestContext } from 'node:test';
import { BUNDLED_CLI, EngineFixture, leftovers } from '../engine/testing/cli.js';
import { ipj, needsRoot, until, world, type World } from './harness.js';

const skip = needsRoot || (!existsSync(BUNDLED_CLI) ? `${BUNDLED_CLI} not built (npm run build:cni)` : false);

interface Mark {
  pid: number;
  /** Epoch ms (CLOCK_REALTIME, the same clock in every process). */
  at: number;
  phase: string;
}
/** The TSNET_TRACE lines of a command's stderr. */
function marks(stderr: string): Mark[] {
  return stderr
    .split('\n')
    .map((l) => /^tsnet-trace (\d+) ([\d.]+) (\S+)$/.exec(l))
    .filter((m): m is RegExpExecArray => !!m)
    .map((m) => ({ pid: Number(m[1]), at: Number(m[2]), phase: m[3]! }));
}

function engine(t: TestContext): { w: World; host: string; e: EngineFixture } {
  const w = world(t);
  const host = w.netns('runhost');
  spawnSync('ip', ['-n', host, 'link', 'set', 'lo', 'up']);
  const e = new EngineFixture(w.tmpdir(), host, BUNDLED_CLI);
  e.extraEnv = { TSNET_TRACE: '1' };
  w.defer(() => e.removeAll());
  e.ok('image', 'from-host', 'img', '--bin', 'sh,sleep,true,yes,head');
  return { w, host, e };
}

/** Nothing of the container is left: record, netns, cgroup, mounts, veth on the default bridge, address. */
function nothingLeft(e: EngineFixture, host: string): void {
  assert.deepEqual(e.ids(), [], 'no container record');
  for (const l of ipj(host, 'link', 'show', 'type', 'veth')) assert.fail(`veth ${l.ifname} left in the host namespace`);
  assert.deepEqual(JSON.parse(e.ok('network', 'inspect', 'bridge'))[0].allocations, {}, 'every address released');
}

test('a foreground run --rm cleans up in the CLI itself, with no exit hook, and keeps the exit code', { skip }, (t) => {
  const { host, e } = engine(t);
  const r = e.tsnet('run', '--rm', '--net', 'bridge', 'img', 'sh', '-c', 'echo out; exit 7');
  assert.equal(r.status, 7, r.stderr);
  assert.equal(r.stdout, 'out\n');
  const m = marks(r.stderr);
  const cli = m.find((x) => x.phase === 'cli-loaded')?.pid;
  assert.ok(cli, `the CLI traced its start: ${r.stderr}`);
  for (const phase of ['network-added', 'exited', 'cleaned-up', 'removed'])
    assert.ok(
      m.some((x) => x.pid === cli && x.phase === phase),
      `${phase} done by the CLI (pid ${cli}): ${r.stderr}`,
    );
  assert.ok(!m.some((x) => x.phase === 'hook-start'), `no exit hook ran: ${r.stderr}`);
  assert.equal(new Set(m.filter((x) => x.phase === 'node-start').map((x) => x.pid)).size, 1, 'one Node start');
  nothingLeft(e, host);
});

test(
  "a run loads none of the heavy builtins it does not use: node:crypto (OpenSSL's bindings), child_process, http, dgram, fs/promises",
  { skip },
  (t) => {
    const { w, e } = engine(t);
    const dir = w.tmpdir();
    const preload = join(dir, 'modules.cjs');
    writeFileSync(
      preload,
      `process.on('exit', () => require('fs').writeFileSync(${JSON.stringify(join(dir, 'modules.txt'))}, process.moduleLoadList.join('\\n')));\n`,
    );
    e.extraEnv = { NODE_OPTIONS: `-r ${preload}` };
    const r = e.tsnet('run', '--rm', '--net', 'bridge', 'img', 'true');
    assert.equal(r.status, 0, r.stderr);
    const loaded = readFileSync(join(dir, 'modules.txt'), 'utf8').split('\n');
    assert.ok(loaded.includes('NativeModule fs'), `the list is Node's: ${loaded.slice(0, 5).join(', ')}`);
    assert.deepEqual(
      loaded.filter((m) => /^NativeModule ((internal\/)?crypto\b|child_process$|http$|_http_|dgram$|fs\/promises$)/.test(m)),
      [],
      'loaded by the run',
    );
  },
);

test('the init helper is started before the network ADD and runs the command once the network and /etc are there', { skip }, (t) => {
  const { e } = engine(t);
  const r = e.tsnet('run', '--rm', '--hostname', 'early', '--net', 'bridge', 'img', 'sh', '-c', 'ip -4 -o addr show eth0; cat /etc/hosts');
  assert.equal(r.status, 0, r.stderr);
  const m = marks(r.stderr);
  const cli = m.find((x) => x.phase === 'cli-loaded')!.pid;
  const order = m.filter((x) => x.pid === cli).map((x) => x.phase);
  // the CLI's own lines, in the order it wrote them: the helper spawned, then the network added, then the go
  assert.ok(order.indexOf('spawned') >= 0 && order.indexOf('spawned') < order.indexOf('network-added'), `spawn before the ADD: ${order}`);
  assert.ok(order.indexOf('network-added') < order.indexOf('go'), `the go after the ADD: ${order}`);
  // the supervisor waited for that go (its mark cannot precede the CLI's: it reads what the CLI wrote)
  const go = m.find((x) => x.pid !== cli && x.phase === 'helper-go');
  assert.ok(go, `the helper waited for the go: ${r.stderr}`);
  assert.ok(go.at >= m.find((x) => x.pid === cli && x.phase === 'go')!.at);
  // and the command saw the network's address on eth0 and it in its /etc/hosts, written after the ADD
  const ip = /inet (\d+\.\d+\.\d+\.\d+)\//.exec(r.stdout)?.[1];
  assert.ok(ip, `eth0 has its address when the command starts: ${r.stdout}`);
  assert.match(r.stdout, new RegExp(`^${ip.replace(/\./g, '\\.')}\\s+early`, 'm'), '/etc/hosts names the container at its address');
});

test(
  'a network ADD that fails after the helper started: the helper gives up without the exit hook, nothing is left',
  { skip },
  async (t) => {
    const { w, host, e } = engine(t);
    const net = `rp${w.id}`;
    e.ok('network', 'create', net, '--subnet', '10.93.7.0/24', '--bridge', `trp${w.id}`, '--no-masquerade');
    const first = e.ok('run', '-d', '--net', net, '--ip', '10.93.7.50', 'img', 'sleep', '30').trim();
    // the same address again: refused by IPAM inside the ADD, after the netns was made and the helper spawned
    const r = e.tsnet('run', '--name', 'clash', '--net', net, '--ip', '10.93.7.50', 'img', 'true');
    assert.equal(r.status, 125, r.stderr);
    assert.match(r.stderr, /10\.93\.7\.50 is not available/);
    const m = marks(r.stderr);
    const cli = m.find((x) => x.phase === 'cli-loaded')!.pid;
    assert.ok(
      m.some((x) => x.pid === cli && x.phase === 'spawned'),
      `the helper was spawned: ${r.stderr}`,
    );
    assert.ok(
      m.some((x) => x.pid !== cli && x.phase === 'helper-no-go'),
      `the helper was told no: ${r.stderr}`,
    );
    assert.ok(!m.some((x) => x.phase === 'helper-execd' || x.phase === 'hook-start'), `no command, no exit hook: ${r.stderr}`);
    const id = e.ok('inspect', '-f', '{{.Id}}', 'clash').trim();
    // the record stays (no --rm), stopped; its netns, cgroups and mounts are gone, as is its helper
    assert.deepEqual(leftovers(e.root, id), [`state dir ${join(e.root, 'containers', id)}`]);
    const helpers = spawnSync('pgrep', ['-f', join(e.root, 'containers', id)], { encoding: 'utf8' }).stdout.trim();
    assert.equal(helpers, '', 'no helper process left');
    assert.equal(ipj(host, 'link', 'show', 'type', 'veth').length, 1, "only the first container's veth");
    e.ok('rm', '-f', first, 'clash');
    assert.deepEqual(e.ids(), []);
  },
);

test('an init helper that cannot be spawned: the run says why, and nothing of the container is left', { skip }, (t) => {
  const { w, host, e } = engine(t);
  const notExecutable = join(w.tmpdir(), 'tsnet-init');
  writeFileSync(notExecutable, '#!/bin/sh\n', { mode: 0o644 }); // there, but not executable: posix_spawn fails
  e.extraEnv = { TSNET_TRACE: '1', TSNET_INIT: notExecutable };
  const r = e.tsnet('run', '--rm', '--net', 'bridge', 'img', 'true');
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /EACCES.*posix_spawn/, r.stderr);
  assert.ok(
    marks(r.stderr).some((x) => x.phase === 'spawned'),
    `the spawn was issued before the ADD: ${r.stderr}`,
  );
  nothingLeft(e, host);
});

test("a container's processes start with no signal ignored on the engine's account", { skip }, (t) => {
  const { e } = engine(t);
  // busybox sh ignores SIGQUIT itself; nothing above the standard 31 may be (the helper's posix_spawn by the CLI
  // leaves the C library's internal 32 and 33 ignored: the helper sets them back to default)
  const r = e.tsnet(
    'run',
    '--rm',
    '--net',
    'none',
    'img',
    'sh',
    '-c',
    'while read l; do case $l in SigIgn*) echo $l;; esac; done </proc/self/status',
  );
  assert.equal(r.status, 0, r.stderr);
  const ign = BigInt(`0x${/^SigIgn: (\S+)$/m.exec(r.stdout)?.[1]}`);
  assert.equal(ign >> 31n, 0n, r.stdout);
  assert.equal(ign & ~(1n << 2n), 0n, `only SIGQUIT, by sh: ${r.stdout}`);
});

test("all of a foreground container's output reaches a reader that is slower than the container", { skip }, async (t) => {
  const { e } = engine(t);
  const cli = e.spawn('run', '--rm', '--net', 'none', 'img', 'sh', '-c', 'yes 0123456789 | head -c 3000000');
  cli.stdout!.pause(); // the pipe fills; the CLI has to queue the rest
  await sleep(1500);
  let got = 0;
  cli.stdout!.on('data', (d: Buffer) => (got += d.length));
  cli.stdout!.resume();
  const code = await new Promise((r) => cli.once('close', r));
  assert.equal(code, 0);
  assert.equal(got, 3_000_000, 'every byte, after the CLI is done');
  assert.deepEqual(e.ids(), []);
});

test('a CLI killed while its foreground container runs: the exit hook cleans up', { skip }, async (t) => {
  const { host, e } = engine(t);
  const cli: ChildProcess = e.spawn('run', '--rm', '--net', 'bridge', 'img', 'sleep', '1');
  let err = '';
  cli.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  await until('the container to run', () => marks(err).some((x) => x.phase === 'running'));
  assert.equal(ipj(host, 'link', 'show', 'type', 'veth').length, 1, 'attached');
  cli.kill('SIGKILL'); // nsenter execs the CLI: this is the CLI
  await new Promise((r) => cli.once('close', r));
  await until('the exit hook to remove the container', () => e.ids().length === 0);
  await until('the veth to go', () => ipj(host, 'link', 'show', 'type', 'veth').length === 0);
  nothingLeft(e, host);
});

test('a detached run --rm is cleaned up by the exit hook when it ends', { skip }, async (t) => {
  const { host, e } = engine(t);
  const r = e.tsnet('run', '-d', '--rm', '--net', 'bridge', 'img', 'sleep', '1');
  assert.equal(r.status, 0, r.stderr);
  const id = r.stdout.trim();
  assert.match(id, /^[0-9a-f]{64}$/);
  await until('the exit hook to remove the container', () => e.ids().length === 0);
  assert.deepEqual(leftovers(e.root, id), []);
  nothingLeft(e, host);
});

test("a detached run whose command cannot be exec'd says so and exits 127", { skip }, (t) => {
  const { e } = engine(t);
  const r = e.tsnet('run', '-d', '--net', 'none', 'img', 'nosuchcmd');
  assert.equal(r.status, 127, r.stderr);
  assert.match(r.stderr, /did not start: exec nosuchcmd/);
  assert.equal(r.stdout, '');
});

test("with tsnetd running, run's network ADD and DEL go through it; an untrusted socket is not used", { skip }, async (t) => {
  const { w, host, e } = engine(t);
  const dir = w.tmpdir(); // mkdtemp: root's, 0700
  const socket = join(dir, 'tsnetd.sock');
  const d = spawn('nsenter', [`--net=/run/netns/${host}`, process.execPath, BUNDLED_CLI, 'daemon', '--socket', socket], {
    env: e.env(),
    stdio: 'ignore',
  });
  w.defer(async () => {
    if (d.exitCode === null && d.signalCode === null) {
      d.kill('SIGKILL');
      await new Promise((r) => d.once('close', r));
    }
  });
  await until('tsnetd to listen', () => existsSync(socket));
  e.extraEnv = { TSNET_TRACE: '1', TSNET_SOCKET: socket };
  const r = e.tsnet('run', '--rm', '--net', 'bridge', 'img', 'sh', '-c', 'ip -4 -o addr show eth0');
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /inet \d+\.\d+\.\d+\.\d+\//);
  const m = marks(r.stderr).map((x) => x.phase);
  assert.ok(m.includes('tsnetd-ADD-bridge'), `ADD through tsnetd: ${r.stderr}`);
  assert.ok(m.includes('tsnetd-DEL-bridge'), `DEL through tsnetd: ${r.stderr}`);
  nothingLeft(e, host);

  // the same daemon behind a socket in a directory others can write: not believed, the plugins run in the CLI
  const open = join(dir, 'open');
  mkdirSync(open);
  chmodSync(open, 0o777);
  const moved = join(open, 'tsnetd.sock');
  spawnSync('mv', [socket, moved]); // still the daemon's listening socket, now where anyone could have put one
  e.extraEnv = { TSNET_TRACE: '1', TSNET_SOCKET: moved };
  const r2 = e.tsnet('run', '--rm', '--net', 'bridge', 'img', 'true');
  assert.equal(r2.status, 0, r2.stderr);
  const m2 = marks(r2.stderr).map((x) => x.phase);
  assert.ok(!m2.some((p) => p.startsWith('tsnetd-')), `the untrusted socket was not used: ${r2.stderr}`);
  assert.ok(m2.includes('network-added'));
  nothingLeft(e, host);
});
