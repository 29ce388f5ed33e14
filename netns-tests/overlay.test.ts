// The overlay across three "hosts": three namespaces on one underlay switch (a bridge in a fourth namespace),
// etcd started by the test in a fifth on an address of that switch, tsnetd (`tsnet daemon --store`) in each
// host, containers added through the overlay CNI executable. Traffic flows only between these namespaces.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { ipj, needsRoot, pings, sh, world } from './harness.js';
import { needsEtcd } from '../ipam/cluster/testing/etcd.js';
import { EngineFixture } from '../engine/testing/cli.js';
import { addrOf, cluster, eventually, fdb, overlay } from './overlay-world.js';

const PER_HOST = 10;

describe('overlay across three hosts', { skip: needsRoot || needsEtcd }, () => {
  it('gives containers on three hosts distinct addresses and one L2 network; survives a dead host and a stopped etcd', async (t) => {
    const w = world(t);
    const c = await cluster(w, 3);
    const net = `ovl${w.id}`;
    // host 3 dies below: a short lease, so that its blocks come back soon; the others' outlive an etcd outage
    const conf = (h: number, name = net) => ({
      cniVersion: '1.0.0',
      name,
      type: 'overlay',
      store: c.store,
      subnet: name === net ? '10.201.0.0/24' : '10.202.0.0/24',
      vni: name === net ? 4321 : 4322,
      host: `h${h}`,
      leaseTtl: h === 3 ? 4 : 60,
    });
    const cni = (h: number, command: 'ADD' | 'DEL', id: string, ns: string, name = net) =>
      overlay(c.hosts[h - 1]!, command, conf(h, name), id, ns, c.roots[h - 1]!);

    // PER_HOST containers per host, all started at once
    const ctrs: { host: number; ns: string; id: string }[] = [];
    for (let h = 1; h <= 3; h++)
      for (let k = 0; k < PER_HOST; k++) ctrs.push({ host: h, ns: w.netns(`ovc${h}`), id: `c${h}-${k}-${w.id}` });
    const adds = await Promise.all(ctrs.map((x) => cni(x.host, 'ADD', x.id, x.ns)));
    for (const [i, r] of adds.entries()) assert.equal(r.status, 0, `ADD ${ctrs[i]!.id}: ${r.stderr} ${JSON.stringify(r.json)}`);
    const addrs = ctrs.map((x) => addrOf(x.ns));
    assert.equal(new Set(addrs).size, ctrs.length, `distinct addresses: ${addrs.join(' ')}`);
    for (const [i, a] of addrs.entries())
      assert.equal(`${a}/24`, adds[i]!.json.ips[0].address, 'the kernel has the address the result reports');

    // the data plane as the kernel reports it: vxlan VNI 4321 on the VTEP, in the bridge, MTU lowered by 50
    const h1 = c.hosts[0]!;
    const vx = ipj(h1, '-d', 'link', 'show', 'tsvx4321')[0];
    assert.equal(vx.linkinfo.info_kind, 'vxlan');
    assert.equal(vx.linkinfo.info_data.id, 4321);
    assert.equal(vx.linkinfo.info_data.local, '198.18.0.1');
    assert.equal(vx.master, 'tsov4321');
    assert.equal(vx.mtu, 1450);
    assert.equal(ipj(ctrs[0]!.ns, 'link', 'show', 'eth0')[0].mtu, 1450);

    // host 1's containers reach containers on hosts 2 and 3 (the daemons sync the entries)
    const on = (h: number) => ctrs.map((x, i) => ({ ...x, addr: addrs[i]! })).filter((x) => x.host === h);
    for (const target of [...on(2), ...on(3)]) {
      await eventually(
        `${on(1)[0]!.addr} (h1) → ${target.addr} (h${target.host})`,
        () => pings(on(1)[0]!.ns, target.addr),
        60,
        () =>
          [...c.logs]
            .map(
              ([h, l]) =>
                `${h}: ${l()}\n${sh('bridge', '-n', h, 'fdb', 'show', 'dev', 'tsvx4321')}${sh('ip', '-n', h, 'neigh', 'show', 'dev', 'tsvx4321')}`,
            )
            .join('\n'),
      );
    }
    const zeros = fdb(h1, 'tsvx4321')
      .filter((e) => e.mac === '00:00:00:00:00:00')
      .map((e) => e.dst)
      .sort();
    assert.deepEqual(zeros, ['198.18.0.2', '198.18.0.3'], 'flooding list: the other two VTEPs');

    // a container removed on host 2: unreachable, and its address handed out again
    const gone = on(2)[0]!;
    const del = await cni(2, 'DEL', gone.id, gone.ns);
    assert.equal(del.status, 0, del.stderr);
    assert.equal(pings(on(1)[0]!.ns, gone.addr), false);
    const reuse = { host: 2, ns: w.netns('ovc2'), id: `c2-new-${w.id}` };
    const again = await cni(2, 'ADD', reuse.id, reuse.ns);
    assert.equal(again.status, 0, again.stderr);
    assert.equal(addrOf(reuse.ns), gone.addr, `the freed address is reused; tsnetd on h2: ${c.logs.get(c.hosts[1]!)!()}`);
    await eventually(`h1 → reused ${gone.addr}`, () => pings(on(1)[0]!.ns, gone.addr));

    // host 3 dies (daemon and namespace gone): after its lease its addresses are free and the others drop its VTEP
    const d3 = c.daemons.get(c.hosts[2]!)!;
    const exited = new Promise((r) => d3.once('exit', r));
    d3.kill('SIGKILL');
    await exited;
    spawnSync('ip', ['netns', 'del', c.hosts[2]!]);
    const etcdctl = (...a: string[]) =>
      sh('ip', 'netns', 'exec', c.etcd.netns!, 'etcdctl', '--endpoints', `${c.etcd.address}:${c.etcd.port}`, ...a);
    await eventually('host 3 blocks released', () => !etcdctl('get', '--prefix', `/tsnet/v1/blocks/${net}/`).includes('"host":"h3"'));
    await eventually('host 1 dropped the VTEP of host 3', () => !fdb(h1, 'tsvx4321').some((e) => e.dst === '198.18.0.3'));
    assert.ok(
      fdb(h1, 'tsvx4321').some((e) => e.dst === '198.18.0.2'),
      'host 2 stays',
    );

    // the engine on hosts 1 and 2 (each with its tsnetd's root): network create joins (before etcd stops), run --net, network rm leaves
    const en = `${net}e`;
    const engines = [1, 2].map((h) => new EngineFixture(c.roots[h - 1]!, c.hosts[h - 1]!));
    for (const [i, e] of engines.entries()) {
      w.defer(() => e.removeAll());
      e.ok('image', 'from-host', 'img', '--bin', 'sh,ping,sleep,true');
      e.ok('network', 'create', '--driver', 'overlay', '--store', c.store, '--host-name', `h${i + 1}`, '--subnet', '10.203.0.0/24', en);
    }
    // etcd stopped: cross-host traffic goes on; a container that fits in a block its host holds starts anyway (no
    // etcd round trip) and is reachable at once; one that needs etcd (a network this host has not joined) fails
    // fast naming the store, and works once etcd is back
    await c.etcd.stop();
    assert.ok(pings(on(1)[0]!.ns, on(2)[1]!.addr, 3), 'h1 → h2 with etcd down');
    const late = { ns: w.netns('ovc1'), id: `c1-late-${w.id}` };
    const held = await cni(1, 'ADD', late.id, late.ns);
    assert.equal(held.status, 0, `a start in a held block needs no etcd: ${held.stderr} ${JSON.stringify(held.json)}`);
    assert.ok(pings(on(2)[1]!.ns, addrOf(late.ns)!, 3), 'h2 → the new container on h1, etcd still down');
    const fresh = { ns: w.netns('ovc1'), id: `c1-other-${w.id}` };
    const refused = await cni(1, 'ADD', fresh.id, fresh.ns, `${net}b`);
    assert.notEqual(refused.status, 0);
    assert.equal(refused.json.code, 11, JSON.stringify(refused.json));
    assert.match(refused.json.msg, /cluster store etcd:\/\/198\.18\.0\.100:2379: unreachable/);
    assert.deepEqual(
      ipj(fresh.ns, 'link', 'show').map((l: any) => l.ifname),
      ['lo'],
      'nothing left in the container',
    );
    // the engine's first container on a network needs etcd (this host joins it): refused at once, saying why and what to do
    const down = engines[0]!.tsnet('run', '--rm', '--net', `${net}e`, 'img', 'true');
    assert.notEqual(down.status, 0);
    assert.match(down.stderr, /cluster store etcd:\/\/198\.18\.0\.100:2379: unreachable/);
    assert.match(down.stderr, /check that etcd runs there/);
    await c.etcd.restart();
    // tsnetd noticed the outage, and resynchronises when etcd is back
    await eventually(
      'tsnetd on h1 resynchronised',
      () => c.logs.get(h1)!().includes('is back: resynchronised'),
      100,
      () => c.logs.get(h1)!(),
    );
    const ok = await cni(1, 'ADD', fresh.id, fresh.ns, `${net}b`);
    assert.equal(ok.status, 0, ok.stderr);
    assert.match(addrOf(fresh.ns)!, /^10\.202\.0\./);
    const peer = w.netns('ovc2');
    const ok2 = await cni(2, 'ADD', `c2-other-${w.id}`, peer, `${net}b`);
    assert.equal(ok2.status, 0, ok2.stderr);
    await eventually(`h2 → h1 on ${net}b, made after etcd came back`, () => pings(peer, addrOf(fresh.ns)!));

    const [e1, e2] = engines as [EngineFixture, EngineFixture];
    const vni = JSON.parse(e1.ok('network', 'inspect', en))[0].options.vni as number;
    const links = (ns: string): string[] => ipj(ns, 'link', 'show').map((l: any) => l.ifname);
    const a = e1.ok('run', '-d', '--net', en, 'img', 'sleep', '120').trim();
    const b = e2.ok('run', '-d', '--net', en, 'img', 'sleep', '120').trim();
    const ipOf = (e: EngineFixture, id: string): string => e.inspect(id).NetworkSettings.Networks[en].IPAddress;
    const [ipA, ipB] = [ipOf(e1, a), ipOf(e2, b)];
    assert.match(ipA, /^10\.203\.0\./);
    assert.notEqual(ipA, ipB);
    assert.equal(addrOf(`tsnet-${b.slice(0, 12)}`), ipB, 'the kernel has the address inspect shows');
    const shown = JSON.parse(e1.ok('network', 'inspect', en))[0];
    assert.deepEqual(shown.allocations, { [ipA]: { containerID: a, ifname: 'eth0' } }, "network inspect: this host's addresses");
    assert.equal(shown.dns.enabled, true, 'names on the overlay too');
    assert.match(e1.ok('network', 'ls'), new RegExp(`^\\S+\\s+${en}\\s+overlay\\s+global$`, 'm'), "docker's columns, an overlay's scope");
    assert.match(
      e1.ok('network', 'ls', '--format', '{{.Name}} {{.Driver}} {{.Subnet}} {{.InUse}}'),
      new RegExp(`^${en} overlay 10\\.203\\.0\\.0/24 1$`, 'm'),
      "this host's one address in use",
    );
    await eventually(`engine container on h1 → ${ipB} on h2`, () => e1.tsnet('exec', a, 'ping', '-c1', '-W1', ipB).status === 0);
    await eventually(`engine container on h2 → ${ipA} on h1`, () => e2.tsnet('exec', b, 'ping', '-c1', '-W1', ipA).status === 0);
    const published = e1.tsnet('run', '--rm', '--net', en, '-p', '8080:80', 'img', 'true');
    assert.notEqual(published.status, 0);
    assert.match(published.stderr, /is an overlay: this host has no route into it, so it publishes no ports/);
    // what the refusal suggests: run on a bridge network with -p, then connect the container to the overlay
    const lab = `${net}l`;
    e1.ok('network', 'create', lab, '--subnet', '10.205.0.0/24', '--bridge', `tsl${w.id}`, '--no-masquerade');
    const pub = e1.ok('run', '-d', '--net', lab, '-p', '8080:80', 'img', 'sleep', '120').trim();
    e1.ok('network', 'connect', en, pub);
    const ipPub = ipOf(e1, pub);
    assert.match(ipPub, /^10\.203\.0\./);
    await eventually(`h2 → ${ipPub}, connected to the overlay on h1`, () => e2.tsnet('exec', b, 'ping', '-c1', '-W1', ipPub).status === 0);
    e1.ok('rm', '-f', pub);
    // network reload (the firewall from state) on a host with an overlay network: nothing of the bridge kind for it
    assert.match(e1.ok('network', 'reload'), new RegExp(`^${en}: overlay network, no firewall rules of its own$`, 'm'));
    // network rm on host 2: refused while its container holds an address; then host 2 leaves, the network stays for host 1
    const busy = e2.tsnet('network', 'rm', en);
    assert.notEqual(busy.status, 0);
    assert.match(busy.stderr, /address\(es\) in use on host h2/);
    e2.ok('rm', '-f', b);
    const left = e2.tsnet('network', 'rm', en);
    assert.equal(left.status, 0, left.stderr);
    assert.match(left.stderr, /host h2 left it; it stays in the store .* for host\(s\) h1/);
    assert.ok(!links(c.hosts[1]!).includes(`tsvx${vni}`), 'h2: its vxlan device gone');
    assert.ok(links(c.hosts[0]!).includes(`tsvx${vni}`), 'h1: its vxlan device stays');
    assert.match(etcdctl('get', `/tsnet/v1/networks/${en}`), /10\.203\.0\.0\/24/);
    assert.doesNotMatch(etcdctl('get', '--prefix', `/tsnet/v1/members/${en}/`), /members\/[^/]+\/h2/);
    assert.doesNotMatch(etcdctl('get', '--prefix', `/tsnet/v1/blocks/${en}/`), /"host":"h2"/);
    // host 1, the last to leave, removes it from the store
    e1.ok('rm', '-f', a);
    const last = e1.tsnet('network', 'rm', en);
    assert.equal(last.status, 0, last.stderr);
    assert.match(last.stderr, /host h1 was the last to use it: removed from the store/);
    assert.equal(etcdctl('get', '--prefix', `/tsnet/v1/networks/${en}`).trim(), '');
    assert.ok(!links(c.hosts[0]!).includes(`tsvx${vni}`), 'h1: its vxlan device gone');
  });
});
