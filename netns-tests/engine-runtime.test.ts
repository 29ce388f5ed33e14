// The engine's containers on the real kernel: namespaces, rootfs, cgroup limits, and that nothing is left.
// Every test uses a private TSNET_ROOT (a temp dir) and removes its containers, whatever happens.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readlinkSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { EngineFixture, leftovers } from '../engine/testing/cli.js';
import { ipj, needsRoot, uid, world } from './harness.js';

function fixture(t: import('node:test').TestContext): EngineFixture {
  const w = world(t);
  const e = new EngineFixture(w.tmpdir());
  w.defer(() => e.removeAll());
  e.ok('image', 'from-host', 'img');
  return e;
}

test('engine runtime on the real kernel', { skip: needsRoot }, async (t) => {
  const e = fixture(t);

  await t.test('--net none: only lo, and it is up', () => {
    const out = e.ok('run', '--rm', '--net', 'none', 'img', 'ip', '-o', 'link');
    const links = out.trim().split('\n');
    assert.equal(links.length, 1, out);
    assert.match(links[0], /^1: lo: <LOOPBACK,UP/);
  });

  await t.test('--net host: sees the host interfaces', () => {
    // The very same network namespace (other test files may add and remove host links meanwhile, so the
    // namespace's identity is compared, and the links that stay put).
    const hostNs = readlinkSync('/proc/self/ns/net');
    const out = e.ok('run', '--rm', '--net', 'host', 'img', 'sh', '-c', 'busybox readlink /proc/self/ns/net; ip -o link');
    const [nsLine, ...links] = out.trim().split('\n');
    assert.equal(nsLine, hostNs);
    const inside = links.map((l) => l.split(': ')[1]!.split('@')[0]!);
    for (const name of ['lo', 'eth0']) if (ipj(null, 'link', 'show', name).length) assert.ok(inside.includes(name), `${name} visible`);
  });

  await t.test('exec reports a command killed by a signal as 128 + its number, as a shell does', () => {
    const name = `sig${Date.now().toString(36)}`;
    e.ok('run', '-d', '--name', name, '--net', 'none', 'img', 'sleep', '30');
    const r = e.tsnet('exec', name, 'sh', '-c', 'kill -TERM $$');
    assert.equal(r.status, 143, r.stderr);
    e.ok('rm', '-f', name);
  });

  await t.test('hostname is isolated', () => {
    const name = `ctr-${uid()}`;
    assert.equal(e.ok('run', '--rm', '--net', 'none', '--hostname', name, 'img', 'hostname').trim(), name);
    assert.notEqual(hostname(), name);
    const etc = e.ok('run', '--rm', '--net', 'none', '--hostname', name, 'img', 'cat', '/etc/hostname', '/etc/hosts');
    assert.match(etc, new RegExp(`^${name}$`, 'm'));
    assert.match(etc, new RegExp(`\\s${name}$`, 'm'));
  });

  await t.test('pid namespace: the container sees only its own processes, command under pid 1', () => {
    const out = e.ok(
      'run',
      '--rm',
      '--net',
      'none',
      'img',
      'sh',
      '-c',
      'ls /proc | grep -E "^[0-9]+$" | sort -n | tr "\\n" " "; echo; cat /proc/1/comm',
    );
    const [pids, comm] = out.trim().split('\n');
    const list = pids.trim().split(' ').map(Number);
    // pid 1 (init), the shell and its pipeline: a handful of small numbers, none of the host's processes
    assert.ok(list.length <= 10 && Math.max(...list) < 50, `expected a handful of pids, got ${pids}`);
    assert.equal(list[0], 1);
    assert.equal(comm, 'tsnet-init');
  });

  await t.test('/ is the image and writes land in the upper layer only', () => {
    const name = `rootfs-${uid()}`;
    const id = e
      .ok('run', '-d', '--name', name, '--net', 'none', 'img', 'sh', '-c', 'echo hello > /written-here; rm /etc/group; sleep 30')
      .trim();
    t.after(() => e.tsnet('rm', '-f', name));
    assert.equal(e.ok('exec', name, 'cat', '/etc/passwd').split('\n')[0], 'root:x:0:0:root:/root:/bin/sh');
    // host's own files are not there
    assert.equal(e.tsnet('exec', name, 'cat', '/etc/debian_version').status, 1);
    for (let i = 0; i < 50 && !existsSync(join(e.root, 'containers', id, 'upper', 'written-here')); i++) spawnWait(50);
    assert.equal(readFileSync(join(e.root, 'containers', id, 'upper', 'written-here'), 'utf8'), 'hello\n');
    const img = JSON.parse(e.ok('image', 'ls', '--json'))[0];
    const layer = join(e.root, 'layers', img.layers[0]);
    assert.ok(!existsSync(join(layer, 'written-here')), 'the image layer must not change');
    assert.ok(existsSync(join(layer, 'etc', 'group')), 'a delete in the container must not touch the layer');
  });

  await t.test('--memory 32m: a memory hog is OOM-killed', () => {
    const name = `oom-${uid()}`;
    t.after(() => e.tsnet('rm', '-f', name));
    const r = e.tsnet('run', '--name', name, '--net', 'none', '--memory', '32m', 'img', 'tail', '/dev/zero');
    assert.equal(r.status, 137, r.stderr);
    const j = e.inspect(name);
    assert.equal(j.State.OOMKilled, true);
    assert.equal(j.State.ExitCode, 137);
    assert.equal(j.HostConfig.Memory, 32 * 1024 * 1024);
  });

  await t.test('--pids-limit 20 stops a fork bomb', () => {
    const r = e.tsnet(
      'run',
      '--rm',
      '--net',
      'none',
      '--pids-limit',
      '20',
      'img',
      'sh',
      '-c',
      'i=0; while [ $i -lt 60 ]; do sleep 5 & i=$((i+1)); done; echo all forked',
    );
    assert.doesNotMatch(r.stdout, /all forked/);
    assert.match(r.stderr, /fork/i);
  });

  await t.test('--cpus 0.5 and --pids-limit are visible in the cgroup files', () => {
    const name = `cpu-${uid()}`;
    e.ok('run', '-d', '--name', name, '--net', 'none', '--cpus', '0.5', '--pids-limit', '33', 'img', 'sleep', '30');
    t.after(() => e.tsnet('rm', '-f', name));
    const j = e.inspect(name);
    const dirs: string[] = j.HostConfig.CgroupDirs;
    const v2 = dirs.length === 1 && existsSync(join(dirs[0], 'cpu.max'));
    if (v2) {
      assert.equal(readFileSync(join(dirs[0], 'cpu.max'), 'utf8').trim(), '50000 100000');
      assert.equal(readFileSync(join(dirs[0], 'pids.max'), 'utf8').trim(), '33');
    } else {
      const cpu = dirs.find((d) => existsSync(join(d, 'cpu.cfs_quota_us')))!;
      assert.equal(readFileSync(join(cpu, 'cpu.cfs_quota_us'), 'utf8').trim(), '50000');
      assert.equal(readFileSync(join(cpu, 'cpu.cfs_period_us'), 'utf8').trim(), '100000');
      const pids = dirs.find((d) => existsSync(join(d, 'pids.max')))!;
      assert.equal(readFileSync(join(pids, 'pids.max'), 'utf8').trim(), '33');
    }
    // the container's process really is in them
    const pid = j.State.Pid;
    for (const d of dirs) assert.ok(readFileSync(join(d, 'cgroup.procs'), 'utf8').split('\n').length > 1, d);
    assert.ok(readFileSync(`/proc/${pid}/cgroup`, 'utf8').includes(j.Id));
  });

  await t.test("--net container:A shares A's netns but not its processes", () => {
    const a = `a-${uid()}`;
    e.ok('run', '-d', '--name', a, '--net', 'none', 'img', 'sleep', '30');
    t.after(() => e.tsnet('rm', '-f', a));
    const aNet = e.ok('exec', a, 'readlink', '/proc/self/ns/net').trim();
    const out = e.ok(
      'run',
      '--rm',
      '--net',
      `container:${a}`,
      'img',
      'sh',
      '-c',
      'readlink /proc/self/ns/net; ls /proc | grep -cE "^[0-9]+$"; cat /proc/*/comm',
    );
    const [bNet] = out.split('\n');
    assert.equal(bNet, aNet);
    assert.doesNotMatch(out, /sleep/, "A's sleep must not be visible in B");
  });
});

test('engine cleanup: nothing of a container is left', { skip: needsRoot }, async (t) => {
  const e = fixture(t);

  await t.test('after run --rm', () => {
    const short = e.ok('run', '--rm', '--net', 'none', '--memory', '64m', '--pids-limit', '50', 'img', 'hostname').trim();
    assert.match(short, /^[0-9a-f]{12}$/);
    const id = e.ids().find((i) => i.startsWith(short));
    assert.equal(id, undefined, 'state dir must be gone');
    assert.deepEqual(
      leftovers(e.root, short.padEnd(64, '?')).filter((l) => !l.startsWith('state')),
      [],
    );
    assert.ok(!existsSync(`/run/netns/tsnet-${short}`));
  });

  await t.test('after rm -f of a running container', () => {
    const id = e.ok('run', '-d', '--net', 'none', '--memory', '64m', '--cpus', '1', 'img', 'sleep', '60').trim();
    assert.equal(e.inspect(id).State.Status, 'running');
    assert.ok(existsSync(`/run/netns/tsnet-${id.slice(0, 12)}`));
    assert.notDeepEqual(leftovers(e.root, id), []);
    const pid = e.inspect(id).State.Pid;
    e.ok('rm', '-f', id);
    assert.deepEqual(leftovers(e.root, id), []);
    assert.ok(!existsSync(`/proc/${pid}`) || readFileSync(`/proc/${pid}/stat`, 'utf8').includes(' Z '), 'pid 1 must be gone');
  });

  await t.test('stop sends SIGTERM, the exit code is recorded, the netns and cgroup go', () => {
    const id = e
      .ok('run', '-d', '--net', 'none', 'img', 'sh', '-c', 'trap "echo got-term; exit 7" TERM; while :; do sleep 0.1; done')
      .trim();
    e.ok('stop', '-t', '5', id);
    const j = e.inspect(id);
    assert.equal(j.State.Status, 'exited');
    assert.equal(j.State.ExitCode, 7);
    assert.match(e.ok('logs', id), /got-term/);
    assert.deepEqual(
      leftovers(e.root, id).filter((l) => !l.startsWith('state')),
      [],
    );
    e.ok('rm', id);
  });

  await t.test('ps tells the truth after kill -9 of the CLI, rm cleans up', async () => {
    const name = `crash-${uid()}`;
    const cli = e.spawn('run', '--name', name, '--net', 'none', 'img', 'sleep', '60');
    let j: any;
    for (let i = 0; i < 100; i++) {
      await new Promise((r) => setTimeout(r, 50));
      const r = e.tsnet('inspect', name);
      if (r.status === 0 && (j = JSON.parse(r.stdout)[0]).State.Status === 'running') break;
    }
    assert.equal(j?.State.Status, 'running');
    cli.kill('SIGKILL');
    await new Promise((r) => cli.on('close', r));
    const ps = JSON.parse(e.ok('ps', '--json'));
    assert.equal(ps.find((p: any) => p.Name === name)?.State, 'running', 'the container outlives its CLI');
    process.kill(j.State.Pid, 'SIGKILL');
    for (let i = 0; i < 100 && JSON.parse(e.ok('ps', '-a', '--json')).find((p: any) => p.Name === name)?.State !== 'exited'; i++) {
      await new Promise((r) => setTimeout(r, 50));
    }
    const after = JSON.parse(e.ok('ps', '-a', '--json')).find((p: any) => p.Name === name);
    assert.equal(after.State, 'exited');
    assert.equal(after.ExitCode, 137);
    e.ok('rm', name);
    assert.deepEqual(leftovers(e.root, j.Id), []);
  });
});

function spawnWait(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}
