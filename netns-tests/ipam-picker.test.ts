// The subnet picker reads the host's routes and addresses from the kernel: inside a namespace that plays the
// host, `tsnet network create --subnet auto` skips what the namespace's routes cover, as Docker does for docker0.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Netns } from '../native/index.js';
import { hostUsage } from '../ipam/host-usage.js';
import { pickSubnet } from '../ipam/picker.js';
import { REPO } from './cni-exec.js';
import { ip, needsRoot, world } from './harness.js';

const CLI = join(REPO, 'dist', 'engine', 'cli', 'main.js');

function createAuto(hostNs: string, root: string, name: string): { status: number; out: string } {
  const r = spawnSync('ip', ['netns', 'exec', hostNs, process.execPath, CLI, 'network', 'create', name], {
    env: { ...process.env, TSNET_ROOT: root },
    encoding: 'utf8',
  });
  return { status: r.status ?? -1, out: r.stdout + r.stderr };
}

function subnetOf(hostNs: string, root: string, name: string): string {
  const r = spawnSync('ip', ['netns', 'exec', hostNs, process.execPath, CLI, 'network', 'inspect', name], {
    env: { ...process.env, TSNET_ROOT: root },
    encoding: 'utf8',
  });
  return JSON.parse(r.stdout)[0].subnet;
}

describe('subnet picker against the kernel', { skip: needsRoot }, () => {
  it('skips routes covering 172.17/16 and 172.18/16, then all of 172.16-31 for 192.168/20', async (t) => {
    const w = world(t);
    const h = w.netns('pick');
    const root = w.tmpdir();
    ip(h, 'link', 'add', 'up0', 'type', 'bridge');
    ip(h, 'link', 'set', 'up0', 'up');
    ip(h, 'addr', 'add', '10.250.0.1/24', 'dev', 'up0');
    ip(h, 'route', 'add', '172.17.0.0/16', 'via', '10.250.0.2');
    ip(h, 'route', 'add', '172.18.0.0/16', 'via', '10.250.0.2');

    // In-process, reading the namespace through netlink.
    const ns = Netns.open(h);
    try {
      const occupied = await hostUsage(ns);
      assert.ok(occupied.some((o) => o.prefix === '172.17.0.0/16' && /via 10\.250\.0\.2/.test(o.what)));
      assert.equal(pickSubnet({ occupied }).cidr, '172.19.0.0/16');
    } finally {
      ns.close();
    }

    // Through the CLI, run inside the namespace.
    const first = createAuto(h, root, 'a');
    assert.equal(first.status, 0, first.out);
    assert.equal(subnetOf(h, root, 'a'), '172.19.0.0/16');
    // The next network also avoids the first one.
    assert.equal(createAuto(h, root, 'b').status, 0);
    assert.equal(subnetOf(h, root, 'b'), '172.20.0.0/16');

    // Cover every 172.16-31/16 with routes: the next pick comes from 192.168.0.0/16 in /20s.
    ip(h, 'route', 'add', '172.16.0.0/12', 'via', '10.250.0.2');
    const ns2 = Netns.open(h);
    try {
      const occupied = await hostUsage(ns2);
      assert.equal(pickSubnet({ occupied }).cidr, '192.168.0.0/20');
    } finally {
      ns2.close();
    }
    assert.equal(createAuto(h, root, 'c').status, 0);
    assert.equal(subnetOf(h, root, 'c'), '192.168.0.0/20');

    // A default route does not block anything.
    ip(h, 'route', 'add', 'default', 'via', '10.250.0.2');
    assert.equal(createAuto(h, root, 'd').status, 0);
    assert.equal(subnetOf(h, root, 'd'), '192.168.16.0/20');
  });
});
