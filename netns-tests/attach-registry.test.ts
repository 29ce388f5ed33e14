// What attach may create and what detach may remove: a typo'd host interface is refused with nothing made (a
// missing bridge is made only for a br* name or --create, as pipework does); every attachment is in the
// registry (`tsnet attach ls`), and detach refuses the engine's eth0 and interfaces tsnet never made unless --force.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ip, ipj, needsRoot, world } from './harness.js';
import { snapshot, tsnet, tsnetOk } from './attach-cli.js';

describe('tsnet attach: host interfaces it may create', { skip: needsRoot }, () => {
  it('refuses a typo with the closest names and nothing made; creates br* as pipework does, or with --create', (t) => {
    const w = world(t);
    const h = w.netns('rhost');
    const c = w.netns('rctr');
    ip(h, 'link', 'add', 'lanbr', 'type', 'bridge');
    const before = [snapshot(h), snapshot(c)];

    const typo = tsnet(h, 'attach', 'lanbrr', c, '10.61.0.5/24');
    assert.notEqual(typo.status, 0, typo.stdout);
    assert.match(typo.stderr, /host interface lanbrr.*no such interface/s);
    assert.match(typo.stderr, /did you mean lanbr\?/);
    const ovs = tsnet(h, 'attach', 'ovs0', c, '10.61.0.5/24');
    assert.notEqual(ovs.status, 0);
    assert.match(ovs.stderr, /Open vSwitch/);
    assert.deepEqual([snapshot(h), snapshot(c)], before, 'nothing made in the host or the container');

    assert.match(tsnetOk(h, 'attach', 'brnew', c, '10.61.0.5/24'), /bridge brnew \(created\)/);
    const br = ipj(h, '-d', 'link', 'show', 'brnew')[0];
    assert.equal(br.linkinfo.info_kind, 'bridge');
    assert.ok(br.flags.includes('UP'));
    assert.match(tsnetOk(h, 'attach', '--create', '-i', 'eth2', 'lan1', c, '10.62.0.5/24'), /bridge lan1 \(created\)/);
    assert.equal(ipj(h, '-d', 'link', 'show', 'lan1')[0].linkinfo.info_kind, 'bridge');
  });
});

describe('tsnet attach ls and a safe detach', { skip: needsRoot }, () => {
  it('lists what attach made; detach refuses eth0 and foreign interfaces unless --force', (t) => {
    const w = world(t);
    const h = w.netns('lhost');
    const c = w.netns('lctr');
    // The engine's eth0 of a network, and an interface someone else made, both in the container.
    ip(null, 'link', 'add', 'eth0', 'netns', c, 'type', 'veth', 'peer', 'name', 'peer0', 'netns', h);
    ip(null, 'link', 'add', 'foreign0', 'netns', c, 'type', 'veth', 'peer', 'name', 'peerf', 'netns', h);
    tsnetOk(h, 'attach', 'br0', c, '10.63.0.5/24@10.63.0.1', '02:42:0a:3f:00:05');

    const ls = JSON.parse(tsnetOk(h, 'attach', 'ls', '--json')) as any[];
    const mine = ls.filter((r) => r.container === c);
    assert.equal(mine.length, 1);
    assert.equal(mine[0].ifname, 'eth1');
    assert.equal(mine[0].bridge, 'br0');
    assert.equal(mine[0].mac, '02:42:0a:3f:00:05');
    assert.deepEqual(mine[0].addresses, ['10.63.0.5/24']);
    assert.equal(mine[0].gateway, '10.63.0.1');
    assert.equal(mine[0].state, 'present');
    assert.equal(mine[0].hostVeth, ipj(h, 'link', 'show', 'master', 'br0')[0].ifname);
    assert.match(
      tsnetOk(h, 'attach', 'ls'),
      new RegExp(`${c}\\s+eth1\\s+br0 .*10\\.63\\.0\\.5/24\\s+10\\.63\\.0\\.1\\s+02:42:0a:3f:00:05\\s+present`),
    );

    const eth0 = tsnet(h, 'detach', c, '-i', 'eth0');
    assert.notEqual(eth0.status, 0);
    assert.match(eth0.stderr, /engine's eth0/);
    assert.match(eth0.stderr, /tsnet network disconnect/);
    const foreign = tsnet(h, 'detach', c, '-i', 'foreign0');
    assert.notEqual(foreign.status, 0);
    assert.match(foreign.stderr, /was not made by tsnet attach/);
    assert.equal(ipj(c, 'link', 'show', 'eth0').length, 1, 'eth0 is still there');
    assert.equal(ipj(c, 'link', 'show', 'foreign0').length, 1, 'foreign0 is still there');

    tsnetOk(h, 'detach', c, '-i', 'foreign0', '--force');
    assert.equal(ipj(c, 'link', 'show').filter((l: any) => l.ifname === 'foreign0').length, 0);
    tsnetOk(h, 'detach', c);
    assert.equal(ipj(c, 'link', 'show').filter((l: any) => l.ifname === 'eth1').length, 0);
    assert.equal((JSON.parse(tsnetOk(h, 'attach', 'ls', '--json')) as any[]).filter((r) => r.container === c).length, 0);
  });
});
