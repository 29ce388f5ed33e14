// A real orchestrator execs tsnet's plugins: podman 4.3 with its CNI backend, our dist/cni first in its plugin
// path, runs a container that gets its address from our bridge + tsnet-ipam; the same conflist run by our own
// invoker (`tsnet cni add`) gives an address from the same network. podman runs inside a namespace that plays
// the host (entered with nsenter, which keeps /sys and its cgroup mounts), with its storage in a temp dir.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { IpamStore, ipamDir } from '../ipam/store.js';
import { OUR_CNI, REF_CNI, REPO } from './cni-exec.js';
import { ipj, needsRoot, sh, world } from './harness.js';

const podman = ['/usr/bin/podman'].find((p) => existsSync(p));
const skip = needsRoot || (!podman ? 'podman is not installed (apt-get install podman runc)' : false);

async function held(dataDir: string, network: string): Promise<number> {
  const s = new IpamStore(ipamDir(dataDir, network));
  return s.exists() ? (await s.read()).size : 0;
}

describe('podman runs containers on tsnet plugins', { skip }, () => {
  it('podman run gets its address from our bridge + tsnet-ipam, and DEL releases it', async (t) => {
    const w = world(t);
    const host = w.netns('pmhost');
    const dir = w.tmpdir();
    const net = `pm${w.id}`;
    const bridge = `tbp${w.id}`;
    const dataDir = join(dir, 'ipam');
    // A busybox rootfs as an image.
    const rootfs = join(dir, 'rootfs');
    mkdirSync(join(rootfs, 'bin'), { recursive: true });
    copyFileSync('/bin/busybox', join(rootfs, 'bin', 'busybox'));
    for (const b of ['sh', 'ip', 'cat', 'sleep']) symlinkSync('busybox', join(rootfs, 'bin', b));
    sh('tar', '-C', rootfs, '-cf', join(dir, 'rootfs.tar'), '.');
    mkdirSync(join(dir, 'net.d'));
    const conflist = {
      cniVersion: '1.0.0',
      name: net,
      plugins: [{ type: 'bridge', bridge, isGateway: true, ipam: { type: 'tsnet-ipam', subnet: '10.91.0.0/24', dataDir } }],
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
    });

    const imp = pm('import', join(dir, 'rootfs.tar'), `localhost/tsnet-bb-${w.id}`);
    assert.equal(imp.status, 0, imp.stderr);
    const run = pm('run', '--rm', '--network', net, `localhost/tsnet-bb-${w.id}`, 'ip', '-4', 'addr', 'show', 'eth0');
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /inet 10\.91\.0\.2\/24/, 'the address comes from our tsnet-ipam');
    // Our bridge plugin made the bridge, with the gateway on it, in the namespace podman ran in.
    const br = ipj(host, 'addr', 'show', 'dev', bridge)[0];
    assert.ok(br.addr_info.some((a: any) => a.local === '10.91.0.1'));
    // podman's cleanup runs DEL through our plugins: the address is released and the veth gone.
    const deadline = Date.now() + 10_000;
    while ((await held(dataDir, net)) !== 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    assert.equal(await held(dataDir, net), 0, 'podman DEL released the address');
    assert.deepEqual(ipj(host, 'link', 'show', 'master', bridge), []);

    // The same conflist through our invoker.
    const ctr = w.netns('pmctr');
    const cli = join(REPO, 'dist', 'engine', 'cli', 'main.js');
    const add = spawnSync(
      'nsenter',
      [`--net=/run/netns/${host}`, process.execPath, cli, 'cni', 'add', net, `/run/netns/${ctr}`, '--conf-dir', join(dir, 'net.d')],
      {
        env: { ...process.env, TSNET_ROOT: join(dir, 'tsnet'), CNI_PATH: `${OUR_CNI}:${REF_CNI}` },
        encoding: 'utf8',
      },
    );
    assert.equal(add.status, 0, add.stderr);
    const result = JSON.parse(add.stdout);
    assert.match(result.ips[0].address, /^10\.91\.0\.\d+\/24$/);
    assert.ok(ipj(ctr, 'addr', 'show', 'dev', 'eth0')[0].addr_info.some((a: any) => `${a.local}/${a.prefixlen}` === result.ips[0].address));
    const del = spawnSync(
      'nsenter',
      [`--net=/run/netns/${host}`, process.execPath, cli, 'cni', 'del', net, `/run/netns/${ctr}`, '--conf-dir', join(dir, 'net.d')],
      {
        env: { ...process.env, TSNET_ROOT: join(dir, 'tsnet'), CNI_PATH: `${OUR_CNI}:${REF_CNI}` },
        encoding: 'utf8',
      },
    );
    assert.equal(del.status, 0, del.stderr);
    assert.equal(await held(dataDir, net), 0);
  });
});
