// The exec'd tsnet-ipam plugin under concurrency, as a runtime drives it: 64 ADD processes at once on one /24
// give 64 distinct addresses and no error; 64 DELs at once leave the store empty.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { IpamStore, ipamDir } from '../ipam/store.js';
import { OUR_CNI } from './cni-exec.js';
import { needsRoot, world } from './harness.js';

function exec(env: Record<string, string>, stdin: string): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(join(OUR_CNI, 'tsnet-ipam'), [], { env });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('close', (status) => resolve({ status, stdout, stderr }));
    p.stdin.end(stdin);
  });
}

test(
  '64 concurrent tsnet-ipam ADD processes on one /24: 64 distinct addresses; 64 DELs: store empty',
  { skip: needsRoot, timeout: 120_000 },
  async (t) => {
    const w = world(t);
    const root = w.tmpdir();
    const netns = `/run/netns/${w.netns('ipamx')}`;
    const conf = JSON.stringify({
      cniVersion: '1.0.0',
      name: 'conc',
      type: 'bridge',
      ipam: { type: 'tsnet-ipam', subnet: '10.213.0.0/24' },
    });
    const env = (command: string, i: number) => ({
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      TSNET_ROOT: root,
      CNI_COMMAND: command,
      CNI_CONTAINERID: `c${i}`,
      CNI_NETNS: netns,
      CNI_IFNAME: 'eth0',
      CNI_PATH: OUR_CNI,
    });
    const adds = await Promise.all(Array.from({ length: 64 }, (_, i) => exec(env('ADD', i), conf)));
    for (const r of adds) assert.equal(r.status, 0, r.stdout + r.stderr);
    const addrs = adds.map((r) => JSON.parse(r.stdout).ips[0].address as string);
    assert.equal(new Set(addrs).size, 64, 'every address distinct');
    assert.ok(addrs.every((a) => /^10\.213\.0\.\d+\/24$/.test(a)));
    const store = new IpamStore(ipamDir(root, 'conc'));
    assert.equal((await store.read()).size, 64);
    const dels = await Promise.all(Array.from({ length: 64 }, (_, i) => exec(env('DEL', i), conf)));
    for (const r of dels) assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.equal((await store.read()).size, 0, 'store empty');
  },
);
