// The subnet picker reads the host's routes and addresses from the kernel: inside a namespace that plays the
// host, `tsnet network create --subnet auto` skips what the namespace's routes cover, as Docker does for docker0.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Netns } from '../native/index.js';
import { hostUsage } from '../ipam/host-usage.js';
import { pickSubnet } from '../ipam/picker.js';
import { EngineFixture } from '../engine/testing/cli.js';
import { ip, needsRoot, world } from './harness.js';

/** `network create NAME` (no subnet: picked) and the subnet `network inspect` shows, through the CLI in the host. */
function engine(hostNs: string, root: string) {
  const e = new EngineFixture(root, ['ip', 'netns', 'exec', hostNs]);
  return {
    createAuto(name: string): { status: number; out: string } {
      const r = e.tsnet('network', 'create', name);
      return { status: r.status, out: r.stdout + r.stderr };
    },
    subnetOf: (name: string): string => JSON.parse(e.tsnet('network', 'inspect', name).stdout)[0].subnet,
  };
}

describe('subnet picker against the kernel', { skip: needsRoot }, () => {
  it('skips routes covering 172.17/16 and 172.18/16, then all of 172.16-31 for 192.168/20', async (t) => {
    const w = world(t);
    const h = w.netns('pick');
    const { createAuto, subnetOf } = engine(h, w.tmpdir());
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
    const first = createAuto('a');
    assert.equal(first.status, 0, first.out);
    assert.equal(subnetOf('a'), '172.19.0.0/16');
    // The next network also avoids the first one.
    assert.equal(createAuto('b').status, 0);
    assert.equal(subnetOf('b'), '172.20.0.0/16');

    // Cover every 172.16-31/16 with routes: the next pick comes from 192.168.0.0/16 in /20s.
    ip(h, 'route', 'add', '172.16.0.0/12', 'via', '10.250.0.2');
    const ns2 = Netns.open(h);
    try {
      const occupied = await hostUsage(ns2);
      assert.equal(pickSubnet({ occupied }).cidr, '192.168.0.0/20');
    } finally {
      ns2.close();
    }
    assert.equal(createAuto('c').status, 0);
    assert.equal(subnetOf('c'), '192.168.0.0/20');

    // A default route does not block anything.
    ip(h, 'route', 'add', 'default', 'via', '10.250.0.2');
    assert.equal(createAuto('d').status, 0);
    assert.equal(subnetOf('d'), '192.168.16.0/20');
  });
});
