// Route injection on the real kernel: `tsnet route add|del|ls` through the real CLI in a child process, and
// the chained CNI plugin `route` (routes from its config, reported in the result, removed on DEL).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SUPPORTED_VERSIONS } from '../plugins/cni/types.js';
import { cni, cniOk } from './cni-exec.js';
import { ip, ipj, needsRoot, world } from './harness.js';
import { tsnet, tsnetOk } from './attach-cli.js';

function setup(t: Parameters<typeof world>[0]) {
  const w = world(t);
  const h = w.netns('host');
  const c = w.netns('ctr');
  ip(null, 'link', 'add', 'eth1', 'netns', c, 'type', 'veth', 'peer', 'name', 'v1', 'netns', h);
  ip(c, 'addr', 'add', '192.168.115.10/24', 'dev', 'eth1');
  ip(c, 'link', 'set', 'eth1', 'up');
  return { w, h, c };
}

describe('tsnet route', { skip: needsRoot }, () => {
  it('add, ls, del with dev, metric and table, by netns name, path and pid-less path', async (t) => {
    const { h, c } = setup(t);
    tsnetOk(h, 'route', 'add', c, '192.168.0.0/16', 'via', '192.168.115.2');
    tsnetOk(h, 'route', 'add', `/run/netns/${c}`, '10.0.0.0/8', 'via', '192.168.115.3', 'dev', 'eth1', 'metric', '50');
    tsnetOk(h, 'route', 'add', c, '172.16.0.0/12', 'via', '192.168.115.4', 'table', '100');
    const main = ipj(c, 'route', 'show');
    assert.ok(main.some((r: any) => r.dst === '192.168.0.0/16' && r.gateway === '192.168.115.2' && r.dev === 'eth1'));
    assert.ok(main.some((r: any) => r.dst === '10.0.0.0/8' && r.metric === 50));
    assert.ok(ipj(c, 'route', 'show', 'table', '100').some((r: any) => r.dst === '172.16.0.0/12' && r.gateway === '192.168.115.4'));
    const ls = tsnetOk(h, 'route', 'ls', c);
    assert.match(ls, /^10\.0\.0\.0\/8 via 192\.168\.115\.3 dev eth1 metric 50$/m);
    assert.match(tsnetOk(h, 'route', 'ls', c, '--table', '100'), /172\.16\.0\.0\/12 via 192\.168\.115\.4 dev eth1 table 100/);
    const dup = tsnet(h, 'route', 'add', c, '192.168.0.0/16', 'via', '192.168.115.2');
    assert.notEqual(dup.status, 0);
    assert.match(dup.stderr, /already exists.*tsnet route del/);
    tsnetOk(h, 'route', 'del', c, '192.168.0.0/16', 'via', '192.168.115.2');
    tsnetOk(h, 'route', 'del', c, '172.16.0.0/12', 'table', '100');
    assert.equal(
      ipj(c, 'route', 'show').some((r: any) => r.dst === '192.168.0.0/16'),
      false,
    );
    assert.equal(ipj(c, 'route', 'show', 'table', '100').length, 0);
  });
});

describe('route CNI plugin', { skip: needsRoot }, () => {
  for (const version of SUPPORTED_VERSIONS.filter((v) => v !== '0.3.0')) {
    it(`ADD appends routes to prevResult, CHECK finds them, DEL removes them (cniVersion ${version})`, async (t) => {
      const { h, c } = setup(t);
      const prevResult = {
        cniVersion: version,
        interfaces: [{ name: 'eth1', sandbox: `/run/netns/${c}` }],
        ips: [{ ...(version.startsWith('0.') ? { version: '4' } : {}), address: '192.168.115.10/24', interface: 0 }],
      };
      const conf = {
        cniVersion: version,
        name: 'inject',
        type: 'route',
        routes: [
          { dst: '192.168.0.0/16', gw: '192.168.115.2' },
          { dst: '10.0.0.0/8', gw: '192.168.115.3', metric: 7 },
        ],
        prevResult,
      };
      const call = { hostNs: h, plugin: 'route', netns: `/run/netns/${c}`, ifname: 'eth1' };
      const r = cniOk({ ...call, command: 'ADD', conf });
      assert.deepEqual(
        r.routes,
        [
          { dst: '192.168.0.0/16', gw: '192.168.115.2' },
          { dst: '10.0.0.0/8', gw: '192.168.115.3', ...(version.startsWith('0.') ? {} : { priority: 7 }) },
        ].map((x) => (version.startsWith('0.') ? { dst: x.dst, gw: x.gw } : x)),
      );
      assert.equal(r.ips[0].address, '192.168.115.10/24', 'prevResult passed through');
      assert.ok(ipj(c, 'route', 'show').some((x: any) => x.dst === '10.0.0.0/8' && x.metric === 7));
      if (version !== '0.3.1') assert.equal(cni({ ...call, command: 'CHECK', conf: { ...conf, prevResult: r } }).status, 0);
      cniOk({ ...call, command: 'DEL', conf });
      assert.equal(ipj(c, 'route', 'show').filter((x: any) => x.gateway).length, 0);
      cniOk({ ...call, command: 'DEL', conf });
    });
  }

  it('a bad route config is code 7; an unreachable gateway fails and leaves no partial routes', async (t) => {
    const { h, c } = setup(t);
    const call = { hostNs: h, plugin: 'route', netns: `/run/netns/${c}`, ifname: 'eth1' };
    const base = { cniVersion: '1.0.0', name: 'inject', type: 'route' };
    const bad = cni({ ...call, command: 'ADD', conf: { ...base, routes: [{ dst: '192.168.1.0/16', gw: '192.168.115.2' }] } });
    assert.equal(bad.json.code, 7);
    assert.match(bad.json.msg, /host bits set/);
    assert.match(bad.json.details, /did you mean 192\.168\.0\.0\/16/);
    const before = ipj(c, 'route', 'show');
    const unreachable = cni({
      ...call,
      command: 'ADD',
      conf: {
        ...base,
        routes: [
          { dst: '192.168.0.0/16', gw: '192.168.115.2' },
          { dst: '10.0.0.0/8', gw: '172.31.0.1' },
        ],
      },
    });
    assert.equal(unreachable.json.code, 100);
    assert.match(unreachable.json.msg, /gateway 172\.31\.0\.1 is not on a subnet/);
    assert.deepEqual(ipj(c, 'route', 'show'), before, 'the first route was rolled back');
  });
});
