// Published ports as Docker publishes them: the host port is bound (a port a host process uses is refused, and
// no host process can take it while the container holds it), a host IP that is not the host's is refused, and
// neither refusal leaves a container record, a rule or an address; `-p 80` takes a free ephemeral port,
// ranges publish one port each, udp is reserved too, and `tsnet port` prints what docker port prints. The
// engine runs in a namespace that plays the host (entered with nsenter); traffic stays inside it.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { needsRoot } from './harness.js';
import { bridgeNetwork, engineHost, hostBind, hostListener, httpBody, HTTPD, nftTable } from './engine-host.js';

test('published ports are reserved and refused as Docker does', { skip: needsRoot }, async (t: TestContext) => {
  const h = engineHost(t, 'porthost', { bins: 'sh,busybox,sleep,mkdir' });
  const { w, host, e } = h;
  const { net, veths } = bridgeNetwork(h, 'p', ['10.91.0.0/24']);
  const nothingMade = (what: string) => {
    assert.deepEqual(e.ids(), [], `${what}: no container record`);
    assert.doesNotMatch(nftTable(host), /ports:/, `${what}: no published-port rule`);
    assert.deepEqual(veths(), [], `${what}: no veth on the bridge`);
    assert.deepEqual(JSON.parse(e.ok('network', 'inspect', net))[0].allocations, {}, `${what}: no address held`);
  };

  await t.test('a port a host process listens on is refused, and nothing is made', async () => {
    const listener = await hostListener(host, 18181);
    try {
      const r = e.tsnet('run', '-d', '--net', net, '-p', '18181:80', 'img', 'sleep', '30');
      assert.notEqual(r.status, 0, r.stdout);
      assert.match(r.stderr, /18181\/tcp on 0\.0\.0\.0: address already in use/);
      nothingMade('port in use');
    } finally {
      listener.kill('SIGKILL');
    }
  });

  await t.test('a host IP that is not an address of this host is refused, and nothing is made', () => {
    const r = e.tsnet('run', '-d', '--net', net, '-p', '1.2.3.4:18182:80', 'img', 'sleep', '30');
    assert.notEqual(r.status, 0, r.stdout);
    assert.match(r.stderr, /host IP 1\.2\.3\.4 is not an address of this host/);
    nothingMade('foreign host IP');
  });

  await t.test('a published port is held: a later host process cannot bind it; it is free again after rm', () => {
    e.ok('run', '-d', '--name', 'web', '--net', net, '-p', '18183:80', '-p', '18184:53/udp', 'img', 'sh', '-c', HTTPD('held'));
    assert.equal(hostBind(host, 18183, { reuseAddr: true }), 98, 'tcp port taken by the container');
    assert.equal(hostBind(host, 18184, { proto: 'udp', reuseAddr: true }), 98, 'udp port taken by the container');
    let body = '';
    for (let i = 0; i < 50 && !body; i++, spawnSync('sleep', ['0.1'])) body = httpBody(host, '127.0.0.1', 18183);
    assert.equal(body, 'held');
    // a second container asking for it is told who has it
    const clash = e.tsnet('run', '-d', '--net', net, '-p', '18183:81', 'img', 'sleep', '30');
    assert.notEqual(clash.status, 0);
    assert.match(clash.stderr, /18183\/tcp is already published by container/);
    e.ok('rm', '-f', 'web');
    assert.equal(hostBind(host, 18183, { reuseAddr: true }), 0, 'tcp port free after rm');
    assert.equal(hostBind(host, 18184, { proto: 'udp', reuseAddr: true }), 0, 'udp port free after rm');
    nothingMade('after rm -f');
  });

  await t.test('-p 80 takes an ephemeral port, ranges publish each port; tsnet port prints them', () => {
    e.ok('run', '-d', '--name', 'rnd', '--net', net, '-p', '80', '-p', '18190-18191:80-81', 'img', 'sh', '-c', HTTPD('random'));
    const lines = e.ok('port', 'rnd').trim().split('\n');
    const [lo, hi] = spawnSync('ip', ['netns', 'exec', host, 'cat', '/proc/sys/net/ipv4/ip_local_port_range'], { encoding: 'utf8' })
      .stdout.trim()
      .split(/\s+/)
      .map(Number);
    assert.equal(lines.length, 3, lines.join('\n'));
    const m = /^80\/tcp -> 0\.0\.0\.0:(\d+)$/.exec(lines[0]!);
    assert.ok(m, lines[0]);
    const rnd = Number(m[1]);
    assert.ok(rnd >= lo! && rnd <= hi!, `${rnd} in ${lo}-${hi}`);
    assert.deepEqual(lines.slice(1), ['80/tcp -> 0.0.0.0:18190', '81/tcp -> 0.0.0.0:18191']);
    assert.equal(e.ok('port', 'rnd', '81').trim(), '0.0.0.0:18191');
    assert.equal(hostBind(host, rnd, { reuseAddr: true }), 98, 'the random port is held');
    let body = '';
    for (let i = 0; i < 50 && !body; i++, spawnSync('sleep', ['0.1'])) body = httpBody(host, '127.0.0.1', rnd);
    assert.equal(body, 'random');
    assert.equal(httpBody(host, '127.0.0.1', 18190), 'random');
    const rules = nftTable(host);
    for (const p of [rnd, 18190, 18191]) assert.match(rules, new RegExp(`tcp dport ${p} `), `a DNAT rule for ${p}`);
    const bad = e.tsnet('port', 'rnd', '82');
    assert.notEqual(bad.status, 0);
    e.ok('rm', '-f', 'rnd');
    nothingMade('after rm -f of the random-port container');
  });

  await t.test('a host range for one container port takes its first free port, as Docker; a range with none free is refused', async () => {
    // 18195 published by a container, 18196 held by a host process: the range 18195-18198 gives 18197
    e.ok('run', '-d', '--name', 'ra', '--net', net, '-p', '18195:80', 'img', 'sleep', '300');
    const listener = await hostListener(host, 18196);
    try {
      e.ok(
        'run',
        '-d',
        '--name',
        'rb',
        '--net',
        net,
        '-p',
        '18195-18198:80',
        '-p',
        '18195-18196:53/udp',
        'img',
        'sh',
        '-c',
        HTTPD('ranged'),
      );
      assert.deepEqual(e.ok('port', 'rb').trim().split('\n'), ['80/tcp -> 0.0.0.0:18197', '53/udp -> 0.0.0.0:18195']);
      assert.equal(hostBind(host, 18197), 98, 'the port taken from the range is held');
      let body = '';
      for (let i = 0; i < 50 && !body; i++, spawnSync('sleep', ['0.1'])) body = httpBody(host, '127.0.0.1', 18197);
      assert.equal(body, 'ranged');
      // none free in 18195-18196: refused, nothing made for it
      const r = e.tsnet('run', '-d', '--name', 'rc', '--net', net, '-p', '18195-18196:80', 'img', 'sleep', '30');
      assert.notEqual(r.status, 0, r.stdout);
      assert.match(r.stderr, /no host port from 18195 to 18196 is free/);
      assert.equal(e.ids().length, 2, 'no record for the refused container');
      assert.equal(veths().length, 2);
    } finally {
      listener.kill('SIGKILL');
    }
    e.ok('rm', '-f', 'ra', 'rb');
    nothingMade('after rm -f of the range containers');
  });

  await t.test('hairpin: a container reaches its own published port, and so do others, through host addresses', () => {
    spawnSync('ip', ['-n', host, 'addr', 'add', '192.0.2.10/24', 'dev', 'lo']); // an address of the "host"
    e.ok('run', '-d', '--name', 'hp', '--net', net, '-p', '18195:80', 'img', 'sh', '-c', HTTPD('hairpin'));
    e.ok('run', '-d', '--name', 'peer', '--net', net, 'img', 'sleep', '120');
    const get = (from: string, addr: string) => {
      let out = '';
      for (let i = 0; i < 30 && !out.includes('hairpin'); i++)
        out = e.tsnet('exec', from, 'sh', '-c', `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | busybox nc -w 2 ${addr} 18195`).stdout;
      return out.trim().split('\n').pop();
    };
    for (const addr of ['10.91.0.1', '192.0.2.10']) {
      assert.equal(get('hp', addr), 'hairpin', `hp to itself via ${addr}`);
      assert.equal(get('peer', addr), 'hairpin', `peer via ${addr}`);
    }
    e.ok('rm', '-f', 'hp', 'peer');
    nothingMade('after the hairpin containers');
  });

  await t.test("-P publishes the image's exposed ports on free host ports", () => {
    const work = w.tmpdir();
    const base = JSON.parse(e.ok('image', 'ls', '--json')).find((i: any) => i.name === 'img:latest');
    mkdirSync(join(work, 'save', 'l'), { recursive: true });
    spawnSync('tar', ['-cf', join(work, 'save', 'l', 'layer.tar'), '-C', join(e.root, 'layers', base.layers[0]), '.']);
    writeFileSync(
      join(work, 'save', 'cfg.json'),
      JSON.stringify({ config: { Cmd: ['sleep', '120'], ExposedPorts: { '80/tcp': {}, '53/udp': {} } } }),
    );
    writeFileSync(
      join(work, 'save', 'manifest.json'),
      JSON.stringify([{ Config: 'cfg.json', RepoTags: ['exposing:1'], Layers: ['l/layer.tar'] }]),
    );
    spawnSync('tar', ['-cf', join(work, 'saved.tar'), '-C', join(work, 'save'), '.']);
    e.ok('image', 'load', join(work, 'saved.tar'));
    e.ok('run', '-d', '--name', 'pall', '--net', net, '-P', 'exposing:1');
    const lines = e.ok('port', 'pall').trim().split('\n').sort();
    assert.equal(lines.length, 2, lines.join('\n'));
    assert.match(lines[0]!, /^53\/udp -> 0\.0\.0\.0:\d+$/);
    assert.match(lines[1]!, /^80\/tcp -> 0\.0\.0\.0:\d+$/);
    const tcp = Number(lines[1]!.split(':').pop());
    assert.equal(hostBind(host, tcp, { reuseAddr: true }), 98, 'the exposed port is held');
    assert.match(nftTable(host), new RegExp(`tcp dport ${tcp} `));
    // Docker's Config.ExposedPorts: the image's (and any -p's) container ports
    assert.equal(e.ok('inspect', '-f', '{{json .Config.ExposedPorts}}', 'pall').trim(), '{"53/udp":{},"80/tcp":{}}');
    e.ok('rm', '-f', 'pall');
    // an image that records no exposed ports: -P publishes nothing (only the -p given)
    e.ok('run', '-d', '--name', 'none', '--net', net, '-P', '-p', '18199:8080', 'img', 'sleep', '60');
    assert.equal(e.ok('port', 'none'), '8080/tcp -> 0.0.0.0:18199\n');
    assert.equal(
      e.ok('inspect', '-f', '{{json .Config.ExposedPorts}}', 'none').trim(),
      '{"8080/tcp":{}}',
      "a published port is exposed, as Docker's",
    );
    e.ok('rm', '-f', 'none');
    // --expose adds ports -P publishes (a range one by one; one the image exposes too, once), as Docker
    e.ok('run', '-d', '--name', 'exp', '--net', net, '-P', '--expose', '80', '--expose', '9000-9001/udp', 'exposing:1');
    const exp = e
      .ok('port', 'exp')
      .trim()
      .split('\n')
      .map((l) => l.split(' -> ')[0])
      .sort();
    assert.deepEqual(exp, ['53/udp', '80/tcp', '9000/udp', '9001/udp']);
    assert.equal(
      e.ok('inspect', '-f', '{{json .Config.ExposedPorts}}', 'exp').trim(),
      '{"53/udp":{},"80/tcp":{},"9000/udp":{},"9001/udp":{}}',
    );
    e.ok('rm', '-f', 'exp');
    const bad = e.tsnet('run', '-d', '--net', net, '--expose', '8080:80', 'img', 'sleep', '60');
    assert.notEqual(bad.status, 0);
    assert.match(bad.stderr, /--expose 8080:80: expected PORT/);
    nothingMade('after -P');
  });
});
