// tsnet-ipam's CNI face against the reference host-local: same config, same calls → same addresses.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ipamAdd, ipamDel } from './ipam-cni.js';
import { CniError, type CniArgs, type NetConf } from '../cni/types.js';

// ---- same config, same calls as the reference host-local → same addresses ----

const HOST_LOCAL = '/usr/lib/cni/host-local';
type Step = [op: 'add' | 'del', cid: string, ip?: string];

function runHostLocal(ipam: Record<string, unknown>, steps: Step[]): string[] {
  const dir = mkdtempSync(join(tmpdir(), 'hl-'));
  try {
    const conf = JSON.stringify({
      cniVersion: '1.0.0',
      name: 'cmp',
      type: 'host-local',
      ipam: { ...ipam, type: 'host-local', dataDir: dir },
    });
    return steps.map(([op, cid, ip]) => {
      const r = spawnSync(HOST_LOCAL, [], {
        input: conf,
        env: {
          CNI_COMMAND: op.toUpperCase(),
          CNI_CONTAINERID: cid,
          CNI_NETNS: '/dev/null',
          CNI_IFNAME: 'eth0',
          CNI_PATH: '/usr/lib/cni',
          ...(ip ? { CNI_ARGS: `IP=${ip}` } : {}),
        },
      });
      if (op === 'del') return r.status === 0 ? 'ok' : 'error';
      if (r.status !== 0) return 'error';
      return (JSON.parse(r.stdout.toString()) as { ips: { address: string }[] }).ips.map((x) => x.address).join(' ');
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function runOurs(ipam: Record<string, unknown>, steps: Step[]): Promise<string[]> {
  const root = mkdtempSync(join(tmpdir(), 'ti-'));
  try {
    const conf: NetConf = { cniVersion: '1.0.0', name: 'cmp', type: 'x', ipam: { ...ipam, type: 'tsnet-ipam', root } };
    const out: string[] = [];
    for (const [op, cid, ip] of steps) {
      const args: CniArgs = {
        command: op === 'add' ? 'ADD' : 'DEL',
        containerId: cid,
        netns: '/dev/null',
        ifname: 'eth0',
        args: ip ? { IP: ip } : {},
        path: [],
      };
      try {
        if (op === 'del') {
          await ipamDel(conf, args);
          out.push('ok');
        } else out.push((await ipamAdd(conf, args)).ips!.map((x) => x.address).join(' '));
      } catch (e) {
        assert.ok(e instanceof CniError, String(e));
        out.push('error');
      }
    }
    return out;
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

const scenarios: { name: string; ipam: Record<string, unknown>; steps: Step[] }[] = [
  {
    name: 'small IPv4 subnet: fill, exhaust, release, wrap',
    ipam: { subnet: '10.9.0.0/29' },
    steps: [
      ['add', 'a'],
      ['add', 'b'],
      ['add', 'c'],
      ['add', 'd'],
      ['add', 'e'],
      ['add', 'f'],
      ['del', 'b'],
      ['add', 'f'],
      ['del', 'a'],
      ['del', 'c'],
      ['add', 'g'],
      ['add', 'h'],
      ['del', 'zz'],
    ],
  },
  {
    name: 'rangeStart/rangeEnd with the gateway inside the range, static IP',
    ipam: { subnet: '10.9.1.0/24', rangeStart: '10.9.1.10', rangeEnd: '10.9.1.14', gateway: '10.9.1.12' },
    steps: [
      ['add', 'a'],
      ['add', 'b', '10.9.1.13'],
      ['add', 'c'],
      ['add', 'd'],
      ['del', 'a'],
      ['add', 'e'],
      ['add', 'f'],
      ['add', 'g', '10.9.1.12'],
      ['add', 'h', '10.9.1.99'],
    ],
  },
  {
    name: 'IPv6 range',
    ipam: { subnet: 'fd00:9::/120', rangeStart: 'fd00:9::fe', rangeEnd: 'fd00:9::ff' },
    steps: [
      ['add', 'a'],
      ['add', 'b'],
      ['add', 'c'],
      ['del', 'a'],
      ['add', 'd'],
    ],
  },
  {
    name: 'two range sets (dual stack), one with two ranges',
    ipam: { ranges: [[{ subnet: '10.9.2.0/30' }, { subnet: '10.9.3.0/30' }], [{ subnet: 'fd00:a::/125' }]] },
    steps: [
      ['add', 'a'],
      ['add', 'b'],
      ['add', 'c'],
      ['del', 'a'],
      ['add', 'd'],
      ['add', 'e'],
    ],
  },
];

for (const s of scenarios) {
  test(
    `same addresses as reference host-local: ${s.name}`,
    { skip: !existsSync(HOST_LOCAL) && `${HOST_LOCAL} not installed (Debian: containernetworking-plugins)` },
    async () => {
      const ref = runHostLocal(s.ipam, s.steps);
      const ours = await runOurs(s.ipam, s.steps);
      assert.deepEqual(ours, ref);
    },
  );
}
