// pipework's --direct-phys: a host NIC moved into the container, and given back to the host on detach under
// its name, with its MAC, addresses, routes and up state. This machine has no dummy module, so a veth end in a
// namespace that plays the host stands in for the NIC (its peer, in a `lan` namespace, is the segment's router).
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { ip, ipj, needsRoot, pings, world } from './harness.js';
import { snapshot, tsnet, tsnetOk } from './attach-cli.js';

/** The NIC as the host sees it: name, MAC, up, global addresses and non-kernel routes through it. */
function nicState(ns: string, name: string): unknown {
  const l = ipj(ns, 'addr', 'show', 'dev', name)[0];
  return {
    name: l.ifname,
    mac: l.address,
    up: l.flags.includes('UP'),
    addrs: (l.addr_info ?? []).filter((a: any) => a.scope === 'global').map((a: any) => `${a.local}/${a.prefixlen}`),
    routes: ipj(ns, 'route', 'show', 'dev', name)
      .filter((r: any) => r.protocol !== 'kernel')
      .map((r: any) => `${r.dst} ${r.gateway ?? ''}`),
  };
}

describe('tsnet attach --direct-phys', { skip: needsRoot }, () => {
  it('moves the NIC into the container and gives it back on detach as it was', (t) => {
    const w = world(t);
    const h = w.netns('phost');
    const c = w.netns('pctr');
    const lan = w.netns('plan');
    // nic1: the stand-in NIC (10.71.0.2/24, a route through the router 10.71.0.1); up0 carries the default route.
    ip(h, 'link', 'add', 'nic1', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', lan);
    ip(h, 'addr', 'add', '10.71.0.2/24', 'dev', 'nic1');
    ip(h, 'link', 'set', 'nic1', 'up');
    ip(lan, 'addr', 'add', '10.71.0.1/24', 'dev', 'eth0');
    ip(lan, 'link', 'set', 'eth0', 'up');
    ip(h, 'route', 'add', '10.72.0.0/16', 'via', '10.71.0.1');
    ip(h, 'link', 'add', 'up0', 'type', 'veth', 'peer', 'name', 'up0p', 'netns', lan);
    ip(h, 'addr', 'add', '10.70.0.2/24', 'dev', 'up0');
    ip(h, 'link', 'set', 'up0', 'up');
    ip(h, 'route', 'add', 'default', 'via', '10.70.0.1');
    ip(h, 'link', 'add', 'brx', 'type', 'bridge');
    const before = nicState(h, 'nic1');
    const snap = [snapshot(h), snapshot(c)];

    // Refused, with nothing changed: the NIC of the default route, a typo, a bridge.
    const uplink = tsnet(h, 'attach', '--direct-phys', 'up0', c, '10.70.0.5/24');
    assert.notEqual(uplink.status, 0, uplink.stdout);
    assert.match(uplink.stderr, /host interface up0: carries the host's default route .*--force/s);
    const typo = tsnet(h, 'attach', '--direct-phys', 'nic2', c, '10.71.0.9/24');
    assert.notEqual(typo.status, 0);
    assert.match(typo.stderr, /no such interface.*did you mean nic1/s);
    const bridge = tsnet(h, 'attach', '--direct-phys', 'brx', c, '10.71.0.9/24');
    assert.notEqual(bridge.status, 0);
    assert.match(bridge.stderr, /is a bridge/);
    assert.deepEqual([snapshot(h), snapshot(c)], snap, 'nothing changed by the refusals');

    assert.match(tsnetOk(h, 'attach', '--direct-phys', 'nic1', c, '10.71.0.9/24@10.71.0.1'), /NIC nic1 \(moved in/);
    assert.ok(!ipj(h, 'link', 'show').some((l: any) => l.ifname === 'nic1'), 'nic1 has left the host');
    const inside = ipj(c, 'addr', 'show', 'dev', 'eth1')[0];
    assert.equal(inside.address, (before as any).mac, 'the NIC itself (its MAC) is eth1 in the container');
    assert.deepEqual(
      inside.addr_info.filter((a: any) => a.scope === 'global').map((a: any) => `${a.local}/${a.prefixlen}`),
      ['10.71.0.9/24'],
    );
    assert.equal(ipj(c, 'route', 'show', 'default')[0]?.gateway, '10.71.0.1');
    assert.ok(pings(c, '10.71.0.1'), 'the container reaches the segment through the NIC');
    const ls = JSON.parse(tsnetOk(h, 'attach', 'ls', '--json')) as any[];
    const rec = ls.find((r) => r.container === c);
    assert.equal(rec?.mode, 'phys');
    assert.equal(rec?.state, 'present');
    assert.match(tsnetOk(h, 'attach', 'ls'), /NIC nic1 \(moved in\)/);

    tsnetOk(h, 'detach', c);
    assert.ok(!ipj(c, 'link', 'show').some((l: any) => l.ifname === 'eth1'), 'eth1 has left the container');
    assert.deepEqual(nicState(h, 'nic1'), before, 'nic1 is back with its name, MAC, addresses, routes and up state');
    assert.ok(pings(h, '10.71.0.1'), 'the host reaches the segment through nic1 again');
    assert.deepEqual(
      JSON.parse(tsnetOk(h, 'attach', 'ls', '--json')).filter((r: any) => r.container === c),
      [],
    );
  });

  it('--force moves the NIC of the default route, and detach puts the default route back', (t) => {
    const w = world(t);
    const h = w.netns('phost');
    const c = w.netns('pctr');
    const lan = w.netns('plan');
    ip(h, 'link', 'add', 'up0', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', lan);
    ip(h, 'addr', 'add', '10.73.0.2/24', 'dev', 'up0');
    ip(h, 'link', 'set', 'up0', 'up');
    ip(h, 'route', 'add', 'default', 'via', '10.73.0.1');
    const before = nicState(h, 'up0');
    tsnetOk(h, 'attach', '--direct-phys', '--force', '-i', 'wan0', 'up0', c, '0/0', 'U:web');
    const md5 = createHash('md5').update('web\n').digest('hex');
    assert.equal(ipj(c, 'link', 'show', 'dev', 'wan0')[0].address, `02:${md5.slice(0, 10).match(/../g)!.join(':')}`, 'the U:web MAC');
    assert.deepEqual(ipj(h, 'route', 'show', 'default'), [], "the host's default route went with the NIC");
    tsnetOk(h, 'detach', c, '-i', 'wan0');
    assert.deepEqual(nicState(h, 'up0'), before, 'up0 is back as it was: its MAC too, and the default route');
  });

  it('a failure after the move (no DHCP lease) gives the NIC back as it was (rollback)', (t) => {
    const w = world(t);
    const h = w.netns('phost');
    const c = w.netns('pctr');
    const lan = w.netns('plan');
    ip(h, 'link', 'add', 'nic1', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', lan);
    ip(h, 'addr', 'add', '10.76.0.2/24', 'dev', 'nic1');
    ip(h, 'link', 'set', 'nic1', 'up');
    ip(h, 'route', 'add', '10.77.0.0/16', 'via', '10.76.0.1');
    const before = nicState(h, 'nic1');
    // No DHCP server answers on the segment: the lease never comes, after the NIC has moved.
    const r = tsnet(h, 'attach', '--direct-phys', '--timeout', '3', 'nic1', c, 'udhcpc');
    assert.notEqual(r.status, 0, r.stdout);
    assert.match(r.stderr, /got no lease within 3s/);
    assert.ok(!ipj(c, 'link', 'show').some((l: any) => l.ifname === 'eth1'), 'nothing left in the container');
    assert.deepEqual(nicState(h, 'nic1'), before, 'nic1 is back with its name, MAC, addresses, routes and up state');
    assert.deepEqual(
      JSON.parse(tsnetOk(h, 'attach', 'ls', '--json')).filter((x: any) => x.container === c),
      [],
      'no record left',
    );
  });
});
