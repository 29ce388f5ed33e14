import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ipamAdd, ipamCheck, ipamDel, ipamGc } from './ipam-cni.js';
import { NetworkError, NetworkRegistry } from '../../ipam/networks.js';
import { CniError, type NetConf } from '../cni/types.js';
import { args, noAddon, withRoot } from './fixtures/ipam-calls.js';

const code = (n: number, re?: RegExp) => (e: unknown) => e instanceof CniError && e.code === n && (!re || re.test(e.message));

test('ADD/CHECK/DEL with host-local keys, routes, resolvConf, static IP via CNI_ARGS and runtimeConfig', { skip: noAddon }, () =>
  withRoot(async (root) => {
    const rc = join(root, 'resolv.conf');
    writeFileSync(rc, 'nameserver 10.0.0.53\nsearch a.example b.example\noptions ndots:2\n');
    const conf: NetConf = {
      cniVersion: '1.0.0',
      name: 'n1',
      type: 'bridge',
      ipam: {
        type: 'tsnet-ipam',
        root,
        ranges: [[{ subnet: '10.40.0.0/24' }], [{ subnet: 'fd40::/64' }]],
        routes: [{ dst: '0.0.0.0/0' }],
        resolvConf: rc,
      },
    };
    const r = await ipamAdd(conf, args('a'));
    assert.deepEqual(r.ips, [
      { address: '10.40.0.2/24', gateway: '10.40.0.1' },
      { address: 'fd40::2/64', gateway: 'fd40::1' },
    ]);
    assert.deepEqual(r.routes, [{ dst: '0.0.0.0/0' }]);
    assert.deepEqual(r.dns, { nameservers: ['10.0.0.53'], search: ['a.example', 'b.example'], options: ['ndots:2'] });
    await ipamCheck(conf, args('a'));
    await assert.rejects(ipamCheck(conf, args('zz')), code(3));
    const s = await ipamAdd(conf, args('b', { IP: '10.40.0.77' }));
    assert.equal(s.ips![0]!.address, '10.40.0.77/24');
    const t = await ipamAdd({ ...conf, runtimeConfig: { ips: ['fd40::99/64', '10.40.0.99/24'] } }, args('c'));
    assert.deepEqual(
      t.ips!.map((x) => x.address),
      ['10.40.0.99/24', 'fd40::99/64'],
    );
    await assert.rejects(ipamAdd(conf, args('d', { IP: '10.41.0.1' })), code(101, /failed to allocate all requested IPs: 10\.41\.0\.1/));
    await assert.rejects(ipamAdd(conf, args('d', { IP: '10.40.0.77' })), code(101, /held by b\/eth0/));
    await ipamDel(conf, args('a'));
    await ipamDel(conf, args('a')); // idempotent
    await assert.rejects(ipamCheck(conf, args('a')), code(3));
  }),
);

test('config errors are code 7 and say what is wrong', { skip: noAddon }, () =>
  withRoot(async (root) => {
    const base = { cniVersion: '1.0.0', name: 'n', type: 'x' };
    await assert.rejects(ipamAdd({ ...base } as NetConf, args('a')), code(7, /missing "ipam"/));
    await assert.rejects(ipamAdd({ ...base, ipam: { type: 't', root } }, args('a')), code(7, /no IP ranges specified/));
    await assert.rejects(ipamAdd({ ...base, ipam: { type: 't', root, subnet: '10.0.0.1/24' } }, args('a')), code(7, /host bits/));
    await assert.rejects(
      ipamAdd({ ...base, ipam: { type: 't', root, network: 'ghost' } }, args('a')),
      code(7, /network "ghost" not found/),
    );
    await assert.rejects(
      ipamAdd({ ...base, name: '../x', ipam: { type: 't', root, subnet: '10.0.0.0/24' } }, args('a')),
      code(7, /invalid network name/),
    );
    await assert.rejects(ipamGc({ ...base, ipam: { type: 't', root, subnet: '10.0.0.0/24' } }), code(7, /valid-attachments/));
  }),
);

test('a /31 or /32 is refused (code 7) before anything is written, naming the subnet, why and the fix', { skip: noAddon }, () =>
  withRoot(async (root) => {
    const base = { cniVersion: '1.0.0', name: 'p2p', type: 'x' };
    const small = (e: unknown, subnet: string, fix: RegExp) =>
      e instanceof CniError &&
      e.code === 7 &&
      e.message.includes(`subnet ${subnet} is too small to allocate from`) &&
      /no room for both a gateway and a container/.test(e.message) &&
      fix.test(e.details);
    for (const subnet of ['10.70.0.0/31', '10.70.0.9/32', 'fd70::/127']) {
      await assert.rejects(ipamAdd({ ...base, ipam: { type: 't', root, subnet } }, args('a')), (e) =>
        small(e, subnet, subnet.includes(':') ? /a \/126 or larger/ : /a \/30 or larger/),
      );
    }
    await assert.rejects(
      ipamAdd(
        { ...base, ipam: { type: 't', root, ranges: [[{ subnet: '10.70.1.0/24' }, { subnet: '10.70.2.0/31', gateway: '10.70.2.0' }]] } },
        args('a'),
      ),
      (e) => small(e, '10.70.2.0/31', /\/30/),
    );
    // "subnet": "auto" with a /31: no network is recorded.
    await assert.rejects(
      ipamAdd(
        { ...base, ipam: { type: 't', root, subnet: 'auto', prefixLength: 31, pools: [{ base: '10.71.0.0/16', size: 16 }] } },
        args('a'),
      ),
      (e) => small(e, '10.71.0.0/31', /prefix length of 30 or less/),
    );
    const registry = new NetworkRegistry(root);
    assert.deepEqual(registry.list(), []);
    await assert.rejects(
      registry.create({ name: 'pt', subnet: '10.72.0.0/31' }),
      (e: unknown) =>
        e instanceof NetworkError &&
        e.kind === 'invalid' &&
        /network "pt": subnet 10\.72\.0\.0\/31 is too small/.test(e.message) &&
        /\/30 or larger/.test(e.fix!),
    );
    assert.deepEqual(registry.list(), []);
    assert.ok(!existsSync(join(root, 'ipam', 'p2p')), 'no IPAM store was made');
  }),
);

test('exhausted range: error names the network, the range and how many are held', { skip: noAddon }, () =>
  withRoot(async (root) => {
    const conf: NetConf = { cniVersion: '1.0.0', name: 'tiny', type: 'x', ipam: { type: 't', root, subnet: '10.50.0.0/30' } };
    await ipamAdd(conf, args('a'));
    await assert.rejects(
      ipamAdd(conf, args('b')),
      code(100, /network "tiny": no free address in range set 0 \(10\.50\.0\.1-10\.50\.0\.2\): 1 of 1 addresses are held/),
    );
  }),
);

test('GC releases everything not in cni.dev/valid-attachments', { skip: noAddon }, () =>
  withRoot(async (root) => {
    const conf: NetConf = { cniVersion: '1.1.0', name: 'g', type: 'x', ipam: { type: 't', root, subnet: '10.60.0.0/24' } };
    for (const c of ['a', 'b', 'c']) await ipamAdd(conf, args(c));
    await ipamAdd(conf, args('a', {}, 'eth1'));
    const { released } = await ipamGc({
      ...conf,
      'cni.dev/valid-attachments': [
        { containerID: 'a', ifname: 'eth0' },
        { containerID: 'c', ifname: 'eth0' },
      ],
    });
    assert.deepEqual(released.sort(), ['10.60.0.3', '10.60.0.5']);
    await ipamCheck(conf, args('a'));
    await assert.rejects(ipamCheck(conf, args('b')), code(3));
  }),
);

test('"subnet": "auto" picks once (avoiding host usage and other networks) and then sticks', { skip: noAddon }, () =>
  withRoot(async (root) => {
    const hostUsage = async () => [
      { prefix: '172.17.0.1/16', what: 'address 172.17.0.1/16 on docker0' },
      { prefix: '0.0.0.0/0', what: 'default route' },
    ];
    await new NetworkRegistry(root).create({ name: 'other', subnet: '172.18.0.0/16' });
    const conf: NetConf = { cniVersion: '1.0.0', name: 'autonet', type: 'x', ipam: { type: 't', root, subnet: 'auto', prefixLength: 24 } };
    const a = await ipamAdd(conf, args('a'), { hostUsage });
    assert.equal(a.ips![0]!.address, '172.19.0.2/24');
    const b = await ipamAdd(conf, args('b'), { hostUsage: async () => [] });
    assert.equal(b.ips![0]!.address, '172.19.0.3/24');
    assert.equal(new NetworkRegistry(root).require('autonet').auto, true);
  }),
);
