// IPAM state that must hold up (issue 13, "State"): subnets with no room for a gateway and a container are
// refused before anything is made (a /31 once handed the bridge's gateway address to a container); a release
// succeeds on a full disk (a DEL once failed with ENOSPC, so the address could not be freed); and state is
// root's alone (files 0600, directories 0700) whatever the umask. The plugins run as a runtime execs them, in a
// namespace that plays the host; the kernel is read with `ip -j`, the files with stat.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { EngineFixture } from '../engine/testing/cli.js';
import { cni, OUR_CNI } from './cni-exec.js';
import { ipj, needsRoot, world, type World } from './harness.js';

const here = dirname(fileURLToPath(import.meta.url));

/** Every IPv4 address on any interface of the given namespaces, as "ns dev addr/len". */
function addresses(...nss: string[]): string[] {
  return nss.flatMap((ns) =>
    ipj(ns, 'addr', 'show').flatMap((l: any) =>
      (l.addr_info ?? [])
        .filter((a: any) => a.family === 'inet' && l.ifname !== 'lo')
        .map((a: any) => `${ns} ${l.ifname} ${a.local}/${a.prefixlen}`),
    ),
  );
}

const veths = (ns: string): string[] => ipj(ns, 'link', 'show', 'type', 'veth').map((l: any) => l.ifname);

/** Octal permission bits of a path. */
const mode = (path: string): string => (statSync(path).mode & 0o777).toString(8).padStart(4, '0');

describe('IPAM subnets too small for a gateway and a container', { skip: needsRoot }, () => {
  for (const subnet of ['10.231.7.6/31', '10.231.7.7/32']) {
    it(`bridge + tsnet-ipam on a ${subnet.slice(-3)}: ADD refused (code 7, the subnet, the fix), no address handed out, no veth left`, (t) => {
      const w = world(t);
      const host = w.netns('host');
      const root = w.tmpdir();
      const ctrs = [w.netns('ctr'), w.netns('ctr')];
      const conf = {
        cniVersion: '1.0.0',
        name: `p2p${w.id}`,
        type: 'bridge',
        bridge: `tbr${w.id}`,
        isGateway: true,
        ipam: { type: 'tsnet-ipam', subnet },
      };
      for (const [i, ctr] of ctrs.entries()) {
        const r = cni({
          hostNs: host,
          plugin: 'bridge',
          command: 'ADD',
          conf,
          netns: `/run/netns/${ctr}`,
          containerId: `c${i}-${w.id}`,
          env: { TSNET_ROOT: root },
        });
        assert.notEqual(r.status, 0, `ADD ${i} must fail; it gave ${r.stdout}; addresses now: ${addresses(host, ...ctrs).join(', ')}`);
        assert.equal(r.json?.code, 7, r.stdout + r.stderr);
        assert.match(
          r.json.msg,
          new RegExp(
            `subnet ${subnet.replace(/[./]/g, '\\$&')} is too small to allocate from: .*no room for both a gateway and a container`,
          ),
        );
        assert.match(r.json.details, /use a \/30 or larger subnet/);
      }
      assert.deepEqual(addresses(host, ...ctrs), [], 'no address on any interface: none handed out twice');
      assert.deepEqual(veths(host), [], 'no veth left on the host');
      for (const ctr of ctrs)
        assert.deepEqual(
          ipj(ctr, 'link', 'show').map((l: any) => l.ifname),
          ['lo'],
          'no eth0 in the container',
        );
      assert.ok(!existsSync(join(root, 'ipam', conf.name, 'journal')), 'nothing was written to the IPAM store');
    });
  }

  it("bridge + the reference static IPAM without a gateway: a /32 or the subnet's first address is refused, not made a gateway", (t) => {
    const w = world(t);
    const host = w.netns('host');
    const ctr = w.netns('ctr');
    for (const [address, why] of [
      ['10.231.8.5/32', /subnet 10\.231\.8\.5\/32 has no address left for one/],
      ['10.231.8.1/31', /subnet 10\.231\.8\.0\/31 has no address left for one/],
      ['10.231.9.1/24', /the gateway the bridge would take \(10\.231\.9\.1\) is that very address/],
    ] as const) {
      const conf = {
        cniVersion: '1.0.0',
        name: `st${w.id}`,
        type: 'bridge',
        bridge: `tbr${w.id}`,
        isGateway: true,
        isDefaultGateway: true,
        ipam: { type: 'static', addresses: [{ address }] },
      };
      const r = cni({ hostNs: host, plugin: 'bridge', command: 'ADD', conf, netns: `/run/netns/${ctr}`, containerId: `s-${w.id}` });
      assert.notEqual(r.status, 0, `ADD with ${address} must fail; it gave ${r.stdout}`);
      assert.equal(r.json?.code, 7, r.stdout + r.stderr);
      assert.match(r.json.msg, new RegExp(`IPAM gave ${address.replace(/[./]/g, '\\$&')} without a gateway`));
      assert.match(r.json.msg, why);
      assert.match(r.json.details, /or have the IPAM plugin return a "gateway"/);
      assert.deepEqual(addresses(host, ctr), [], `${address}: no address on the bridge or in the container`);
      assert.deepEqual(veths(host), [], `${address}: no veth left on the host`);
    }
  });
});

describe('IPAM on a full disk', { skip: needsRoot }, () => {
  it('every DEL releases its address while the disk is full; an ADD is refused with code 5 and a fix; space back, the address is free', (t) => {
    const w = world(t);
    const dir = w.tmpdir();
    // A private mount namespace whose tmpfs covers `dir`: the mount ends with the child, whatever happens.
    const r = spawnSync(
      'unshare',
      [
        '--mount',
        '--propagation',
        'private',
        'sh',
        '-c',
        'mount -t tmpfs -o size=512k,mode=0700 tsnet-full "$0" && exec "$1" "$2"',
        dir,
        process.execPath,
        join(here, 'full-disk-child.js'),
      ],
      { env: { ...process.env, TSNET_FULL_DIR: dir }, encoding: 'utf8', timeout: 120_000 },
    );
    assert.equal(r.status, 0, r.stderr + r.stdout);
    const out = JSON.parse(r.stdout.trim().split('\n').pop()!);
    assert.equal(out.full, true, 'the filesystem was full');
    assert.equal(out.addError?.code, 5, JSON.stringify(out.addError));
    assert.match(
      out.addError.msg,
      /no space left on the filesystem holding the IPAM store .*full for a new address and the space kept to release it/,
    );
    assert.match(out.addError.details, /free space on that filesystem, then try again; DEL and GC still work/);
    assert.deepEqual(out.delFailures, [], `${out.added + out.addedWhenFull} DELs on the full disk`);
    assert.equal(out.heldAfterDel, 0, 'every address released');
    assert.equal(out.again, '10.231.0.2/16', "with space again, the first container's address is free");
    assert.equal(out.reserve, 64 * 1024, 'the space kept for releases is whole again');
    assert.ok(!readdirSync(dir).length, 'the tmpfs was private to the child');
  });
});

describe('IPAM and engine state is root-only', { skip: needsRoot }, () => {
  /** Runs `file` with umask 000 (so only tsnet's own modes count), the config on stdin. */
  function execUmask0(file: string, env: Record<string, string>, stdin: string) {
    return spawnSync('sh', ['-c', 'umask 000 && exec "$0"', file], {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env },
      input: stdin,
      encoding: 'utf8',
    });
  }

  function ipamAdd(w: World, root: string, name: string, cid: string, ipam: Record<string, unknown>, netns: string) {
    const r = execUmask0(
      join(OUR_CNI, 'tsnet-ipam'),
      { TSNET_ROOT: root, CNI_COMMAND: 'ADD', CNI_CONTAINERID: cid, CNI_NETNS: netns, CNI_IFNAME: 'eth0', CNI_PATH: OUR_CNI },
      JSON.stringify({ cniVersion: '1.0.0', name, type: 'bridge', ipam: { type: 'tsnet-ipam', ...ipam } }),
    );
    assert.equal(r.status, 0, `${w.id}: ${r.stdout}${r.stderr}`);
  }

  it('tsnet-ipam under umask 000: the store and the network registry are 0700/0600; an older 0755/0644 store is tightened by its next write', (t) => {
    const w = world(t);
    const root = w.tmpdir();
    const netns = `/run/netns/${w.netns('ctr')}`;
    ipamAdd(w, root, 'autonet', 'a1', { subnet: 'auto', pools: [{ base: '10.232.0.0/16', size: 24 }] }, netns);
    ipamAdd(w, root, 'plain', 'b1', { subnet: '10.233.0.0/24' }, netns);
    const store = join(root, 'ipam', 'plain');
    const seen: Record<string, string> = {};
    for (const p of [
      join(root, 'ipam'),
      store,
      join(store, 'journal'),
      join(store, 'lock'),
      join(store, 'reserve'),
      join(root, 'ipam', 'autonet'),
      join(root, 'ipam', 'autonet', 'journal'),
      join(root, 'networks'),
      join(root, 'networks', 'autonet.json'),
    ])
      seen[p.slice(root.length)] = mode(p);
    assert.deepEqual(seen, {
      '/ipam': '0700',
      '/ipam/plain': '0700',
      '/ipam/plain/journal': '0600',
      '/ipam/plain/lock': '0600',
      '/ipam/plain/reserve': '0600',
      '/ipam/autonet': '0700',
      '/ipam/autonet/journal': '0600',
      '/networks': '0700',
      '/networks/autonet.json': '0600',
    });

    // As an older tsnet left it: readable by everyone. The next ADD (a new process) tightens it.
    chmodSync(store, 0o755);
    chmodSync(join(store, 'journal'), 0o644);
    chmodSync(join(root, 'networks'), 0o755);
    ipamAdd(w, root, 'plain', 'b2', { subnet: '10.233.0.0/24' }, netns);
    ipamAdd(w, root, 'autonet2', 'c1', { subnet: 'auto', pools: [{ base: '10.234.0.0/16', size: 24 }] }, netns);
    assert.deepEqual([mode(store), mode(join(store, 'journal')), mode(join(root, 'networks'))], ['0700', '0600', '0700']);
  });

  it('the engine under umask 000: images/, names/ 0700; image.json, the name file, config.json 0600', (t) => {
    const w = world(t);
    const e = new EngineFixture(w.tmpdir());
    w.defer(() => e.removeAll());
    const old = process.umask(0);
    try {
      e.ok('image', 'from-host', 'modes', '--bin', 'true');
      const name = `m${w.id}`;
      e.ok('run', '--name', name, '--net', 'none', 'modes', 'true');
      const [image] = readdirSync(join(e.root, 'images'));
      const [id] = e.ids();
      assert.deepEqual(
        {
          images: mode(join(e.root, 'images')),
          image: mode(join(e.root, 'images', image!)),
          imageJson: mode(join(e.root, 'images', image!, 'image.json')),
          names: mode(join(e.root, 'names')),
          name: mode(join(e.root, 'names', name)),
          config: mode(join(e.root, 'containers', id!, 'config.json')),
          state: mode(join(e.root, 'containers', id!, 'state.json')),
        },
        { images: '0700', image: '0700', imageJson: '0600', names: '0700', name: '0600', config: '0600', state: '0600' },
      );
      // An older tsnet's loose directories are tightened when next written.
      chmodSync(join(e.root, 'names'), 0o755);
      chmodSync(join(e.root, 'images'), 0o755);
      e.ok('image', 'from-host', 'modes2', '--bin', 'true');
      e.ok('run', '--name', `${name}b`, '--net', 'none', 'modes', 'true');
      assert.deepEqual([mode(join(e.root, 'names')), mode(join(e.root, 'images'))], ['0700', '0700']);
    } finally {
      process.umask(old);
    }
  });
});
