// podman 4.3 (CNI backend) on a conflist of bridge + tsnet-ipam + tsnet-dns, as podman's own networks chain
// `dnsname`: two containers ping each other by name. podman passes the container's name (CNI_ARGS
// K8S_POD_NAME) and writes the nameserver of our result (the network's gateway) into their resolv.conf. When
// the last container is gone, so is the resolver. podman runs inside a namespace that plays the host (nsenter,
// as podman.test.ts), with its storage in a temp dir; the names asked are the containers' own, answered
// locally, so nothing is forwarded.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { OUR_CNI, REF_CNI } from './cni-exec.js';
import { needsRoot, sh, world } from './harness.js';
import { port53Sockets, resolverProcesses } from './dns-world.js';

const podman = ['/usr/bin/podman'].find((p) => existsSync(p));
const skip = needsRoot || (!podman ? 'podman is not installed (apt-get install podman runc)' : false);

describe('podman resolves container names through tsnet-dns', { skip }, () => {
  it('two podman containers on bridge + tsnet-ipam + tsnet-dns ping each other by name', async (t) => {
    const w = world(t);
    const host = w.netns('pmdns');
    sh('ip', '-n', host, 'link', 'set', 'lo', 'up');
    const dir = w.tmpdir();
    const net = `pd${w.id}`;
    const bridge = `tbq${w.id}`;
    const dnsDir = join(dir, 'dns');
    const rootfs = join(dir, 'rootfs');
    mkdirSync(join(rootfs, 'bin'), { recursive: true });
    copyFileSync('/bin/busybox', join(rootfs, 'bin', 'busybox'));
    for (const b of ['sh', 'ip', 'cat', 'sleep', 'ping', 'nslookup']) symlinkSync('busybox', join(rootfs, 'bin', b));
    sh('tar', '-C', rootfs, '-cf', join(dir, 'rootfs.tar'), '.');
    mkdirSync(join(dir, 'net.d'));
    const conflist = {
      cniVersion: '0.4.0', // what podman writes for its own networks
      name: net,
      plugins: [
        { type: 'bridge', bridge, isGateway: true, ipam: { type: 'tsnet-ipam', subnet: '10.93.0.0/24', dataDir: join(dir, 'ipam') } },
        { type: 'tsnet-dns', dataDir: dnsDir, capabilities: { aliases: true } },
      ],
    };
    writeFileSync(join(dir, 'net.d', `${net}.conflist`), JSON.stringify(conflist));
    writeFileSync(
      join(dir, 'containers.conf'),
      [
        '[containers]',
        'default_ulimits = ["nofile=4096:4096", "nproc=4096:4096"]',
        '[network]',
        'network_backend = "cni"',
        `cni_plugin_dirs = ["${OUR_CNI}", "${REF_CNI}"]`,
        `network_config_dir = "${join(dir, 'net.d')}"`,
        '[engine]',
        // Locks and runtime files of its own: podman.test.ts may run podman (and reset it) at the same time.
        `tmp_dir = "${join(dir, 'tmp')}"`,
        'lock_type = "file"',
        'cgroup_manager = "cgroupfs"',
        'events_logger = "file"',
        'runtime = "runc"',
        '',
      ].join('\n'),
    );
    const env = { ...process.env, CONTAINERS_CONF: join(dir, 'containers.conf') };
    const base = ['--root', join(dir, 'storage'), '--runroot', join(dir, 'run'), '--storage-driver', 'vfs'];
    const pm = (...args: string[]) =>
      spawnSync('nsenter', [`--net=/run/netns/${host}`, podman!, ...base, ...args], { env, encoding: 'utf8', timeout: 120_000 });
    w.defer(() => {
      pm('rm', '-af');
      pm('system', 'reset', '--force');
      spawnSync('sh', ['-c', `grep -o ' ${dir}[^ ]*' /proc/self/mountinfo | sort -r | xargs -r -n1 umount -l`]);
      for (const pid of resolverProcesses(dnsDir).keys()) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
    });

    const image = `localhost/tsnet-bb-${w.id}`;
    const imp = pm('import', join(dir, 'rootfs.tar'), image);
    assert.equal(imp.status, 0, imp.stderr);
    for (const name of ['alpha', 'beta']) {
      const r = pm('run', '-d', '--name', name, '--network', net, image, 'sleep', '300');
      assert.equal(r.status, 0, r.stderr);
    }
    // podman wrote our resolver (the gateway) and the domain into the container's resolv.conf.
    const resolv = pm('exec', 'alpha', 'cat', '/etc/resolv.conf');
    assert.equal(resolv.status, 0, resolv.stderr);
    assert.match(resolv.stdout, /^nameserver 10\.93\.0\.1$/m);
    assert.match(resolv.stdout, /dns\.tsnet/);
    for (const [from, to] of [
      ['alpha', 'beta'],
      ['beta', 'alpha'],
    ]) {
      const ping = pm('exec', from!, 'ping', '-c', '1', '-W', '2', to!);
      assert.equal(ping.status, 0, `${from} → ${to}: ${ping.stdout}${ping.stderr}`);
      assert.match(ping.stdout, /PING \w+ \(10\.93\.0\.\d+\)/);
    }
    assert.equal(resolverProcesses(dnsDir).size, 2, 'the resolver runs while the containers do');

    // podman's cleanup runs DEL through tsnet-dns: with the last container, the resolver goes.
    const rm = pm('rm', '-f', 'alpha', 'beta');
    assert.equal(rm.status, 0, rm.stderr);
    const deadline = Date.now() + 20_000;
    while (resolverProcesses(dnsDir).size && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual([...resolverProcesses(dnsDir)], [], 'no resolver process left');
    assert.deepEqual(port53Sockets(host), [], 'no socket on port 53 left');
  });
});
