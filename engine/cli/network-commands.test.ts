// `tsnet network create|ls|inspect|rm` over the registry, with tsnet-ipam allocating from the networks it makes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NetworkRegistry } from '../../ipam/networks.js';
import { ipamAdd, ipamDel } from '../../plugins/shared/ipam-cni.js';
import type { NetConf } from '../../plugins/cni/types.js';
import { networkCommands } from './network-commands.js';
import { conflistFor } from '../network/conflists.js';
import { needsEtcd, startEtcd } from '../../ipam/cluster/testing/etcd.js';
import { hasOpenssl, makeCerts } from '../../ipam/cluster/testing/certs.js';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { args, noAddon, withRoot } from '../../plugins/shared/fixtures/ipam-calls.js';

test('networks: create/ls/inspect/rm via the CLI; rm refuses while addresses are allocated', { skip: noAddon }, () =>
  withRoot(async (root) => {
    const lines: string[] = [];
    const errs: string[] = [];
    const cli = (argv: string[]) =>
      networkCommands({
        root,
        hostUsage: async () => [{ prefix: '172.17.0.0/16', what: 'route 172.17.0.0/16 dev docker0' }],
        out: (s) => lines.push(s),
        err: (s) => errs.push(s),
      })
        .exitOverride()
        .parseAsync(argv, { from: 'user' });
    await cli(['create', 'front']);
    await cli(['create', 'back', '--subnet', '10.70.0.0/24', '--gateway', '10.70.0.254', '--ip-range', '10.70.0.128/25']);
    assert.equal(errs.length, 0, errs.join('\n'));
    const reg = new NetworkRegistry(root);
    assert.equal(reg.require('front').subnet, '172.18.0.0/16');
    assert.deepEqual(reg.require('back').ranges, [
      [{ subnet: '10.70.0.0/24', gateway: '10.70.0.254', rangeStart: '10.70.0.128', rangeEnd: '10.70.0.254' }],
    ]);
    // dual stack: both subnets and gateways, one range set each; --ipv6 and an IPv6 subnet need each other
    await cli(['create', 'dual', '--ipv6', '--subnet', 'fd00:70::/64', '--gateway', 'fd00:70::fe', '--subnet', '10.71.0.0/24']);
    assert.equal(errs.length, 0, errs.join('\n'));
    const dual = reg.require('dual');
    assert.deepEqual(
      [dual.subnet, dual.gateway, dual.subnet6, dual.gateway6],
      ['10.71.0.0/24', '10.71.0.1', 'fd00:70::/64', 'fd00:70::fe'],
    );
    assert.deepEqual(dual.ranges, [
      [{ subnet: '10.71.0.0/24', gateway: '10.71.0.1' }],
      [{ subnet: 'fd00:70::/64', gateway: 'fd00:70::fe' }],
    ]);
    for (const [argv, why] of [
      [['create', 'x', '--ipv6'], /--ipv6: needs an IPv6 subnet/],
      [['create', 'x', '--subnet', 'fd00:71::/64'], /IPv6 is not enabled on the network.*--ipv6/],
      [['create', 'x', '--ipv6', '--subnet', 'fd00:71::/64', '--subnet', 'fd00:72::/64'], /a second IPv6 subnet/],
      [['create', 'x', '--ipv6', '--subnet', 'fd00:70::/48'], /overlaps network "dual"/],
      [['create', 'x', '--ipv6', '--subnet', 'fd00:71::/64', '--gateway', 'fd00:99::1'], /not inside subnet fd00:71::\/64/],
    ] as const) {
      await cli([...argv]);
      assert.match(errs.pop() ?? '', why, argv.join(' '));
      assert.equal(reg.get('x'), undefined, 'nothing made');
    }
    process.exitCode = 0;
    await cli(['rm', 'dual']);
    await cli(['create', 'clash', '--subnet', '10.70.0.0/16']);
    assert.match(errs.pop()!, /overlaps network "back"/);
    process.exitCode = 0;

    const conf: NetConf = { cniVersion: '1.0.0', name: 'whatever', type: 'x', ipam: { type: 't', root, network: 'back' } };
    assert.equal((await ipamAdd(conf, args('a'))).ips![0]!.address, '10.70.0.128/24');
    assert.equal((await ipamAdd(conf, args('b'))).ips![0]!.address, '10.70.0.129/24');
    // a static address anywhere in the subnet, outside --ip-range too (Docker's rule); not the gateway, not outside
    assert.equal((await ipamAdd(conf, args('s', { IP: '10.70.0.5' }))).ips![0]!.address, '10.70.0.5/24');
    await assert.rejects(ipamAdd(conf, args('t', { IP: '10.70.0.254' })), /gateway/);
    await assert.rejects(ipamAdd(conf, args('t', { IP: '10.70.1.5' })), /10\.70\.1\.5/);
    assert.equal((await ipamAdd(conf, args('u'))).ips![0]!.address, '10.70.0.130/24', 'dynamic ones still come from the range');
    await ipamDel(conf, args('s'));
    await ipamDel(conf, args('u'));

    lines.length = 0;
    await cli(['ls']);
    assert.match(lines[0]!.split('\n')[0]!, /^NETWORK ID\s+NAME\s+DRIVER\s+SCOPE$/);
    assert.match(lines[0]!.split('\n')[1]!, /^[0-9a-f]{12}\s+back\s+bridge\s+local$/);
    lines.length = 0;
    await cli(['ls', '--format', '{{.Name}} {{.Subnet}} {{.Gateway}} {{.InUse}}']);
    assert.deepEqual(lines, ['back 10.70.0.0/24 10.70.0.254 2', 'front 172.18.0.0/16 172.18.0.1 0']);
    lines.length = 0;
    await cli(['ls', '--json']);
    assert.equal(JSON.parse(lines[0]!)[0].Scope, 'local');
    lines.length = 0;
    await cli(['inspect', 'back']);
    assert.deepEqual(JSON.parse(lines[0]!)[0].allocations['10.70.0.129'], { containerID: 'b', ifname: 'eth0' });

    await cli(['rm', 'back']);
    assert.match(errs.pop()!, /network "back" still has 2 addresses allocated: 10\.70\.0\.128 \(a\/eth0\).*--force/);
    process.exitCode = 0;
    lines.length = 0;
    await cli(['prune', '-f']);
    assert.deepEqual(lines, ['Deleted Networks:\nfront'], 'prune removes only the unused network');
    assert.deepEqual(
      reg.list().map((n) => n.name),
      ['back'],
    );
    await cli(['rm', '--force', 'back']);
    assert.equal(reg.list().length, 0);
    await ipamDel(conf, args('a')); // DEL after the network is gone: success
  }),
);

test(
  'network create --driver overlay: the first host creates it in etcd, the next joins, a mismatch is refused',
  { skip: noAddon || needsEtcd },
  async () => {
    const etcd = await startEtcd();
    try {
      await withRoot(async (rootA) =>
        withRoot(async (rootB) => {
          const errs: string[] = [];
          const cli = (root: string, argv: string[]) =>
            networkCommands({
              root,
              hostUsage: async () => [{ prefix: '10.128.0.0/16', what: 'route 10.128.0.0/16 dev eth9' }],
              out: () => undefined,
              err: (s) => errs.push(s),
            })
              .exitOverride()
              .parseAsync(argv, { from: 'user' });
          await cli(rootA, ['create', '--driver', 'overlay', '--store', etcd.url, '--host-name', 'a', 'ov']);
          await cli(rootB, ['create', '--driver', 'overlay', '--store', etcd.url, '--host-name', 'b', 'ov']);
          assert.equal(errs.length, 0, errs.join('\n'));
          const a = new NetworkRegistry(rootA).require('ov');
          const b = new NetworkRegistry(rootB).require('ov');
          assert.equal(a.driver, 'overlay');
          assert.equal(a.subnet, '10.129.0.0/16', 'picked avoiding the host route 10.128.0.0/16');
          assert.equal(b.subnet, a.subnet);
          assert.equal(b.options?.vni, a.options?.vni);
          const plugin = conflistFor(b).plugins[0]!;
          assert.deepEqual(
            { type: plugin.type, store: plugin.store, network: plugin.network, host: plugin.host, vni: plugin.vni },
            { type: 'overlay', store: etcd.url, network: 'ov', host: 'b', vni: a.options?.vni },
          );
          await cli(rootB, ['create', '--driver', 'overlay', '--store', etcd.url, '--subnet', '10.50.0.0/16', 'ov']);
          assert.match(
            errs.pop()!,
            /exists in etcd:\/\/127\.0\.0\.1:\d+ with other parameters: subnet 10\.129\.0\.0\/16 \(asked 10\.50\.0\.0\/16\)/,
          );
          process.exitCode = 0;
          await cli(rootB, ['create', '--driver', 'overlay', 'nostore']);
          assert.match(errs.pop()!, /--store/);
          process.exitCode = 0;
          await cli(rootB, ['create', '--driver', 'overlay', '--store', etcd.url, '--internal', '-o', 'icc=false', 'moot']);
          assert.match(errs.pop()!, /--internal, -o: not options of an overlay network/);
          assert.equal(new NetworkRegistry(rootB).get('moot'), undefined);
          process.exitCode = 0;
        }),
      );
    } finally {
      await etcd.dispose();
    }
  },
);

test(
  'network create --driver overlay over TLS: --store-ca/--store-cert/--store-key reach an etcd that requires client certificates, and the conflist carries them',
  { skip: noAddon || needsEtcd || (hasOpenssl ? false : 'needs openssl') },
  async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tsnet-cli-tls-'));
    makeCerts(dir);
    const etcd = await startEtcd({ tls: { cert: join(dir, 'server.crt'), key: join(dir, 'server.key'), ca: join(dir, 'ca.crt') } });
    try {
      await withRoot(async (root) => {
        const errs: string[] = [];
        const cli = (argv: string[]) =>
          networkCommands({ root, hostUsage: async () => [], out: () => undefined, err: (s) => errs.push(s) })
            .exitOverride()
            .parseAsync(argv, { from: 'user' });
        const tls = ['--store-ca', join(dir, 'ca.crt'), '--store-cert', join(dir, 'client.crt'), '--store-key', join(dir, 'client.key')];
        await cli(['create', '--driver', 'overlay', '--store', etcd.url, ...tls, '--subnet', '10.71.0.0/24', 'sec']);
        assert.equal(errs.length, 0, errs.join('\n'));
        const rec = new NetworkRegistry(root).require('sec');
        assert.equal(rec.subnet, '10.71.0.0/24');
        const plugin = conflistFor(rec).plugins[0]!;
        assert.deepEqual(plugin.tls, { ca: join(dir, 'ca.crt'), cert: join(dir, 'client.crt'), key: join(dir, 'client.key') });
        // without the client certificate: refused by etcd, and the error names the store
        await cli(['create', '--driver', 'overlay', '--store', etcd.url, '--store-ca', join(dir, 'ca.crt'), 'other']);
        assert.match(errs.pop() ?? '', new RegExp(`cluster store ${etcd.url}: unreachable: .*certificate`));
        assert.equal(new NetworkRegistry(root).get('other'), undefined);
        process.exitCode = 0;
      });
    } finally {
      await etcd.dispose();
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

test(
  "network reclaim-host: a dead host's lease is revoked, its blocks and membership go at once; an unknown host is an error",
  { skip: needsEtcd },
  async () => {
    const etcd = await startEtcd();
    const cacheDir = mkdtempSync(join(tmpdir(), 'tsnet-cli-reclaim-'));
    const { ClusterStore } = await import('../../ipam/cluster/store.js');
    const store = new ClusterStore({ url: etcd.url, cacheDir });
    try {
      const { network } = await store.ensureNetwork({ name: 'ov', subnet: '10.62.0.0/24', blockPrefix: 28 });
      const gone = await store.ensureHost('gone', '192.0.2.10', [], 600);
      await store.join('ov', 'gone', gone);
      await store.allocate(network, 'gone', gone, 'c1', 'eth0');
      assert.deepEqual(
        (await store.blocks('ov')).map((b) => b.host),
        ['gone'],
      );
      const lines: string[] = [];
      const errs: string[] = [];
      const cli = (argv: string[]) =>
        networkCommands({ out: (s) => lines.push(s), err: (s) => errs.push(s) })
          .exitOverride()
          .parseAsync(argv, { from: 'user' });
      await cli(['reclaim-host', 'gone', '--store', etcd.url]);
      assert.deepEqual([lines, errs], [['gone'], []]);
      assert.deepEqual(await store.blocks('ov'), [], 'its block is free now, not after 600 s');
      assert.deepEqual(await store.members('ov'), []);
      await cli(['reclaim-host', 'gone', '--store', etcd.url]);
      assert.match(errs.pop() ?? '', /host gone: not in the store/);
      assert.equal(process.exitCode, 1);
      process.exitCode = 0;
    } finally {
      store.close();
      await etcd.dispose();
      rmSync(cacheDir, { recursive: true, force: true });
    }
  },
);

test('networks by id, as Docker: ls -q prints ids; inspect and rm take an id or a prefix no other id has', { skip: noAddon }, () =>
  withRoot(async (root) => {
    const lines: string[] = [];
    const errs: string[] = [];
    const cli = (argv: string[]) =>
      networkCommands({ root, out: (s) => lines.push(s), err: (s) => errs.push(s) })
        .exitOverride()
        .parseAsync(argv, { from: 'user' });
    const reg = new NetworkRegistry(root);
    await cli(['create', 'one', '--subnet', '10.71.0.0/24']);
    await cli(['create', 'two', '--subnet', '10.71.1.0/24']);
    const id = (name: string) => reg.require(name).id;
    lines.length = 0;
    await cli(['ls', '-q']);
    assert.deepEqual(lines, [id('one').slice(0, 12), id('two').slice(0, 12)], 'the ids as network ls shows them');
    lines.length = 0;
    await cli(['inspect', '--format', '{{.name}}', id('one').slice(0, 12), id('two')]);
    assert.deepEqual(lines, ['one', 'two']);
    const one = id('one');
    // an id prefix two networks share is refused, naming both (a third record given an id that shares one's first 12)
    await cli(['create', 'three', '--subnet', '10.71.2.0/24']);
    const f3 = join(reg.dir, 'three.json');
    writeFileSync(f3, JSON.stringify({ ...JSON.parse(readFileSync(f3, 'utf8')), id: `${one.slice(0, 12)}${'0'.repeat(52)}` }));
    await cli(['rm', one.slice(0, 12)]);
    assert.match(errs.pop()!, /id prefix "[0-9a-f]{12}" is ambiguous: it starts the ids of (one, three|three, one)/);
    process.exitCode = 0;
    await cli(['rm', 'three']);
    lines.length = 0;
    await cli(['rm', one.slice(0, 12), 'two']);
    assert.deepEqual(lines, [one.slice(0, 12), 'two'], 'each printed as given, as docker network rm');
    assert.deepEqual(reg.list(), [], 'both removed');
    await cli(['rm', one.slice(0, 12)]);
    assert.match(errs.pop()!, /not found/);
    process.exitCode = 0;
    assert.deepEqual(errs, []);
  }),
);
