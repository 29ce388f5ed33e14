// tsnet-ipam with "store": cluster-wide addresses in a real etcd on loopback (started here, stopped after).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ipamAdd, ipamCheck, ipamDel } from './ipam-cni.js';
import type { CniArgs, NetConf } from '../cni/types.js';
import { needsEtcd, startEtcd } from '../../ipam/cluster/testing/etcd.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const args = (id: string): CniArgs => ({ containerId: id, netns: '', ifname: 'eth0', path: [] }) as unknown as CniArgs;

test(
  'tsnet-ipam "store": two nodes allocating at once get distinct addresses of one subnet; DEL frees, CHECK sees',
  { skip: needsEtcd },
  async () => {
    const etcd = await startEtcd();
    const dataDir = mkdtempSync(join(tmpdir(), 'tsnet-ipam-cluster-'));
    try {
      const conf = (host: string): NetConf =>
        ({
          cniVersion: '1.0.0',
          name: 'pods',
          type: 'bridge',
          ipam: { type: 'tsnet-ipam', store: etcd.url, subnet: '10.90.0.0/24', host, gateway: '10.90.0.1', dataDir },
        }) as NetConf;
      const results = await Promise.all(
        ['n1', 'n2'].flatMap((h) => Array.from({ length: 10 }, (_, i) => ipamAdd(conf(h), args(`${h}-${i}`)))),
      );
      const addrs = results.map((r) => r.ips![0]!.address);
      assert.equal(new Set(addrs).size, 20, addrs.join(' '));
      for (const a of addrs) assert.match(a, /^10\.90\.0\.\d+\/24$/);
      assert.equal(results[0]!.ips![0]!.gateway, '10.90.0.1');
      await ipamCheck(conf('n1'), args('n1-3'));
      await ipamDel(conf('n1'), args('n1-3'));
      await assert.rejects(ipamCheck(conf('n1'), args('n1-3')), /holds no address/);
      const again = await ipamAdd(conf('n1'), args('n1-new'));
      assert.equal(again.ips![0]!.address, addrs[3], 'the freed address is handed out again');
      await assert.rejects(
        ipamAdd({ ...conf('n1'), ipam: { type: 'tsnet-ipam', store: etcd.url, subnet: '10.91.0.0/24', dataDir } } as NetConf, args('x')),
        /subnet 10\.90\.0\.0\/24 \(asked 10\.91\.0\.0\/24\)/,
      );
    } finally {
      await etcd.dispose();
      rmSync(dataDir, { recursive: true, force: true });
    }
  },
);
