// Unit tests for the engine's pure parts: option parsing, config encoding, ldd output, mountinfo, etc files.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TsnetError } from '../common/errors.js';
import { formatError } from './cli/format-error.js';
import { newId, shortId, validateName } from './ids.js';
import { normalizeImageName, validateImageName } from './images/store.js';
import { parseLdd } from './images/from-host.js';
import { parseNetMode, formatNetMode } from './network/modes.js';
import { parsePort, formatPort } from './network/ports.js';
import { cpuMax, parseSize, v1Mounts } from './runtime/cgroups.js';
import { encodeInitConfig } from './runtime/init-config.js';
import { hostsFile, resolvConf } from './containers/etc-files.js';
import { parseLimits } from './cli/options.js';
import { statusText } from './containers/ps.js';
import type { Attachment } from './network/driver.js';

test('ids: 64 hex, short 12, names validated', () => {
  const id = newId();
  assert.match(id, /^[0-9a-f]{64}$/);
  assert.equal(shortId(id), id.slice(0, 12));
  assert.equal(validateName('web_1.a-b'), 'web_1.a-b');
  assert.throws(() => validateName('-bad'), TsnetError);
  assert.throws(() => validateName('a/b'), TsnetError);
});

test('errors print as tsnet: thing: reason (fix)', () => {
  assert.equal(formatError(new TsnetError('container x', 'not found', "see 'tsnet ps -a'")), "tsnet: container x: not found (see 'tsnet ps -a')");
});

test('image names default to :latest', () => {
  assert.equal(normalizeImageName('busybox'), 'busybox:latest');
  assert.equal(normalizeImageName('busybox:1.36'), 'busybox:1.36');
  assert.equal(normalizeImageName('localhost:5000/x'), 'localhost:5000/x:latest');
  assert.throws(() => validateImageName('Bad Name'), TsnetError);
});

test('--net modes', () => {
  assert.deepEqual(parseNetMode(undefined), { kind: 'bridge' });
  assert.deepEqual(parseNetMode('host'), { kind: 'host' });
  assert.deepEqual(parseNetMode('none'), { kind: 'none' });
  assert.deepEqual(parseNetMode('container:web'), { kind: 'container', ref: 'web' });
  assert.deepEqual(parseNetMode('attach:br0:10.1.0.5/24@10.1.0.1'), { kind: 'attach', spec: 'br0:10.1.0.5/24@10.1.0.1' });
  assert.deepEqual(parseNetMode('mynet'), { kind: 'network', name: 'mynet' });
  assert.throws(() => parseNetMode('container:'), TsnetError);
  assert.throws(() => parseNetMode('bad net'), TsnetError);
  for (const s of ['host', 'none', 'bridge', 'container:a', 'mynet']) assert.equal(formatNetMode(parseNetMode(s)), s);
});

test('-p parsing', () => {
  assert.deepEqual(parsePort('8080:80'), { hostPort: 8080, containerPort: 80, protocol: 'tcp' });
  assert.deepEqual(parsePort('53:53/udp'), { hostPort: 53, containerPort: 53, protocol: 'udp' });
  assert.deepEqual(parsePort('127.0.0.1:8080:80'), { hostIp: '127.0.0.1', hostPort: 8080, containerPort: 80, protocol: 'tcp' });
  assert.equal(formatPort(parsePort('8080:80')), '0.0.0.0:8080->80/tcp');
  for (const bad of ['80', '0:80', '8080:70000', '8080:80/sctp', 'x:80', '1.2.3:1:2']) assert.throws(() => parsePort(bad), TsnetError, bad);
});

test('sizes and cpu limits', () => {
  assert.equal(parseSize('32m'), 32 * 1024 * 1024);
  assert.equal(parseSize('1g'), 1024 ** 3);
  assert.equal(parseSize('64MB'), 64 * 1024 * 1024);
  assert.equal(parseSize('7340032'), 7340032);
  assert.throws(() => parseSize('1k'), /6 MiB/);
  assert.throws(() => parseSize('lots'), TsnetError);
  assert.equal(cpuMax(0.5), '50000 100000');
  assert.equal(cpuMax(2), '200000 100000');
  assert.throws(() => cpuMax(0), TsnetError);
  assert.deepEqual(parseLimits({ memory: '64m', cpus: '1.5', pidsLimit: '20' }), { memory: 64 * 1024 * 1024, cpus: 1.5, pidsLimit: 20 });
  assert.throws(() => parseLimits({ pidsLimit: '0' }), TsnetError);
  assert.throws(() => parseLimits({ cpus: '-1' }), TsnetError);
});

test('v1 cgroup mounts from mountinfo, co-mounted controllers included', () => {
  const mi = [
    '30 25 0:26 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid - cgroup cgroup rw,cpu,cpuacct',
    '31 25 0:27 / /sys/fs/cgroup/memory rw,nosuid - cgroup cgroup rw,memory',
    '32 25 0:28 / /sys/fs/cgroup/pids rw,nosuid - cgroup cgroup rw,pids',
    '33 25 0:29 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw',
  ].join('\n');
  assert.deepEqual(v1Mounts(mi), { cpu: '/sys/fs/cgroup/cpu,cpuacct', memory: '/sys/fs/cgroup/memory', pids: '/sys/fs/cgroup/pids' });
});

test('init config: repeated keys keep order, newlines and backslashes are escaped', () => {
  const s = encodeInitConfig({ rootfs: '/r', lower: ['/top', '/bottom'], lo_up: 1, netns: undefined, arg: ['sh', '-c', 'echo a\nb\\c'] });
  assert.equal(s, '# tsnet-init config, written by the engine\nrootfs=/r\nlower=/top\nlower=/bottom\nlo_up=1\narg=sh\narg=-c\narg=echo a\\nb\\\\c\n');
});

test('ldd output parsing', () => {
  const out = '\tlinux-vdso.so.1 (0x00007ffd)\n\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f)\n\t/lib64/ld-linux-x86-64.so.2 (0x00007f)\n\tlibmissing.so => not found\n';
  assert.deepEqual(parseLdd(out), ['/lib/x86_64-linux-gnu/libc.so.6', '/lib64/ld-linux-x86-64.so.2']);
  assert.deepEqual(parseLdd('\tnot a dynamic executable\n'), []);
});

test('/etc/hosts and resolv.conf', () => {
  const att: Attachment = { netnsPath: '/run/netns/x', ownsNetns: true, loUp: true, ports: [], networks: { bridge: { ip: '172.17.0.2', prefixLen: 16, gateway: '172.17.0.1', mac: '02:42:ac:11:00:02', iface: 'eth0' } } };
  assert.match(hostsFile('web', att), /^172\.17\.0\.2\tweb$/m);
  assert.match(hostsFile('web', { ...att, networks: {} }), /^127\.0\.1\.1\tweb$/m);
  assert.equal(resolvConf(att, 'nameserver 127.0.0.53\nsearch lan\n'), 'search lan\nnameserver 8.8.8.8\nnameserver 8.8.4.4\n');
  assert.equal(resolvConf(att, 'nameserver 10.0.0.1\n'), 'nameserver 10.0.0.1\n');
  assert.equal(resolvConf({ ...att, netnsPath: 'host' }, 'nameserver 127.0.0.53\n'), 'nameserver 127.0.0.53\n');
  assert.equal(resolvConf({ ...att, dns: { nameservers: ['1.1.1.1'], search: ['a'] } }, ''), 'nameserver 1.1.1.1\nsearch a\n');
});

test('ps status text', () => {
  const base = { config: { id: 'a'.repeat(64), name: 'n', image: 'i', imageId: 'x', created: '', cmd: ['sh'], env: [], workdir: '/', hostname: 'h', net: 'none', ports: [], limits: {}, autoRemove: false, detached: true } };
  const now = Date.parse('2024-01-01T00:01:00Z');
  assert.equal(statusText({ ...base, state: { status: 'exited', exitCode: 137, oomKilled: true, finishedAt: '2024-01-01T00:00:00Z' } }, now), 'Exited (137) 1 minutes ago (OOM killed)');
  assert.equal(statusText({ ...base, state: { status: 'running', startedAt: '2024-01-01T00:00:30Z' } }, now), 'Up 30 seconds');
});
