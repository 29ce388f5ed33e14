// Container names across the overlay: three "hosts" (namespaces on one underlay switch), etcd in a fourth, tsnetd
// in each (overlay-world.ts). Hosts 1 and 2 run the engine; host 3 runs the CNI conflist a user would write
// (overlay with "resolver": true, then tsnet-dns) through `tsnet cni add`, with a short lease so that its death
// is seen soon. What is asserted is what a container's own resolver answers (busybox nslookup inside it) and
// what the hosts' kernels hold (addresses, rules, routes).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ipj, needsRoot, sh, world } from './harness.js';
import { OUR_CNI } from './cni-exec.js';
import { needsEtcd } from '../ipam/cluster/testing/etcd.js';
import { EngineFixture } from '../engine/testing/cli.js';
import { request } from '../plugins/tsnet-dns/control.js';
import { CLI, cluster, eventually } from './overlay-world.js';

/** What `nslookup -type=a NAME` inside `container` answers: its addresses, or [] when the name is not found. */
function lookup(e: EngineFixture, container: string, name: string): string[] {
  const r = e.tsnet('exec', container, 'busybox', 'nslookup', '-type=a', name);
  const body = r.stdout
    .split(/\n\s*\n/)
    .slice(1)
    .join('\n'); // after the "Server:/Address:" block
  return [...body.matchAll(/^Address:\s*([0-9a-f.:]+)\s*$/gim)].map((m) => m[1]!).sort();
}

const same = (a: string[], b: string[]): boolean => JSON.stringify(a) === JSON.stringify(b);

describe('container names on an overlay network, cluster-wide', { skip: needsRoot || needsEtcd }, () => {
  it("resolves names and aliases of other hosts' containers; they go with their container, with a dead host's lease; survive etcd down", async (t) => {
    const w = world(t);
    const c = await cluster(w, 3);
    const en = `od${w.id}`;
    const subnet = '10.207.0.0/24';
    const [e1, e2] = [1, 2].map((h) => new EngineFixture(c.roots[h - 1]!, c.hosts[h - 1]!)) as [EngineFixture, EngineFixture];
    for (const [i, e] of [e1, e2].entries()) {
      w.defer(() => e.removeAll());
      e.ok('image', 'from-host', 'img');
      e.ok('network', 'create', '--driver', 'overlay', '--store', c.store, '--host-name', `h${i + 1}`, '--subnet', subnet, en);
    }
    const ipOf = (e: EngineFixture, id: string): string => e.inspect(id).NetworkSettings.Networks[en].IPAddress;
    const logs = () => [...c.logs].map(([h, l]) => `${h}: ${l()}`).join('\n');

    // web on host 2 (alias www), a client on host 1
    const web = e2.ok('run', '-d', '--name', 'web', '--network-alias', 'www', '--net', en, 'img', 'sleep', '300').trim();
    const cli = e1.ok('run', '-d', '--name', 'cli', '--net', en, 'img', 'sleep', '300').trim();
    const [ipWeb, ipCli] = [ipOf(e2, web), ipOf(e1, cli)];

    // the client's nameserver: an address of host 1 on the overlay's bridge, a /32 (no route from the host into
    // the overlay), answers to it routed back to the bridge by a rule of its own
    const resolv = e1.ok('exec', cli, 'cat', '/etc/resolv.conf');
    const ns = /^nameserver (\S+)$/m.exec(resolv)?.[1];
    assert.ok(ns, resolv);
    assert.match(ns, /^10\.207\.0\./);
    assert.notEqual(ns, ipCli);
    const vni = JSON.parse(e1.ok('network', 'inspect', en))[0].options.vni as number;
    const h1 = c.hosts[0]!;
    const brAddrs = ipj(h1, '-4', 'addr', 'show', 'dev', `tsov${vni}`)[0].addr_info.map((a: any) => `${a.local}/${a.prefixlen}`);
    assert.deepEqual(brAddrs, [`${ns}/32`], "the resolver's address on host 1's bridge");
    assert.ok(!ipj(h1, '-4', 'route', 'show').some((r: any) => r.dst === subnet), 'no route into the overlay in the main table');
    assert.ok(
      ipj(h1, '-4', 'rule', 'show').some((r: any) => r.src === ns && (r.srclen ?? 32) === 32 && String(r.table) === '29811'),
      `a rule for answers from ${ns}: ${sh('ip', '-n', h1, 'rule')}`,
    );
    const inspected = JSON.parse(e1.ok('network', 'inspect', en))[0].dns;
    assert.deepEqual(inspected, { enabled: true, resolver: [ns], domain: 'dns.tsnet', listening: true });

    // host 1 resolves host 2's container by name and alias, bare and under the domain, and reaches it by name
    await eventually(`h1 resolves web → ${ipWeb}`, () => same(lookup(e1, cli, 'web'), [ipWeb]), 60, logs);
    assert.deepEqual(lookup(e1, cli, 'www'), [ipWeb], 'the alias');
    assert.deepEqual(lookup(e1, cli, 'web.dns.tsnet'), [ipWeb]);
    await eventually('h1 pings web by name', () => e1.tsnet('exec', cli, 'ping', '-c1', '-W1', 'web').status === 0);
    const once = e1.tsnet('run', '--rm', '--net', en, 'img', 'busybox', 'nslookup', 'www');
    assert.equal(once.status, 0, once.stderr);
    assert.match(once.stdout, new RegExp(`Address:\\s*${ipWeb.replace(/\./g, '\\.')}\\s*$`, 'm'), 'a run --rm on host 1 resolves it');
    // and the other way: host 2 resolves host 1's client
    await eventually(`h2 resolves cli → ${ipCli}`, () => same(lookup(e2, web, 'cli'), [ipCli]), 60, logs);

    // web removed on host 2: host 1 no longer resolves it, nor its alias
    e2.ok('rm', '-f', web);
    await eventually('h1 forgets web', () => lookup(e1, cli, 'web').length === 0, 60, logs);
    assert.deepEqual(lookup(e1, cli, 'www'), []);

    // host 3: the CNI conflist a user writes, a lease of 4 s; its container's name reaches host 1
    const h3 = c.hosts[2]!;
    const confDir = w.tmpdir();
    mkdirSync(confDir, { recursive: true });
    writeFileSync(
      join(confDir, `${en}.conflist`),
      JSON.stringify({
        cniVersion: '1.0.0',
        name: en,
        plugins: [
          { type: 'overlay', store: c.store, subnet, host: 'h3', leaseTtl: 4, resolver: true },
          { type: 'tsnet-dns', capabilities: { aliases: true } },
        ],
      }),
    );
    const far = w.netns('odc3');
    const add = spawnSync(
      'ip',
      [
        'netns',
        'exec',
        h3,
        process.execPath,
        CLI,
        'cni',
        'add',
        en,
        far,
        '--conf-dir',
        confDir,
        '--args',
        'K8S_POD_NAME=far',
        '--cap-args',
        JSON.stringify({ aliases: { [en]: ['faraway'] } }),
      ],
      { env: { ...process.env, TSNET_ROOT: c.roots[2]!, CNI_PATH: OUR_CNI }, encoding: 'utf8' },
    );
    assert.equal(add.status, 0, `${add.stderr}${add.stdout}`);
    const ipFar = (JSON.parse(add.stdout).ips[0].address as string).split('/')[0]!;
    await eventually(`h1 resolves far → ${ipFar}`, () => same(lookup(e1, cli, 'faraway'), [ipFar]), 60, logs);

    // etcd stopped: names already known keep resolving; a container started meanwhile on host 2 (in a block it
    // holds) resolves there at once and on host 1 once etcd is back
    const db = e2.ok('run', '-d', '--name', 'db', '--net', en, 'img', 'sleep', '300').trim();
    const ipDb = ipOf(e2, db);
    await eventually(`h1 resolves db → ${ipDb}`, () => same(lookup(e1, cli, 'db'), [ipDb]), 60, logs);
    await c.etcd.stop();
    await eventually('tsnetd on h1 saw etcd go', () => /unreachable|UNAVAILABLE/.test(c.logs.get(h1)!()), 100, logs);
    assert.deepEqual(lookup(e1, cli, 'db'), [ipDb], 'known while etcd is down');
    assert.deepEqual(lookup(e1, cli, 'faraway'), [ipFar]);
    const late = e2.ok('run', '-d', '--name', 'late', '--net', en, 'img', 'sleep', '300').trim();
    const ipLate = ipOf(e2, late);
    assert.deepEqual(lookup(e2, db, 'late'), [ipLate], 'its own host resolves it with etcd down');
    assert.deepEqual(lookup(e1, cli, 'late'), [], 'host 1 cannot know it yet');
    await c.etcd.restart();
    await eventually(`h1 resolves late → ${ipLate} once etcd is back`, () => same(lookup(e1, cli, 'late'), [ipLate]), 100, logs);

    // host 3 dies — its tsnetd, its resolver and its namespace: its names go from host 1 with its lease
    const d3 = c.daemons.get(h3)!;
    const exited = new Promise((r) => d3.once('exit', r));
    d3.kill('SIGKILL');
    await exited;
    const st = await request(join(c.roots[2]!, 'dns'), 'status');
    process.kill(-st.supervisorPid, 'SIGKILL'); // the resolver's session: supervisor and worker at once
    spawnSync('ip', ['netns', 'del', h3]);
    await eventually('h1 forgets far with the lease of h3', () => lookup(e1, cli, 'faraway').length === 0, 100, logs);
    assert.deepEqual(lookup(e1, cli, 'db'), [ipDb], "host 2's names stay");
  });
});
