// Finding pipework's other guests: cgroup mounts from mountinfo, LXC's cgroup layouts, and Docker's API answers
// (a small HTTP server on a unix socket stands in for dockerd here; netns-tests/attach-guests runs the real one).
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { cgroupMounts, dockerContainer, dockerSocket, lxcContainerPid } from './foreign-guests.js';

describe('foreign guests', () => {
  it('reads the cgroup mounts (v1 and v2) from mountinfo', () => {
    const d = mkdtempSync(join(tmpdir(), 'tsnet-fg-'));
    try {
      writeFileSync(
        join(d, 'mountinfo'),
        [
          '25 1 0:23 / /sys rw,nosuid - sysfs sysfs rw',
          '36 25 0:31 / /sys/fs/cgroup/pids rw,relatime shared:9 - cgroup cgroup rw,pids',
          '37 25 0:32 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw',
          '38 25 0:33 / /mnt/with\\040space rw - cgroup cgroup rw,memory',
          '',
        ].join('\n'),
      );
      assert.deepEqual(cgroupMounts(join(d, 'mountinfo')), ['/sys/fs/cgroup/pids', '/sys/fs/cgroup/unified', '/mnt/with space']);
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });

  it("finds an LXC container's first task in each of LXC's cgroup layouts", () => {
    const d = mkdtempSync(join(tmpdir(), 'tsnet-fg-'));
    try {
      mkdirSync(join(d, 'a', 'lxc.payload.web'), { recursive: true });
      writeFileSync(join(d, 'a', 'lxc.payload.web', 'cgroup.procs'), '4242\n4243\n');
      mkdirSync(join(d, 'b', 'lxc', 'db'), { recursive: true });
      writeFileSync(join(d, 'b', 'lxc', 'db', 'tasks'), '77\n');
      mkdirSync(join(d, 'b', 'lxc', 'empty'), { recursive: true });
      writeFileSync(join(d, 'b', 'lxc', 'empty', 'tasks'), '');
      const mounts = [join(d, 'a'), join(d, 'b')];
      assert.deepEqual(lxcContainerPid('web', mounts), { pid: 4242, cgroup: join(d, 'a', 'lxc.payload.web') });
      assert.deepEqual(lxcContainerPid('db', mounts), { pid: 77, cgroup: join(d, 'b', 'lxc', 'db') });
      assert.equal(lxcContainerPid('empty', mounts), undefined, 'a cgroup without a process is no container');
      assert.equal(lxcContainerPid('nosuch', mounts), undefined);
      assert.equal(lxcContainerPid('../a', mounts), undefined);
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });

  it("takes DOCKER_HOST's unix socket, and refuses a TCP one", () => {
    assert.deepEqual(dockerSocket({}), { path: '/var/run/docker.sock' });
    assert.deepEqual(dockerSocket({ DOCKER_HOST: 'unix:///tmp/d.sock' }), { path: '/tmp/d.sock' });
    assert.match(dockerSocket({ DOCKER_HOST: 'tcp://10.0.0.1:2375' }).why!, /not a unix socket/);
  });

  it("asks Docker's API for State.Pid, and says when Docker is not running", async () => {
    const d = mkdtempSync(join(tmpdir(), 'tsnet-fg-'));
    const sock = join(d, 'docker.sock');
    const seen: string[] = [];
    const server = createServer((req, res) => {
      seen.push(req.url!);
      if (req.url === '/containers/web/json') {
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify({ Name: '/web', State: { Pid: 1234, Running: true, Status: 'running' } }));
      } else {
        res.writeHead(404, { 'Content-Type': 'application/json' });
        res.end('{"message":"No such container"}');
      }
    });
    await new Promise<void>((r) => server.listen(sock, r));
    try {
      const env = { DOCKER_HOST: `unix://${sock}` };
      assert.deepEqual(await dockerContainer('web', env), { found: true, pid: 1234, running: true, status: 'running', name: 'web' });
      assert.deepEqual(await dockerContainer('x y', env), { found: false });
      assert.deepEqual(seen, ['/containers/web/json', '/containers/x%20y/json']);
      const none = await dockerContainer('web', { DOCKER_HOST: `unix://${join(d, 'none.sock')}` });
      assert.match((none as { why: string }).why, /Docker is not running \(no socket at .*none\.sock\)/);
    } finally {
      await new Promise((r) => server.close(r));
      rmSync(d, { recursive: true, force: true });
    }
  });
});
