// The engine's bridge networking, end to end through the CLI: containers on a test network reach each other,
// -p publishes a port on the host's loopback and on the host's side of the bridge, and nothing of a container
// (veth, address, nftables rule, netns) is left after `run --rm` or `rm -f`. Each test uses its own network
// with a unique bridge and no masquerade, so nothing leaves the machine.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { get } from 'node:http';
import { describe, it } from 'node:test';
import { EngineFixture, leftovers } from '../engine/testing/cli.js';
import { ipj, needsRoot, world, type World } from './harness.js';

function httpGet(host: string, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = get({ host, port, path: '/', timeout: 3000 }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve(body));
    });
    req.on('timeout', () => req.destroy(new Error(`timeout talking to ${host}:${port}`)));
    req.on('error', reject);
  });
}

function nftOwners(): string {
  const r = spawnSync('nft', ['list', 'table', 'inet', 'tsnet'], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout : '';
}

/** An engine with its own root, an image, and a network with a unique bridge (removed afterwards). */
function engineWorld(t: Parameters<typeof world>[0], subnet: string): { w: World; e: EngineFixture; net: string; bridge: string } {
  const w = world(t);
  const e = new EngineFixture(w.tmpdir());
  const net = `tn${w.id}`;
  const bridge = `tbe${w.id}`;
  w.defer(() => {
    e.removeAll();
    e.tsnet('network', 'rm', '-f', net);
    spawnSync('ip', ['link', 'del', bridge]);
  });
  e.ok('image', 'from-host', 'img');
  e.ok('network', 'create', net, '--subnet', subnet, '--bridge', bridge, '--no-masquerade');
  return { w, e, net, bridge };
}

describe('engine bridge networking', { skip: needsRoot }, () => {
  it('two containers on one network ping each other by address; inspect shows the kernel truth', async (t) => {
    const { e, net, bridge } = engineWorld(t, '10.81.0.0/24');
    const a = e.ok('run', '-d', '--name', 'a', '--net', net, 'img', 'sleep', '60').trim();
    const b = e.ok('run', '-d', '--name', 'b', '--net', net, 'img', 'sleep', '60').trim();
    const ia = e.inspect(a).NetworkSettings.Networks[net];
    const ib = e.inspect(b).NetworkSettings.Networks[net];
    assert.equal(ia.Gateway, '10.81.0.1');
    assert.notEqual(ia.IPAddress, ib.IPAddress);
    // The kernel agrees with inspect: the address is on eth0 inside a's netns, with that MAC.
    const netns = `tsnet-${a.slice(0, 12)}`;
    const eth0 = ipj(netns, 'addr', 'show', 'dev', 'eth0')[0];
    assert.ok(eth0.addr_info.some((x: any) => x.local === ia.IPAddress && x.prefixlen === ia.IPPrefixLen));
    assert.equal(eth0.address, ia.MacAddress);
    assert.equal(ipj(null, 'link', 'show', bridge)[0].ifname, bridge);
    const ping = e.tsnet('exec', 'a', 'ping', '-c', '2', '-W', '1', ib.IPAddress);
    assert.equal(ping.status, 0, ping.stdout + ping.stderr);
    const back = e.tsnet('exec', 'b', 'ping', '-c', '1', '-W', '1', ia.IPAddress);
    assert.equal(back.status, 0, back.stdout + back.stderr);
  });

  it('-p 18080:80 reaches busybox httpd via the host loopback and the bridge address', async (t) => {
    const { e, net } = engineWorld(t, '10.82.0.0/24');
    const port = 18000 + Math.floor(Math.random() * 1000);
    const id = e
      .ok(
        'run',
        '-d',
        '--net',
        net,
        '-p',
        `${port}:80`,
        'img',
        'sh',
        '-c',
        'mkdir -p /www && echo published-ok > /www/index.html && exec busybox httpd -f -p 80 -h /www',
      )
      .trim();
    const deadline = Date.now() + 5000;
    let body = '';
    while (Date.now() < deadline) {
      body = await httpGet('127.0.0.1', port).catch(() => '');
      if (body) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(body.trim(), 'published-ok', 'via 127.0.0.1');
    assert.equal((await httpGet('10.82.0.1', port)).trim(), 'published-ok', "via the host's side of the bridge");
    assert.match(nftOwners(), new RegExp(`ports:${id}`));
    // The same host port again is refused, and that container leaves nothing behind.
    const clash = e.tsnet('run', '-d', '--name', 'clash', '--net', net, '-p', `${port}:81`, 'img', 'sleep', '30');
    assert.notEqual(clash.status, 0);
    assert.match(clash.stderr, new RegExp(`host port ${port}/tcp is already published by container ${id.slice(0, 12)}`));
    const clashId = e.ids().find((x) => x !== id);
    if (clashId)
      assert.deepEqual(
        leftovers(e.root, clashId).filter((l) => l.startsWith('netns')),
        [],
      );
    assert.equal((await httpGet('127.0.0.1', port)).trim(), 'published-ok', 'the first container keeps its port');
    e.ok('rm', '-f', id);
    assert.doesNotMatch(nftOwners(), new RegExp(`ports:${id}`), 'published port rules removed with the container');
    await assert.rejects(httpGet('127.0.0.1', port));
  });

  it('leaves no netns, veth, address or rule after run --rm and after rm -f', async (t) => {
    const { e, net, bridge } = engineWorld(t, '10.83.0.0/24');
    const portsBefore = () => ipj(null, 'link', 'show', 'master', bridge).map((l: any) => l.ifname);
    const r = e.tsnet('run', '--rm', '--net', net, 'img', 'ip', '-4', 'addr', 'show', 'eth0');
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /inet 10\.83\.0\.\d+\/24/);
    assert.deepEqual(portsBefore(), []);
    const id = e.ok('run', '-d', '--net', net, 'img', 'sleep', '60').trim();
    assert.equal(portsBefore().length, 1);
    e.ok('rm', '-f', id);
    assert.deepEqual(portsBefore(), []);
    assert.deepEqual(leftovers(e.root, id), []);
    const held = JSON.parse(e.ok('network', 'inspect', net))[0].allocations;
    assert.deepEqual(held, {}, 'every address released');
  });

  it('--net attach:BRIDGE:IP/LEN@GW gives the container a pipework-style interface', async (t) => {
    const { w, e } = engineWorld(t, '10.85.0.0/24');
    const br = `tba${w.id}`;
    w.defer(() => void spawnSync('ip', ['link', 'del', br]));
    const id = e.ok('run', '-d', '--net', `attach:${br}:192.168.117.10/24@192.168.117.1`, 'img', 'sleep', '60').trim();
    const netns = `tsnet-${id.slice(0, 12)}`;
    assert.ok(ipj(netns, 'addr', 'show', 'dev', 'eth0')[0].addr_info.some((a: any) => a.local === '192.168.117.10' && a.prefixlen === 24));
    assert.equal(ipj(netns, 'route', 'show', 'default')[0].gateway, '192.168.117.1');
    assert.equal(ipj(null, 'link', 'show', 'master', br).length, 1, 'host end on the bridge');
    assert.equal(e.inspect(id).NetworkSettings.Networks[br].IPAddress, '192.168.117.10');
    e.ok('rm', '-f', id);
    assert.deepEqual(ipj(null, 'link', 'show', 'master', br), []);
    const bad = e.tsnet('run', '--rm', '--net', `attach:${br}:192.168.117.11`, 'img', 'true');
    assert.notEqual(bad.status, 0);
    assert.match(bad.stderr, /expected BRIDGE:IP\/LEN/);
  });

  it('network connect adds an interface on a second network; disconnect and rm take it away', async (t) => {
    const { w, e, net } = engineWorld(t, '10.86.0.0/24');
    const net2 = `tm${w.id}`;
    const bridge2 = `tbm${w.id}`;
    w.defer(() => {
      e.tsnet('network', 'rm', '-f', net2);
      spawnSync('ip', ['link', 'del', bridge2]);
    });
    e.ok('network', 'create', net2, '--subnet', '10.87.0.0/24', '--bridge', bridge2, '--no-masquerade');
    const id = e.ok('run', '-d', '--net', net, 'img', 'sleep', '60').trim();
    assert.equal(e.ok('network', 'connect', net2, id).trim(), 'eth1');
    const netns = `tsnet-${id.slice(0, 12)}`;
    assert.ok(ipj(netns, 'addr', 'show', 'dev', 'eth1')[0].addr_info.some((a: any) => a.local === '10.87.0.2'));
    assert.equal(ipj(netns, 'route', 'show', 'default')[0].gateway, '10.86.0.1', 'the first network keeps the default route');
    assert.equal(e.inspect(id).NetworkSettings.Networks[net2].IPAddress, '10.87.0.2');
    assert.equal(e.tsnet('exec', id, 'ping', '-c', '1', '-W', '1', '10.87.0.1').status, 0, 'reaches the second gateway');
    const again = e.tsnet('network', 'connect', net2, id);
    assert.notEqual(again.status, 0);
    assert.match(again.stderr, /already connected/);
    e.ok('network', 'disconnect', net2, id);
    assert.equal(
      ipj(netns, 'link', 'show').some((l: any) => l.ifname === 'eth1'),
      false,
    );
    assert.deepEqual(JSON.parse(e.ok('network', 'inspect', net2))[0].allocations, {});
    e.ok('network', 'connect', net2, id);
    e.ok('rm', '-f', id);
    assert.deepEqual(JSON.parse(e.ok('network', 'inspect', net2))[0].allocations, {}, 'rm detaches connected networks too');
    assert.deepEqual(ipj(null, 'link', 'show', 'master', bridge2), []);
  });

  it('rm -f of a container whose network was force-removed replays its DEL from the cache', async (t) => {
    const { e, net, bridge } = engineWorld(t, '10.88.0.0/24');
    const id = e.ok('run', '-d', '--net', net, 'img', 'sleep', '60').trim();
    const ports = ipj(null, 'link', 'show', 'master', bridge).map((l: any) => l.ifname);
    assert.equal(ports.length, 1);
    const rm = e.tsnet('network', 'rm', '-f', net);
    assert.equal(rm.status, 0, rm.stderr);
    assert.equal(rm.stdout.trim(), net);
    assert.match(
      rm.stderr,
      new RegExp(`Warning: network ${net} removed; its bridge ${bridge} is kept: it still has ports \\(${ports[0]}\\)`),
    );
    assert.deepEqual(
      ipj(null, 'link', 'show', 'master', bridge).map((l: any) => l.ifname),
      ports,
      'the bridge and its port are left alone',
    );
    const cached = join(e.root, 'cni-cache', 'results', `${net}-${id}-eth0`);
    assert.ok(existsSync(cached), 'the attachment is cached');
    e.ok('rm', '-f', id);
    // The replayed DEL ran: the invoker dropped the cached attachment, and the veth is gone.
    assert.equal(existsSync(cached), false, 'the cached attachment is gone with its DEL');
    assert.deepEqual(
      ipj(null, 'link', 'show').filter((l: any) => l.ifname === ports[0]),
      [],
    );
    assert.equal(e.tsnet('inspect', id).status === 0, false, 'the container is gone');
  });

  it('an unknown network is refused with a hint, and nothing is left', async (t) => {
    const { e } = engineWorld(t, '10.84.0.0/24');
    const r = e.tsnet('run', '--rm', '--net', 'no-such-net', 'img', 'true');
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /no such network/);
    assert.match(r.stderr, /tsnet network create/);
    assert.deepEqual(
      e.ids().flatMap((id) => leftovers(e.root, id)),
      [],
    );
  });
});
