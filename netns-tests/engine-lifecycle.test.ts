// Container lifecycle as Docker has it: what a container whose supervisor was killed (kill -9, no exit hook)
// held — veth, address, published-port rules and port — is reclaimed by the next command that looks (ps, run,
// inspect), and inspect shows no address it no longer holds; `rm -f a nosuch b` removes a and b, reports
// nosuch and exits 0 (as Docker 20.10; without -f it exits 1); everything after the image is the container's command. The engine runs in a
// namespace that plays the host (entered with nsenter).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { ipj, needsRoot } from './harness.js';
import { bridgeNetwork, engineHost, hostBind, httpBody, nftTable } from './engine-host.js';

function waitGone(pid: number): void {
  for (let i = 0; i < 500 && existsSync(`/proc/${pid}`); i++) spawnSync('sleep', ['0.02']);
  assert.ok(!existsSync(`/proc/${pid}`), `pid ${pid} still there`);
}

test('container lifecycle as Docker has it', { skip: needsRoot }, async (t: TestContext) => {
  const h = engineHost(t, 'lifehost', { bins: 'sh,sleep,echo,busybox,mkdir' });
  const { host, e } = h;
  const { net, veths } = bridgeNetwork(h, 'l', ['10.93.0.0/24']);
  const allocations = () => JSON.parse(e.ok('network', 'inspect', net))[0].allocations;
  const state = (id: string) => JSON.parse(readFileSync(join(e.root, 'containers', id, 'state.json'), 'utf8'));

  for (const looker of ['ps', 'inspect', 'run', 'rm'] as const) {
    await t.test(`a container whose supervisor was killed is reclaimed by the next ${looker}`, () => {
      const id = e.ok('run', '-d', '--net', net, '-p', '18201:80', 'img', 'sleep', '300').trim();
      assert.equal(veths().length, 1);
      assert.match(nftTable(host), new RegExp(`ports:${id}`));
      assert.equal(Object.keys(allocations()).length, 1);
      const st = state(id);
      process.kill(st.supervisorPid, 'SIGKILL');
      waitGone(st.supervisorPid);
      waitGone(st.pid);
      // nothing looked yet: the veth, rule and address are still held
      assert.equal(veths().length, 1, 'no one reclaimed it yet');
      if (looker === 'ps') assert.match(e.ok('ps', '-a'), /Exited \(137\)/);
      if (looker === 'inspect') {
        const doc = e.inspect(id);
        assert.equal(doc.State.Running, false);
        assert.equal(doc.NetworkSettings.Networks[net].IPAddress, '', 'no address it no longer holds');
        assert.deepEqual(doc.NetworkSettings.Ports, {});
      }
      if (looker === 'run') e.ok('run', '--rm', '--net', 'none', 'img', 'echo', 'hi');
      if (looker === 'rm') e.ok('rm', id); // no -f: it is not running
      assert.deepEqual(veths(), [], 'veth reclaimed');
      assert.doesNotMatch(nftTable(host), /ports:/, 'published-port rules reclaimed');
      assert.deepEqual(allocations(), {}, 'address released');
      assert.equal(hostBind(host, 18201), 0, 'host port free');
      if (looker === 'rm') assert.deepEqual(e.ids(), [], 'and the container is gone');
      else e.ok('rm', id);
    });
  }

  await t.test('stop keeps the container; start and restart bring its network, address pin and ports back', () => {
    const httpd = 'mkdir -p /www && echo again > /www/index.html && exec busybox httpd -f -p 80 -h /www';
    const id = e.ok('run', '-d', '--name', 's', '--net', net, '--ip', '10.93.0.50', '-p', '18211:80', 'img', 'sh', '-c', httpd).trim();
    const serving = () => {
      let body = '';
      for (let i = 0; i < 50 && !body; i++, spawnSync('sleep', ['0.1'])) body = httpBody(host, '127.0.0.1', 18211);
      return body;
    };
    const up = () => {
      assert.equal(serving(), 'again');
      assert.equal(veths().length, 1);
      assert.equal(e.inspect(id).NetworkSettings.Networks[net].IPAddress, '10.93.0.50', 'the pinned address');
      assert.equal(hostBind(host, 18211), 98, 'host port held');
      assert.equal(e.ok('port', 's').trim(), '80/tcp -> 0.0.0.0:18211');
      assert.equal(e.ok('port', 's', '80').trim(), '0.0.0.0:18211');
      assert.equal(e.ok('port', 's', '80/tcp').trim(), '0.0.0.0:18211');
      const ep = JSON.parse(e.ok('inspect', '-f', '{{json .NetworkSettings.Networks}}', 's'))[net];
      assert.deepEqual(ep.IPAMConfig, { IPv4Address: '10.93.0.50' }, 'the --ip asked for, as Docker shows it');
    };
    up();
    e.ok('stop', '-t', '1', 's');
    assert.deepEqual(e.ids(), [id], 'stop keeps the container');
    assert.deepEqual(veths(), []);
    assert.doesNotMatch(nftTable(host), /ports:/);
    assert.deepEqual(allocations(), {});
    assert.equal(hostBind(host, 18211), 0, 'host port free while stopped');
    assert.equal(e.inspect(id).NetworkSettings.Networks[net].IPAddress, '');
    // Docker's fields of the endpoint: the --ip asked for (kept while stopped), the network's id
    const ep = JSON.parse(e.ok('inspect', '-f', '{{json .NetworkSettings.Networks}}', 's'))[net];
    assert.deepEqual(ep.IPAMConfig, { IPv4Address: '10.93.0.50' });
    assert.equal(ep.NetworkID, JSON.parse(e.ok('network', 'inspect', net))[0].id);
    assert.equal(e.ok('port', 's'), '');
    // as docker port: a port given without its protocol is named with /tcp, on a stopped container too
    const none = e.tsnet('port', 's', '80');
    assert.notEqual(none.status, 0);
    assert.match(none.stderr, /no public port '80\/tcp' published/);
    assert.equal(e.ok('start', 's'), 's\n');
    up();
    const pid = e.inspect(id).State.Pid;
    assert.equal(e.ok('restart', '-t', '1', 's'), 's\n');
    const pid2 = e.inspect(id).State.Pid;
    assert.notEqual(pid2, pid, 'a new process');
    up();
    // a start of a running container changes nothing
    e.ok('start', 's');
    assert.equal(e.inspect(id).State.Pid, pid2);
    e.ok('rm', '-f', 's');
  });

  await t.test('networks added with network connect come back on start and restart, with their --ip, as Docker keeps them', () => {
    const { net: net2 } = bridgeNetwork(h, 'c', ['10.93.5.0/24']);
    const { net: net3 } = bridgeNetwork(h, 'g', ['10.93.6.0/24']);
    const id = e.ok('run', '-d', '--name', 'cn', '--net', net, 'img', 'sleep', '300').trim();
    e.ok('network', 'connect', '--ip', '10.93.5.40', net2, 'cn');
    const nets = () => JSON.parse(e.ok('inspect', '-f', '{{json .NetworkSettings.Networks}}', 'cn'));
    const eth1 = () =>
      ipj(`tsnet-${id.slice(0, 12)}`, '-4', 'addr', 'show')
        .filter((l: any) => l.ifname === 'eth1')
        .flatMap((l: any) => l.addr_info.map((a: any) => a.local));
    const connected = (what: string) => {
      assert.equal(nets()[net2].IPAddress, '10.93.5.40', what);
      assert.deepEqual(nets()[net2].IPAMConfig, { IPv4Address: '10.93.5.40' }, `${what}: the --ip connect asked for`);
      assert.deepEqual(eth1(), ['10.93.5.40'], `${what}: in the kernel`);
    };
    connected('connected');
    e.ok('restart', '-t', '1', 'cn');
    connected('after restart');
    e.ok('stop', '-t', '1', 'cn');
    assert.deepEqual(Object.keys(nets()).sort(), [net, net2].sort(), 'a stopped container lists both networks');
    e.ok('start', 'cn');
    connected('after stop and start');
    // disconnected while stopped: it stays off at the next start
    e.ok('stop', '-t', '1', 'cn');
    e.ok('network', 'disconnect', net2, 'cn');
    e.ok('start', 'cn');
    assert.deepEqual(Object.keys(nets()), [net]);
    assert.deepEqual(eth1(), []);
    // connected while stopped: recorded and listed (no address), connected at the next start, as Docker's
    e.ok('stop', '-t', '1', 'cn');
    assert.equal(e.ok('network', 'connect', '--ip', '10.93.5.41', net2, 'cn'), 'eth1\n');
    assert.deepEqual(Object.keys(nets()).sort(), [net, net2].sort());
    assert.equal(nets()[net2].IPAddress, '');
    assert.match(e.ok('ps', '-a', '--format', '{{.Names}} {{.Networks}}'), new RegExp(`^cn ${net},${net2}$`, 'm'));
    e.ok('start', 'cn');
    assert.deepEqual(eth1(), ['10.93.5.41']);
    e.ok('network', 'disconnect', net2, 'cn');
    // a connected network removed while the container is stopped: the start is refused, nothing runs
    e.ok('network', 'connect', net3, 'cn');
    e.ok('stop', '-t', '1', 'cn');
    e.ok('network', 'rm', net3);
    const r = e.tsnet('start', 'cn');
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, new RegExp(`network "${net3}" it is connected to no longer exists`));
    assert.equal(e.inspect('cn').State.Status, 'exited');
    assert.deepEqual(veths(), []);
    e.ok('rm', '-f', 'cn');
  });

  await t.test('a start refused because its network is gone leaves the container as it was, its exit status kept', () => {
    const { net: gone } = bridgeNetwork(h, 'x', ['10.93.7.0/24']);
    assert.equal(e.tsnet('run', '--name', 'ng', '--net', gone, 'img', 'sh', '-c', 'exit 7').status, 7);
    const before = e.inspect('ng').State;
    assert.equal(before.ExitCode, 7);
    e.ok('network', 'rm', gone);
    const r = e.tsnet('start', 'ng');
    assert.notEqual(r.status, 0);
    assert.deepEqual(e.inspect('ng').State, before, 'state as it was');
    assert.match(e.ok('ps', '-a', '--format', '{{.Names}} {{.Status}}'), /^ng Exited \(7\) /m);
    assert.match(r.stderr, new RegExp(`network "${gone}" no longer exists`));
    e.ok('rm', 'ng');
  });

  await t.test('stop, kill and inspect of several containers with one missing act on the others and exit 1, as Docker', () => {
    e.ok('run', '-d', '--name', 'm1', '--net', net, 'img', 'sleep', '300');
    e.ok('run', '-d', '--name', 'm2', '--net', net, 'img', 'sleep', '300');
    const ins = e.tsnet('inspect', '-f', '{{.Name}} {{.State.Status}}', 'm1', 'nosuch', 'm2');
    assert.equal(ins.status, 1);
    assert.equal(ins.stdout, '/m1 running\n/m2 running\n');
    assert.match(ins.stderr, /container 'nosuch': not found/);
    const none = e.tsnet('inspect', 'nosuch');
    assert.equal(none.status, 1);
    assert.deepEqual(JSON.parse(none.stdout), []);
    const stop = e.tsnet('stop', '-t', '1', 'nosuch', 'm1');
    assert.equal(stop.status, 1);
    assert.equal(stop.stdout, 'm1\n');
    assert.match(stop.stderr, /container 'nosuch': not found/);
    assert.equal(e.inspect('m1').State.Status, 'exited');
    // ps --filter as scripts use it: a status filter lists stopped containers without -a
    assert.equal(e.ok('ps', '--format', '{{.Names}}', '-f', 'status=exited', '-f', 'name=^m'), 'm1\n');
    assert.equal(e.ok('ps', '-q', '--filter', 'name=^m2$'), `${e.inspect('m2').Id.slice(0, 12)}\n`);
    assert.notEqual(e.tsnet('ps', '-f', 'bogus=1').status, 0);
    const kill = e.tsnet('kill', 'm1', 'm2');
    assert.equal(kill.status, 1, 'm1 is not running');
    assert.equal(kill.stdout, 'm2\n');
    assert.match(kill.stderr, /container m1: is not running/);
    assert.equal(e.inspect('m2').State.Status, 'exited');
    e.ok('rm', 'm1', 'm2');
  });

  // Docker 20.10's CLI: with -f a missing container is printed on stderr but is no failure (`docker rm -f x` is a
  // cleanup that succeeds whether or not x exists); without -f it is, and so is any other failure
  await t.test('rm -f a nosuch b removes a and b, reports nosuch, exits 0 as Docker does; rm without -f exits 1', () => {
    e.ok('run', '-d', '--name', 'a', '--net', net, 'img', 'sleep', '300');
    e.ok('run', '-d', '--name', 'b', '--net', net, 'img', 'sleep', '300');
    const r = e.tsnet('rm', '-f', 'a', 'nosuch', 'b');
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, 'a\nb\n');
    assert.match(r.stderr, /container 'nosuch': not found/);
    assert.deepEqual(e.ids(), []);
    assert.deepEqual(veths(), []);
    const alone = e.tsnet('rm', '-f', 'nosuch');
    assert.equal(alone.status, 0);
    assert.match(alone.stderr, /container 'nosuch': not found/);
    // without -f a missing container fails the command (the others are still removed), as does a running one
    e.ok('run', '-d', '--name', 'c', '--net', net, 'img', 'sleep', '300');
    e.ok('run', '--name', 'd', '--net', net, 'img', 'echo', 'x');
    const plain = e.tsnet('rm', 'd', 'nosuch', 'c');
    assert.equal(plain.status, 1);
    assert.equal(plain.stdout, 'd\n');
    assert.match(plain.stderr, /container 'nosuch': not found/);
    assert.match(plain.stderr, /container c: is running/);
    e.ok('rm', '-f', 'c');
    assert.deepEqual(e.ids(), []);
  });

  await t.test('everything after the image is the command, flags included', () => {
    const r = e.tsnet('run', '--rm', '--net', 'none', 'img', 'echo', '-h', '--help', '-d', '--rm', '-p', '1:1');
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, '-h --help -d --rm -p 1:1\n');
  });
});
