// Route injection on the real kernel: `tsnet route add|del|ls` through the real CLI in a child process, and
// the chained CNI plugin `route` (routes from its config, reported in the result, removed on DEL).
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { describe, it } from 'node:test';
import { SUPPORTED_VERSIONS } from '../plugins/cni/types.js';
import { cni, cniOk } from './cni-exec.js';
import { ip, ipj, needsRoot, world } from './harness.js';
import { CLI, snapshot, tsnet, tsnetOk } from './attach-cli.js';

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

describe('tsnet route replace, proto, scope and src', { skip: needsRoot }, () => {
  it('replace swaps the route to a destination; proto, scope and src reach the kernel', (t) => {
    const { h, c } = setup(t);
    tsnetOk(h, 'route', 'add', c, '10.50.0.0/16', 'via', '192.168.115.2', 'proto', 'dhcp', 'src', '192.168.115.10');
    let r = ipj(c, 'route', 'show', '10.50.0.0/16')[0];
    assert.equal(r.gateway, '192.168.115.2');
    assert.equal(r.protocol, 'dhcp');
    assert.equal(r.prefsrc, '192.168.115.10');
    const dup = tsnet(h, 'route', 'add', c, '10.50.0.0/16', 'via', '192.168.115.3');
    assert.notEqual(dup.status, 0, 'add refuses a second route to the same destination');
    tsnetOk(h, 'route', 'replace', c, '10.50.0.0/16', 'via', '192.168.115.3');
    const all = ipj(c, 'route', 'show', '10.50.0.0/16');
    assert.equal(all.length, 1, 'replaced, not added');
    assert.equal(all[0].gateway, '192.168.115.3');
    tsnetOk(h, 'route', 'replace', c, '10.51.0.0/16', 'dev', 'eth1', 'scope', 'link', 'proto', 'static');
    r = ipj(c, 'route', 'show', '10.51.0.0/16')[0];
    assert.equal(r.scope, 'link');
    assert.equal(r.protocol, 'static');
    const bad = tsnet(h, 'route', 'add', c, '10.52.0.0/16', 'via', '192.168.115.2', 'src', 'fd00::1');
    assert.notEqual(bad.status, 0);
    assert.match(bad.stderr, /src fd00::1: is IPv6 but the destination is IPv4/);
  });
});

describe("tsnet route never edits the host's own routes unless --host says so", { skip: needsRoot }, () => {
  it('refuses a host pid, /proc/self/ns/net, the netns tsnet runs in and pid 1 of its pid namespace; --host does it', async (t) => {
    const w = world(t);
    const h = w.netns('host'); // plays the host: its uplink carries its default route
    const far = w.netns('far');
    const other = w.netns('other');
    ip(null, 'link', 'add', 'up0', 'netns', h, 'type', 'veth', 'peer', 'name', 'up1', 'netns', far);
    ip(h, 'addr', 'add', '10.66.0.2/24', 'dev', 'up0');
    ip(h, 'link', 'set', 'up0', 'up');
    ip(far, 'link', 'set', 'up1', 'up');
    ip(h, 'route', 'add', 'default', 'via', '10.66.0.1');
    // A process of "the host", such as a host-mode container's: its pid names the host's netns.
    const sleeper = spawn('ip', ['netns', 'exec', h, 'sleep', '600'], { stdio: 'ignore' });
    w.defer(() => void sleeper.kill('SIGKILL'));
    const hostPid = String(sleeper.pid); // ip netns exec execs sleep in place: same pid, once inside h
    const inH = () => {
      try {
        return statSync(`/proc/${hostPid}/ns/net`).ino === statSync(`/run/netns/${h}`).ino;
      } catch {
        return false;
      }
    };
    for (let i = 0; i < 500 && !inH(); i++) await new Promise((res) => setTimeout(res, 10));
    assert.ok(inH(), 'the host process runs in the netns that plays the host');
    const before = snapshot(h);
    const refused = (r: { status: number | null; stderr: string }, what: string) => {
      assert.notEqual(r.status, 0, `${what} must be refused`);
      assert.match(r.stderr, /^tsnet: container "[^"]+": is the host's network namespace .*--host/, what);
      assert.deepEqual(snapshot(h), before, `${what}: the host's routes are unchanged`);
    };
    for (const target of [hostPid, '/proc/self/ns/net', `/run/netns/${h}`, h]) {
      refused(tsnet(h, 'route', 'del', target, 'default'), `route del ${target} default`);
      refused(tsnet(h, 'route', 'add', target, '10.200.0.0/16', 'via', '10.66.0.1'), `route add ${target} 10.200.0.0/16`);
    }
    // tsnet in a pid namespace of its own: pid 1 there is tsnet itself, in the host's netns …
    const inPidNs = (cmd: string[]) =>
      spawnSync('ip', ['netns', 'exec', h, 'unshare', '--pid', '--fork', '--mount-proc', ...cmd], { encoding: 'utf8', timeout: 60_000 });
    refused(inPidNs([process.execPath, CLI, 'route', 'del', '1', 'default']), 'route del 1 default (in a pid namespace)');
    // … and pid 1 of that pid namespace is in the host's netns while tsnet runs in another one.
    refused(
      inPidNs(['sh', '-c', `ip netns exec ${other} ${process.execPath} ${CLI} route del 1 default & wait $!`]),
      'route del 1 default (pid 1 of the pid namespace in the host netns)',
    );
    // The chained CNI plugin refuses the netns it runs in (code 4), as the skel does for every such plugin.
    const viaCni = cni({
      hostNs: h,
      plugin: 'route',
      command: 'ADD',
      netns: `/run/netns/${h}`,
      ifname: 'up0',
      conf: { cniVersion: '1.0.0', name: 'inject', type: 'route', routes: [{ dst: '10.200.0.0/16', gw: '10.66.0.1' }] },
    });
    assert.equal(viaCni.json?.code, 4, viaCni.stdout);
    assert.match(viaCni.json.msg, /own network namespace/);
    assert.deepEqual(snapshot(h), before, 'CNI ADD: the host routes are unchanged');

    // Said explicitly, it is done.
    tsnetOk(h, 'route', 'add', '--host', hostPid, '10.200.0.0/16', 'via', '10.66.0.1');
    assert.ok(ipj(h, 'route', 'show').some((r: any) => r.dst === '10.200.0.0/16' && r.gateway === '10.66.0.1'));
    tsnetOk(h, 'route', 'del', '--host', '/proc/self/ns/net', '10.200.0.0/16');
    assert.deepEqual(snapshot(h), before);
    tsnetOk(h, 'route', 'del', '--host', h, 'default');
    assert.equal(ipj(h, 'route', 'show', 'default').length, 0, '--host deleted the default route of the host');
    // A container's netns still needs no --host.
    const c = w.netns('ctr');
    ip(c, 'link', 'set', 'lo', 'up');
    tsnetOk(h, 'route', 'add', c, '10.201.0.0/16', 'dev', 'lo');
    assert.ok(ipj(c, 'route', 'show').some((r: any) => r.dst === '10.201.0.0/16'));
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
