// Guests as pipework names them: an LXC container by name (its cgroup: lxc.payload.NAME) and a Docker container by
// name or id (Docker's API socket: GET /containers/NAME/json → State.Pid). Docker is the real dockerd (Debian's
// docker.io) in a namespace that plays the host, with its own data root, exec root and socket; LXC is not
// installed here, so its container is a process the test puts in a real cgroup named as LXC names it. The CLI
// runs with nsenter --net (not `ip netns exec`, whose fresh /sys hides the cgroup mounts).
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, it } from 'node:test';
import { CLI, cliRoot } from './attach-cli.js';
import { ip, ipj, killAtEnd, needsRoot, until, world, type World } from './harness.js';
import { noDocker, startDockerd } from './dockerd.js';
import { cgroupMounts } from '../plugins/shared/foreign-guests.js';

/** `tsnet ARGS` in the host namespace `host` (network only: the mount namespace, with its cgroups, stays). */
function tsnet(host: string, env: NodeJS.ProcessEnv, ...args: string[]) {
  const r = spawnSync('nsenter', [`--net=/run/netns/${host}`, process.execPath, CLI, ...args], {
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...process.env, TSNET_ROOT: cliRoot(), ...env },
  });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** A process in netns `ns` (the test's), killed at the end. */
function sleeper(w: World, ns: string): ChildProcess {
  const p = spawn('ip', ['netns', 'exec', ns, 'sleep', '1000'], { stdio: 'ignore' });
  killAtEnd(w, p);
  return p;
}

describe('guests named as pipework names them', { skip: needsRoot }, () => {
  it('an LXC container by name: the first task of its cgroup lxc.payload.NAME', async (t) => {
    const w = world(t);
    const h = w.netns('ghost');
    const c = w.netns('gctr');
    const mount = cgroupMounts()[0];
    if (!mount) return t.skip('no cgroup hierarchy is mounted');
    const name = `lxc${w.id}`;
    // The cgroup first, so that its removal runs after the process is gone (cleanups run in reverse).
    const cg = join(mount, `lxc.payload.${name}`);
    mkdirSync(cg);
    w.defer(async () => {
      for (let i = 0; i < 50; i++) {
        try {
          return rmdirSync(cg); // empty once its process is gone
        } catch {
          await sleep(100);
        }
      }
      throw new Error(`could not remove ${cg}`);
    });
    const p = sleeper(w, c);
    await until('the guest process to be in its netns', () => {
      try {
        return readFileSync(`/proc/${p.pid}/cmdline`, 'utf8').startsWith('sleep');
      } catch {
        return false;
      }
    });
    writeFileSync(join(cg, 'cgroup.procs'), String(p.pid));

    const r = tsnet(h, {}, 'attach', 'br0', name, '10.74.0.5/24');
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`in LXC container ${name} `));
    assert.deepEqual(
      ipj(c, '-4', 'addr', 'show', 'dev', 'eth1')[0].addr_info.map((a: any) => `${a.local}/${a.prefixlen}`),
      ['10.74.0.5/24'],
      "the address is in the guest's netns",
    );
    const d = tsnet(h, {}, 'detach', name);
    assert.equal(d.status, 0, d.stderr);
    assert.ok(!ipj(c, 'link', 'show').some((l: any) => l.ifname === 'eth1'));
  });

  it(
    'a Docker container by name or id through its API socket; a stopped one and a Docker that is not running are named',
    { skip: noDocker },
    async (t) => {
      const w = world(t);
      const h = w.netns('ghost');
      ip(h, 'link', 'add', 'br0', 'type', 'bridge');
      ip(h, 'link', 'set', 'br0', 'up');
      const dir = w.tmpdir();

      // Not running: nothing answers on the socket DOCKER_HOST names.
      const down = tsnet(h, { DOCKER_HOST: `unix://${dir}/none.sock` }, 'attach', 'br0', `dk${w.id}`, '10.75.0.5/24');
      assert.notEqual(down.status, 0);
      assert.match(
        down.stderr,
        /no LXC container by that name, and Docker could not be asked: Docker is not running \(no socket at .*none\.sock\)/,
      );
      assert.match(down.stderr, /start Docker/);

      const dk = await startDockerd(w, h, ['--bridge=none', '--iptables=false']);
      const env = { DOCKER_HOST: `unix://${dk.sock}` };
      const ok = dk.ok;
      dk.importBusybox('tsnet-bb', ['sh', 'ip', 'sleep', 'cat']);
      const name = `dk${w.id}`;
      const id = ok('run', '-d', '--name', name, '--network', 'none', 'tsnet-bb', 'sleep', '1000').trim();

      const r = tsnet(h, env, 'attach', 'br0', name, '10.75.0.5/24');
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, new RegExp(`in docker container ${name} `));
      assert.match(
        ok('exec', name, 'ip', '-4', '-o', 'addr', 'show', 'dev', 'eth1'),
        /inet 10\.75\.0\.5\/24/,
        'the container sees its address',
      );
      const byId = tsnet(h, env, 'attach', '-i', 'eth2', 'br0', id.slice(0, 12), '10.75.1.5/24');
      assert.equal(byId.status, 0, byId.stderr);
      assert.match(ok('exec', name, 'ip', '-4', '-o', 'addr', 'show', 'dev', 'eth2'), /inet 10\.75\.1\.5\/24/, 'by id prefix too');
      // A lease's DNS servers go to the Docker container's own resolv.conf (its ResolvConfPath), not the host's.
      const srv = w.netns('gsrv');
      ip(h, 'link', 'add', 'vsrv', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', srv);
      ip(h, 'link', 'set', 'vsrv', 'master', 'br0', 'up');
      ip(srv, 'addr', 'add', '192.168.122.1/24', 'dev', 'eth0');
      ip(srv, 'link', 'set', 'eth0', 'up');
      writeFileSync(
        join(dir, 'udhcpd.conf'),
        `start 192.168.122.100\nend 192.168.122.110\ninterface eth0\nlease_file ${dir}/leases\npidfile ${dir}/udhcpd.pid\n` +
          'option subnet 255.255.255.0\noption router 192.168.122.1\noption dns 192.168.122.53\noption lease 600\n',
      );
      writeFileSync(join(dir, 'leases'), '');
      const udhcpd = spawn('ip', ['netns', 'exec', srv, '/bin/busybox', 'udhcpd', '-f', join(dir, 'udhcpd.conf')], { stdio: 'ignore' });
      w.defer(() => void udhcpd.kill('SIGKILL'));
      const hostResolv = readFileSync('/etc/resolv.conf', 'utf8');
      const lease = tsnet(h, env, 'attach', '--json', '-i', 'eth3', 'br0', name, 'udhcpc');
      assert.equal(lease.status, 0, lease.stderr);
      const keeper = (JSON.parse(lease.stdout) as { keeper: { pid: number } }).keeper.pid;
      w.defer(() => {
        try {
          process.kill(-keeper, 'SIGKILL');
        } catch {
          /* gone */
        }
      });
      assert.equal(ok('exec', name, 'cat', '/etc/resolv.conf'), 'nameserver 192.168.122.53\n');
      assert.equal(readFileSync('/etc/resolv.conf', 'utf8'), hostResolv, "the host's resolv.conf is unchanged");
      for (const ifname of ['eth1', 'eth2', 'eth3']) {
        const d = tsnet(h, env, 'detach', '-i', ifname, name);
        assert.equal(d.status, 0, d.stderr);
      }
      assert.doesNotMatch(ok('exec', name, 'ip', '-o', 'link'), /eth1|eth2|eth3/);

      ok('stop', '-t', '0', name);
      const stopped = tsnet(h, env, 'attach', 'br0', name, '10.75.0.5/24');
      assert.notEqual(stopped.status, 0);
      assert.match(stopped.stderr, /is a Docker container that is not running \(exited\).*docker start/s);
    },
  );
});
