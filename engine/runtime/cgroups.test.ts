import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TsnetError } from '../../common/errors.js';
import { cpuMax, parseSize, v1Mounts } from './cgroups.js';

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
});

test('v1 cgroup mounts from mountinfo, co-mounted controllers included', () => {
  const mi = [
    '30 25 0:26 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid - cgroup cgroup rw,cpu,cpuacct',
    '31 25 0:27 / /sys/fs/cgroup/memory rw,nosuid - cgroup cgroup rw,memory',
    '32 25 0:28 / /sys/fs/cgroup/pids rw,nosuid - cgroup cgroup rw,pids',
    '33 25 0:29 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw',
    '34 25 0:30 / /sys/fs/cgroup/devices rw,nosuid - cgroup cgroup rw,devices',
  ].join('\n');
  assert.deepEqual(v1Mounts(mi), {
    cpu: '/sys/fs/cgroup/cpu,cpuacct',
    memory: '/sys/fs/cgroup/memory',
    pids: '/sys/fs/cgroup/pids',
    devices: '/sys/fs/cgroup/devices',
  });
});
