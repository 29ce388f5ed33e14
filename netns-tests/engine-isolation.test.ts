// Containers are confined as Docker confines them by default (capabilities, no_new_privs, seccomp, masked and
// read-only /proc paths, a minimal /dev with a device allow-list, a cgroup namespace, no inherited fds), and
// --privileged, --cap-add, --cap-drop and --security-opt change that as they say. Everything runs in a
// namespace that plays the host (the engine's CLI entered into it with nsenter); what a container could break
// is only ever that namespace, and the one host-wide file written (a sysctl) gets its own value back.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, openSync, readdirSync, readFileSync, readlinkSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { EngineFixture } from '../engine/testing/cli.js';
import { ipj, needsRoot, world } from './harness.js';

const DOCKER_CAPS = '00000000a80425fb';
const devicesV1 = existsSync('/sys/fs/cgroup/devices/devices.list');

/** key=value lines of a container's output. */
function kv(out: string): Record<string, string> {
  const m: Record<string, string> = {};
  for (const line of out.split('\n')) {
    const i = line.indexOf('=');
    if (i > 0) m[line.slice(0, i)] = line.slice(i + 1).trim();
  }
  return m;
}

/** A shell line that prints `name=ok` when CMD succeeds and `name=refused` when it fails. */
const attempt = (name: string, cmd: string) => `if (${cmd}) 2>/dev/null; then echo ${name}=ok; else echo ${name}=refused; fi`;
/** Prints CapEff=…, NoNewPrivs=…, Seccomp=… (and the other capability sets) of the shell itself. */
const STATUS = `sed -n -E 's/^(CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs|Seccomp):\\s*/\\1=/p' /proc/self/status`;

function status(pid: number | 'self'): Record<string, string> {
  return kv(readFileSync(`/proc/${pid}/status`, 'utf8').replace(/^(\w+):\s*/gm, '$1='));
}

test('containers are isolated as Docker isolates them by default', { skip: needsRoot }, async (t: TestContext) => {
  const w = world(t);
  const host = w.netns('isohost');
  const e = new EngineFixture(w.tmpdir(), host);
  w.defer(() => e.removeAll());
  e.ok('image', 'from-host', 'img', '--bin', 'sh,ip,ping,cat,ls,grep,sed,mount,mkdir,mknod,stat,wc,tr,readlink,sleep,tail,true');

  await t.test('a default container: Docker capabilities, no_new_privs, seccomp; the host cannot be changed from it', () => {
    // An fd the engine's caller left open (not close-on-exec) must not reach the container.
    const leak = openSync('/etc/hostname', 'r');
    const script = [
      STATUS,
      // a host-wide sysctl: refused; were it not, the value written is the one it has
      ...['/proc/sys/vm/stat_interval', '/proc/sys/kernel/core_pattern'].map((f) =>
        attempt(`write${f}`, `v=$(cat ${f}) && printf '%s\\n' "$v" > ${f}`),
      ),
      'mkdir -p /tmp/m /tmp/cg',
      attempt('tmpfs', 'mount -t tmpfs none /tmp/m'),
      attempt('cgroupfs', 'mount -t cgroup -o pids none /tmp/cg'),
      attempt('linkadd', 'ip link add tsiso0 type bridge'),
      // masked: /dev/null (1:3) over files, an empty tmpfs over directories
      'for f in /proc/kcore /proc/keys /proc/timer_list /proc/sched_debug /proc/interrupts; do [ -e $f ] && echo "mask$f=$(stat -c %t:%T $f)"; done',
      'for d in /proc/acpi /sys/firmware; do [ -e $d ] && echo "mask$d=$(ls -A $d | wc -l)"; done',
      'echo "dev=$(ls /dev | tr "\\n" " ")"',
      'echo "cgroup=$(tr "\\n" " " < /proc/self/cgroup)"',
      'echo "sysfscgroup=$(ls -A /sys/fs/cgroup | wc -l)"',
      // the device allow-list: kmsg may be made (mknod) but not opened; a second null may
      'mknod /tmp/kmsg c 1 11; mknod /tmp/null2 c 1 3',
      attempt('kmsg', ': > /tmp/kmsg'),
      attempt('null2', ': > /tmp/null2'),
      'echo fds:; ls /proc/1/fd /proc/$$/fd',
      'echo mountinfo:; cat /proc/self/mountinfo',
    ].join('\n');
    const [cmd, argv] = e.argv('run', '--rm', '--net', 'none', 'img', 'sh', '-c', script);
    const r = spawnSync(cmd, argv, {
      env: e.env(),
      encoding: 'utf8',
      timeout: 60_000,
      stdio: ['ignore', 'pipe', 'pipe', ...Array(97).fill('ignore'), leak],
    });
    closeSync(leak);
    assert.equal(r.status, 0, r.stderr);
    const o = kv(r.stdout);
    assert.equal(o.CapEff, DOCKER_CAPS);
    assert.equal(o.CapPrm, DOCKER_CAPS);
    assert.equal(o.CapBnd, DOCKER_CAPS);
    assert.equal(o.CapInh, '0000000000000000');
    assert.equal(o.CapAmb, '0000000000000000');
    assert.equal(o.NoNewPrivs, '1');
    assert.equal(o.Seccomp, '2');
    assert.equal(o['write/proc/sys/vm/stat_interval'], 'refused');
    assert.equal(o['write/proc/sys/kernel/core_pattern'], 'refused');
    assert.equal(o.tmpfs, 'refused');
    assert.equal(o.cgroupfs, 'refused');
    assert.equal(o.linkadd, 'refused');
    const masked = ['/proc/kcore', '/proc/keys', '/proc/timer_list', '/proc/sched_debug', '/proc/interrupts'].filter((f) => existsSync(f));
    assert.ok(masked.length, 'at least one of the masked files exists on this kernel');
    for (const f of masked) assert.equal(o[`mask${f}`], '1:3', `${f} is /dev/null inside`);
    for (const d of ['/proc/acpi', '/sys/firmware']) if (existsSync(d)) assert.equal(o[`mask${d}`], '0', `${d} is empty inside`);
    assert.deepEqual(o.dev.split(' ').sort(), 'fd full mqueue null ptmx pts random shm stderr stdin stdout tty urandom zero'.split(' '));
    assert.ok(
      o.cgroup.split(' ').every((l) => l.endsWith(':/')),
      `its own cgroup is the root of what it sees: ${o.cgroup}`,
    );
    assert.equal(o.sysfscgroup, '0', "the host's cgroup hierarchies are not under its /sys");
    assert.equal(o.null2, 'ok');
    if (devicesV1) assert.equal(o.kmsg, 'refused', 'a device off the allow-list cannot be opened');
    // pid 1 (tsnet-init) and the command hold 0, 1, 2 and nothing else
    const fds = r.stdout.split('fds:\n')[1]!.split('mountinfo:')[0]!;
    assert.match(fds, /^\/proc\/1\/fd:\n0\n1\n2\n\n\/proc\/\d+\/fd:\n0\n1\n2\n$/);
    // /proc/sys and the other read-only paths are read-only mounts
    const mounts = new Map(
      r.stdout
        .split('mountinfo:\n')[1]!
        .split('\n')
        .filter(Boolean)
        .map((l) => [l.split(' ')[4]!, l.split(' ')[5]!.split(',')]),
    );
    for (const p of ['/proc/sys', '/proc/sysrq-trigger', '/proc/irq', '/proc/bus', '/proc/fs'])
      if (existsSync(p)) assert.ok(mounts.get(p)?.includes('ro'), `${p} read-only: ${mounts.get(p)}`);
  });

  await t.test('pid 1 and `tsnet exec` run as confined as the command; the container stays in its cgroups', () => {
    const name = `conf-${w.id}`;
    e.ok('run', '-d', '--name', name, '--net', 'none', '--pids-limit', '40', 'img', 'sleep', '60');
    const j = e.inspect(name);
    const pid1 = status(j.State.Pid);
    assert.equal(pid1.CapEff, DOCKER_CAPS);
    assert.equal(pid1.CapBnd, DOCKER_CAPS);
    assert.equal(pid1.NoNewPrivs, '1');
    assert.equal(pid1.Seccomp, '2');
    assert.deepEqual(readdirSync(`/proc/${j.State.Pid}/fd`).sort(), ['0', '1', '2']);
    const x = kv(e.ok('exec', name, 'sh', '-c', `${STATUS}; echo "cgroup=$(tr "\\n" " " < /proc/self/cgroup)"`));
    assert.equal(x.CapEff, DOCKER_CAPS);
    assert.equal(x.NoNewPrivs, '1');
    assert.equal(x.Seccomp, '2');
    assert.ok(
      x.cgroup.split(' ').every((l) => l.endsWith(':/')),
      x.cgroup,
    );
    for (const dir of j.HostConfig.CgroupDirs as string[]) assert.ok(readFileSync(join(dir, 'cgroup.procs'), 'utf8').trim(), dir);
    e.ok('rm', '-f', name);
  });

  await t.test("--net host: the host's network namespace, but no NET_ADMIN in it; the host's links unchanged", () => {
    const links = () => ipj(host, 'link', 'show').map((l: any) => `${l.ifname} ${l.mtu} ${l.flags.join(',')}`);
    const before = links();
    const o = kv(
      e.ok(
        'run',
        '--rm',
        '--net',
        'host',
        'img',
        'sh',
        '-c',
        [
          'echo "netns=$(readlink /proc/self/ns/net)"',
          STATUS,
          attempt('linkadd', 'ip link add tsiso0 type bridge'),
          attempt('mtu', 'ip link set lo mtu 1280'),
          attempt('up', 'ip link set lo up'),
          'echo "sysnet=$(ls /sys/class/net | tr "\\n" " ")"',
          'echo "sysfscgroup=$(ls -A /sys/fs/cgroup | wc -l)"',
        ].join('\n'),
      ),
    );
    assert.equal(o.netns, `net:[${statSync(`/run/netns/${host}`).ino}]`, 'it is the namespace that plays the host');
    assert.equal(o.CapEff, DOCKER_CAPS);
    assert.equal(o.linkadd, 'refused');
    assert.equal(o.mtu, 'refused');
    assert.equal(o.up, 'refused');
    assert.deepEqual(links(), before);
    assert.equal(o.sysnet, 'lo', "its /sys shows the host namespace's links");
    assert.equal(o.sysfscgroup, '0', "the host's cgroup hierarchies are not under its /sys");
  });

  await t.test('--cap-add NET_ADMIN (and --cap-drop NET_RAW) do what they say', () => {
    const link = `tsia${w.id}`;
    const o = kv(
      e.ok(
        'run',
        '--rm',
        '--net',
        'host',
        '--cap-add',
        'NET_ADMIN',
        '--cap-drop',
        'net_raw',
        'img',
        'sh',
        '-c',
        `${STATUS}\n${attempt('linkadd', `ip link add ${link} type bridge`)}`,
      ),
    );
    assert.equal(o.CapEff, '00000000a80415fb');
    assert.equal(o.Seccomp, '2');
    assert.equal(o.linkadd, 'ok');
    assert.equal(ipj(host, 'link', 'show', link)[0]?.ifname, link, 'made in the host namespace');
  });

  await t.test('--privileged: every capability, no filter, no no_new_privs, mounts and devices allowed, nothing masked', () => {
    const o = kv(
      e.ok(
        'run',
        '--rm',
        '--privileged',
        '--net',
        'none',
        'img',
        'sh',
        '-c',
        [
          STATUS,
          'mkdir -p /tmp/m',
          attempt('tmpfs', 'mount -t tmpfs none /tmp/m'),
          attempt('linkadd', 'ip link add tsiso0 type bridge'),
          'mknod /tmp/kmsg c 1 11',
          attempt('kmsg', ': > /tmp/kmsg'),
          'echo "mask/proc/keys=$(stat -c %t:%T /proc/keys)"',
        ].join('\n'),
      ),
    );
    assert.equal(o.CapEff, status('self').CapEff, 'the capabilities the engine has');
    assert.equal(o.NoNewPrivs, '0');
    assert.equal(o.Seccomp, '0');
    assert.equal(o.tmpfs, 'ok');
    assert.equal(o.linkadd, 'ok');
    assert.equal(o.kmsg, 'ok');
    assert.equal(o['mask/proc/keys'], '0:0');
  });

  await t.test('a compiled filter is kept, and a damaged one is compiled again', () => {
    const cache = join(e.root, 'cache', 'seccomp');
    const files = readdirSync(cache);
    assert.ok(files.length && files.every((f) => /^[0-9a-f]{16}\.bpf$/.test(f)), `filters compiled by the containers so far: ${files}`);
    const good = new Map(files.map((f) => [f, readFileSync(join(cache, f))]));
    for (const [f, b] of good) writeFileSync(join(cache, f), Buffer.alloc(b.length, 0x15));
    assert.equal(kv(e.ok('run', '--rm', '--net', 'none', 'img', 'sh', '-c', STATUS)).Seccomp, '2');
    assert.ok(
      files.some((f) => readFileSync(join(cache, f)).equals(good.get(f)!)),
      "the default profile's filter, compiled again in its place",
    );
  });

  await t.test('--security-opt seccomp=unconfined and seccomp=FILE (a Docker-format profile)', () => {
    const u = kv(e.ok('run', '--rm', '--net', 'none', '--security-opt', 'seccomp=unconfined', 'img', 'sh', '-c', STATUS));
    assert.equal(u.Seccomp, '0');
    assert.equal(u.NoNewPrivs, '1');
    assert.equal(u.CapEff, DOCKER_CAPS);
    const file = join(w.tmpdir(), 'no-mkdir.json');
    const profile = {
      defaultAction: 'SCMP_ACT_ALLOW',
      syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: 13 }],
    };
    writeFileSync(file, JSON.stringify(profile));
    const r = e.tsnet('run', '--rm', '--net', 'none', '--security-opt', `seccomp=${file}`, 'img', 'sh', '-c', `${STATUS}; mkdir /tmp/x`);
    assert.notEqual(r.status, 0);
    assert.equal(kv(r.stdout).Seccomp, '2');
    assert.match(r.stderr, /Permission denied/, 'the profile answered mkdir with EACCES');
    writeFileSync(file, JSON.stringify({ ...profile, defaultAction: 'SCMP_ACT_NOTIFY' }));
    const bad = e.tsnet('run', '--rm', '--net', 'none', '--security-opt', `seccomp=${file}`, 'img', 'true');
    assert.equal(bad.status, 125);
    assert.match(bad.stderr, /seccomp=.*no-mkdir\.json: defaultAction: action "SCMP_ACT_NOTIFY" is not supported/);
  });

  await t.test('limits still hold: a memory hog is OOM-killed, a fork bomb under --pids-limit 50 stays bounded', async () => {
    const oom = `oom-${w.id}`;
    const r = e.tsnet('run', '--name', oom, '--net', 'none', '--memory', '32m', 'img', 'tail', '/dev/zero');
    assert.equal(r.status, 137, r.stderr);
    assert.equal(e.inspect(oom).State.OOMKilled, true);
    e.ok('rm', oom);

    const bomb = `bomb-${w.id}`;
    e.ok(
      'run',
      '-d',
      '--name',
      bomb,
      '--net',
      'none',
      '--pids-limit',
      '50',
      'img',
      'sh',
      '-c',
      'sleep 60 & b() { b & b; }; (b) 2>/dev/null; wait',
    );
    const j = e.inspect(bomb);
    const pids = (j.HostConfig.CgroupDirs as string[]).find((d) => existsSync(join(d, 'pids.max')))!;
    const hits = () => Number(/max (\d+)/.exec(readFileSync(join(pids, 'pids.events'), 'utf8'))?.[1] ?? 0);
    for (let i = 0; i < 300 && hits() === 0; i++) await new Promise((res) => setTimeout(res, 50));
    assert.ok(hits() > 0, 'the bomb reached the limit');
    const pidns = readlinkSync(`/proc/${j.State.Pid}/ns/pid`);
    /** The container's pids cgroup as the host sees it from /proc/PID/cgroup, or undefined once the process is gone. */
    const pidsCgroup = (p: string) => {
      try {
        const text = readFileSync(`/proc/${p}/cgroup`, 'utf8');
        return (/^\d+:pids:(.*)$/m.exec(text) ?? /^0::(.*)$/m.exec(text))?.[1] ?? '';
      } catch {
        return undefined;
      }
    };
    for (let round = 0; round < 5; round++) {
      const current = Number(readFileSync(join(pids, 'pids.current'), 'utf8'));
      assert.ok(current <= 50, `pids.current ${current}`);
      // every process of the container's pid namespace is in the container's pids cgroup (a process forked
      // this instant is attached a moment after it appears in /proc: looked at again before it counts)
      for (const p of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
        let ns: string;
        try {
          ns = readlinkSync(`/proc/${p}/ns/pid`);
        } catch {
          continue; // gone
        }
        if (ns !== pidns) continue;
        let cg = pidsCgroup(p);
        for (let i = 0; i < 20 && cg !== undefined && !cg.includes(j.Id); i++) {
          await new Promise((res) => setTimeout(res, 5));
          cg = pidsCgroup(p);
        }
        assert.ok(cg === undefined || cg.includes(j.Id), `pid ${p} is in pids cgroup ${cg}`);
      }
      await new Promise((res) => setTimeout(res, 100));
    }
    e.ok('rm', '-f', bomb);
  });

  await t.test("the engine's own network setup (from outside the container) is unaffected", () => {
    const net = `iso${w.id}`;
    const bridge = `tbi${w.id}`;
    e.ok('network', 'create', net, '--subnet', '10.87.0.0/24', '--bridge', bridge, '--no-masquerade');
    const out = e.ok(
      'run',
      '--rm',
      '--net',
      net,
      'img',
      'sh',
      '-c',
      'ip -4 -o addr show eth0; ping -c 1 -W 2 10.87.0.1 >/dev/null && echo ping=ok',
    );
    assert.match(out, /inet 10\.87\.0\.\d+\/24/);
    assert.match(out, /ping=ok/);
    assert.deepEqual(ipj(host, 'link', 'show', 'master', bridge), [], 'its veth is gone');
    e.ok('network', 'rm', net);
  });
});
