// Docker's own engine on tsnet networks: dockerd (Debian's docker.io 20.10) runs in a namespace that plays the
// host — its network namespace entered with nsenter, a private mount namespace of its own in which a temp dir is
// bound over /run/docker (where it finds the driver's socket), its own --data-root, --exec-root, socket, pidfile
// and cgroup parent. `tsnet docker-plugin` serves the driver in the same network namespace, with a temp state
// root. Images are `docker import`s of a busybox rootfs. A second namespace ("out") plays the world outside,
// joined to the host by a veth wire. Everything is read back from the kernel with `ip -j` and `nft -j`.
// dockerd keeps its default bridge (docker0), so it does what it does on any host: turns on forwarding with
// its FORWARD policy DROP, a DOCKER-USER chain, and br_netfilter where it can load it — tsnet's networks must
// work through all of it.
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { request } from 'node:http';
import { NetworkRegistry } from '../ipam/networks.js';
import { formatAddr } from '../ipam/cidr.js';
import { CLI } from '../engine/testing/cli.js';
import { ip, ipj, needsRoot, sh, until, world, type World } from './harness.js';
import { DOCKER, noDocker, startDockerd } from './dockerd.js';

const skip = needsRoot || noDocker;

/** Waits (polling) until `ok()`; the deadline only stops a hung scenario, nothing is timed. */

interface Docker {
  run(...args: string[]): { status: number | null; stdout: string; stderr: string };
  /** `docker ARGS` without waiting for it. */
  runAsync(...args: string[]): Promise<{ status: number | null; stderr: string }>;
  ok(...args: string[]): string;
  /** Starts the driver; `env` is added to its environment. Resolves when that driver process exits. */
  startDriver(env?: Record<string, string>): Promise<void>;
  killDriver(): Promise<void>;
  /** Stops dockerd (and its containers), runs `meanwhile`, starts it again. */
  restartDockerd(meanwhile?: () => void): Promise<void>;
  root: string;
  /** The driver's socket. */
  socket: string;
}

async function startDocker(w: World, host: string): Promise<Docker> {
  const dk = await startDockerd(w, host);
  const root = join(w.tmpdir(), 'tsnet');
  const socket = join(dk.runDir, 'plugins', 'tsnet.sock');
  let driver: ChildProcess | undefined;
  const d: Docker = {
    root,
    socket,
    run: dk.run,
    ok: dk.ok,
    runAsync(...args) {
      const p = spawn(DOCKER, ['-H', `unix://${dk.sock}`, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      p.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
      return new Promise((resolve) => p.once('exit', (status) => resolve({ status, stderr })));
    },
    startDriver(env = {}) {
      const p = spawn('nsenter', [`--net=/run/netns/${host}`, process.execPath, CLI, 'docker-plugin', '--socket', socket], {
        env: { ...process.env, TSNET_ROOT: root, ...env },
        stdio: 'ignore',
      });
      driver = p;
      return new Promise<void>((r) => p.once('exit', () => r()));
    },
    async restartDockerd(meanwhile) {
      await dk.stop();
      meanwhile?.();
      await dk.start();
    },
    async killDriver() {
      const p = driver;
      if (!p || p.exitCode !== null || p.signalCode !== null) return;
      const gone = new Promise<void>((r) => p.once('exit', () => r()));
      p.kill('SIGKILL');
      await gone;
    },
  };
  // Run before dockerd's own cleanup (registered earlier): its containers go while the driver still serves their
  // networks, then dockerd, then the driver.
  w.defer(async () => {
    await dk.shutdown();
    await d.killDriver();
  });
  void d.startDriver();
  await until('the driver to listen', () => existsSync(socket));
  dk.importBusybox('tsnet-bb', ['sh', 'ip', 'ping', 'nc', 'cat', 'sleep', 'httpd', 'echo', 'nslookup']);
  return d;
}

function tsnetRules(host: string): string[] {
  const r = spawnSync('ip', ['netns', 'exec', host, 'nft', '-j', 'list', 'ruleset'], { encoding: 'utf8' });
  const items = (JSON.parse(r.stdout || '{"nftables":[]}').nftables ?? []) as any[];
  return items.filter((i) => i.rule && i.rule.table === 'tsnet').map((i) => String(i.rule.comment ?? ''));
}

/** dockerd's FORWARD chain (iptables-nft or legacy, as `iptables` is here), as `iptables -S` prints it. */
function forwardChain(host: string): string[] {
  return sh('ip', 'netns', 'exec', host, 'iptables', '-S', 'FORWARD').split('\n').filter(Boolean);
}

function pings(d: Docker, ctr: string, to: string): boolean {
  return d.run('exec', ctr, 'ping', '-c', '1', '-W', '2', to).status === 0;
}

/** A libnetwork call to the driver, as dockerd makes it. */
function driverCall(socket: string, method: string, body: object): Promise<any> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: socket, path: `/${method}`, method: 'POST' }, (res) => {
      let data = '';
      res.on('data', (c) => (data += c));
      res.on('end', () => resolve(JSON.parse(data)));
    });
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

function httpFrom(ns: string, addr: string, port: number): string {
  const r = spawnSync('ip', ['netns', 'exec', ns, 'busybox', 'nc', '-w', '3', addr, String(port)], {
    input: 'GET / HTTP/1.0\r\n\r\n',
    encoding: 'utf8',
    timeout: 10_000,
  });
  return r.stdout;
}

describe('Docker on tsnet: the libnetwork remote driver', { skip }, () => {
  it("a picked subnet, two containers by name, egress and -p through dockerd's FORWARD DROP, reload, a bridge holding a NIC, Docker's -o keys, --internal, icc=false, a driver killed mid-call, a reboot, nothing left after rm", async (t) => {
    const w = world(t);
    const host = w.netns('dkhost');
    const out = w.netns('dkout');
    ip(host, 'link', 'set', 'lo', 'up');
    // The wire to the outside world takes 172.17.5.0/24: the picker must not hand out 172.17.0.0/16.
    ip(host, 'link', 'add', 'wire0', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', out);
    ip(host, 'addr', 'add', '172.17.5.1/24', 'dev', 'wire0');
    ip(host, 'link', 'set', 'wire0', 'up');
    ip(out, 'addr', 'add', '172.17.5.2/24', 'dev', 'eth0');
    ip(out, 'link', 'set', 'eth0', 'up');
    ip(out, 'link', 'set', 'lo', 'up');
    // A fresh host forwards nothing (a new netns inherits this machine's ip_forward): dockerd turns forwarding
    // on itself, and with it sets its FORWARD policy to DROP.
    sh('ip', 'netns', 'exec', host, 'sysctl', '-qw', 'net.ipv4.ip_forward=0');
    const d = await startDocker(w, host);
    const net = `tn${w.id}`;
    // What a host running dockerd looks like: forwarding on, forwarded traffic dropped unless accepted.
    assert.ok(forwardChain(host).includes('-P FORWARD DROP'), `dockerd's FORWARD policy: ${forwardChain(host).join('; ')}`);
    assert.ok(forwardChain(host).includes('-A FORWARD -j DOCKER-USER'));
    // dockerd loads br_netfilter (where the kernel has it): bridged traffic between two containers then crosses
    // that FORWARD chain too.
    const brnf = spawnSync('ip', ['netns', 'exec', host, 'cat', '/proc/sys/net/bridge/bridge-nf-call-iptables'], { encoding: 'utf8' });
    if (brnf.status === 0) assert.equal(brnf.stdout.trim(), '1', 'br_netfilter hands bridged frames to iptables');

    // ── docker network create -d tsnet --ipam-driver tsnet: the picker's subnet, the gateway on a bridge ──
    const nid = d.ok('network', 'create', '-d', 'tsnet', '--ipam-driver', 'tsnet', net).trim();
    const cfg = JSON.parse(d.ok('network', 'inspect', net))[0].IPAM.Config[0];
    assert.notEqual(cfg.Subnet, '172.17.0.0/16', 'the picker avoids the host route 172.17.5.0/24');
    assert.match(cfg.Subnet, /^(172|192|10)\./);
    const bridge = `tsd-${nid.slice(0, 11)}`;
    const br = ipj(host, 'addr', 'show', 'dev', bridge)[0];
    assert.ok(
      br.addr_info.some((a: any) => a.local === cfg.Gateway),
      `gateway ${cfg.Gateway} on ${bridge}`,
    );

    // ── two containers talk by name (Docker's embedded DNS), egress is masqueraded, -p reaches httpd ──
    d.ok('run', '-d', '--name', `ca${w.id}`, '--net', net, 'tsnet-bb', 'sleep', '600');
    d.ok('run', '-d', '--name', `cb${w.id}`, '--net', net, '-p', '8085:80', 'tsnet-bb', 'httpd', '-f', '-p', '80');
    assert.equal(ipj(host, 'link', 'show', 'master', bridge).length, 2, 'both host veths are ports of the bridge');
    const addrA = JSON.parse(d.ok('inspect', `ca${w.id}`))[0].NetworkSettings.Networks[net].IPAddress;
    const inA = d.ok('exec', `ca${w.id}`, 'ip', '-4', '-o', 'addr', 'show', 'eth0');
    assert.match(inA, new RegExp(`inet ${addrA.replace(/\./g, '\\.')}/`), 'the kernel in the container has what Docker reports');
    d.ok('exec', `ca${w.id}`, 'ping', '-c', '1', '-W', '2', `cb${w.id}`);
    d.ok('exec', `ca${w.id}`, 'ping', '-c', '1', '-W', '2', '172.17.5.2');
    assert.ok(
      tsnetRules(host).some((c) => c.startsWith(`docker:${nid.slice(0, 12)}`)),
      'the masquerade rule of the network',
    );
    assert.match(httpFrom(out, '172.17.5.1', 8085), /^HTTP\/1\.[01] /, '-p 8085:80 from another namespace');
    // ...through dockerd's FORWARD policy DROP: tsnet's accept rules for the bridge come first in that chain.
    const accepts = forwardChain(host).filter((r) => r.includes(`tsnet:fw:${bridge}`));
    assert.deepEqual(accepts.map((r) => r.replace(/ -m comment --comment \S+/, '')).sort(), [
      `-A FORWARD -i ${bridge} -j ACCEPT`,
      `-A FORWARD -o ${bridge} -m conntrack --ctstate RELATED,ESTABLISHED,DNAT -j ACCEPT`,
    ]);

    assert.match(httpFrom(host, '127.0.0.1', 8085), /^HTTP\/1\.[01] /, "-p 8085:80 on the host's loopback");

    // ── tsnet's table flushed (a firewall reload): no egress, no -p; tsnet network reload makes the driver's rules again ──
    sh('ip', 'netns', 'exec', host, 'nft', 'flush', 'table', 'inet', 'tsnet');
    assert.ok(!pings(d, `ca${w.id}`, '172.17.5.2'), 'no egress without the masquerade rule');
    const reload = spawnSync('nsenter', [`--net=/run/netns/${host}`, process.execPath, CLI, 'network', 'reload'], {
      env: { ...process.env, TSNET_ROOT: d.root },
      encoding: 'utf8',
    });
    assert.equal(reload.status, 0, reload.stderr);
    assert.match(
      reload.stdout,
      new RegExp(
        `^docker network ${nid.slice(0, 12)}: bridge ${bridge} \\(isolated\\), 2 endpoint\\(s\\), masqueraded, 1 published port\\(s\\)$`,
        'm',
      ),
    );
    assert.ok(pings(d, `ca${w.id}`, '172.17.5.2'), 'egress after reload');
    assert.match(httpFrom(out, '172.17.5.1', 8085), /^HTTP\/1\.[01] /, '-p 8085:80 after reload');
    const taken = d.run('run', '-d', '--name', `cx${w.id}`, '--net', net, '-p', '8085:80', 'tsnet-bb', 'sleep', '600');
    assert.notEqual(taken.status, 0, 'a second container cannot take host port 8085');
    assert.match(taken.stderr, /host port 8085\/tcp is already published/);
    d.ok('rm', '-f', `cx${w.id}`);
    assert.equal(ipj(host, 'link', 'show', 'master', bridge).length, 2, 'the refused container left no veth');

    // ── -o bridge=NAME with Docker's own IPAM: a bridge holding a "NIC" (a veth to a machine on the segment) ──
    const lan = w.netns('dklan');
    const br0 = `tbr${w.id}`;
    ip(host, 'link', 'add', br0, 'type', 'bridge');
    ip(host, 'link', 'set', br0, 'up');
    ip(host, 'link', 'add', 'nic0', 'master', br0, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', lan);
    ip(host, 'link', 'set', 'nic0', 'up');
    ip(lan, 'addr', 'add', '10.77.0.100/24', 'dev', 'eth0');
    ip(lan, 'link', 'set', 'eth0', 'up');
    const net2 = `tl${w.id}`;
    d.ok('network', 'create', '-d', 'tsnet', '-o', `bridge=${br0}`, '-o', 'masquerade=false', '--subnet', '10.77.0.0/24', net2);
    d.ok('run', '-d', '--name', `cc${w.id}`, '--net', net2, 'tsnet-bb', 'sleep', '600');
    const ports = ipj(host, 'link', 'show', 'master', br0).map((l: any) => l.ifname);
    assert.equal(ports.length, 2, `nic0 and the container's veth on ${br0}: ${ports.join(' ')}`);
    d.ok('exec', `cc${w.id}`, 'ping', '-c', '1', '-W', '2', '10.77.0.100');

    // ── Docker's own -o keys: bridge name, MTU, no masquerade, the containers' interface prefix, the host address of -p ──
    ip(host, 'addr', 'add', '172.17.5.3/24', 'dev', 'wire0');
    const netO = `to${w.id}`;
    const brO = `tso${w.id}`;
    const nidO = d
      .ok(
        'network',
        'create',
        '-d',
        'tsnet',
        '--ipam-driver',
        'tsnet',
        '-o',
        `com.docker.network.bridge.name=${brO}`,
        '-o',
        'com.docker.network.driver.mtu=1400',
        '-o',
        'com.docker.network.bridge.enable_ip_masquerade=false',
        '-o',
        'com.docker.network.container_iface_prefix=lan',
        '-o',
        'com.docker.network.bridge.host_binding_ipv4=172.17.5.3',
        netO,
      )
      .trim();
    d.ok('run', '-d', '--name', `co${w.id}`, '--net', netO, '-p', '8086:80', 'tsnet-bb', 'httpd', '-f', '-p', '80');
    assert.equal(ipj(host, 'link', 'show', 'dev', brO)[0].mtu, 1400, 'the bridge, by its name, with its MTU');
    assert.match(d.ok('exec', `co${w.id}`, 'ip', '-o', 'link', 'show', 'lan0'), /mtu 1400/, "the container's lan0, MTU 1400");
    assert.ok(!tsnetRules(host).some((c) => c.startsWith(`docker:${nidO.slice(0, 12)}`)), 'no masquerade rule');
    assert.match(httpFrom(out, '172.17.5.3', 8086), /^HTTP\/1\.[01] /, '-p 8086:80 on host_binding_ipv4');
    assert.equal(httpFrom(out, '172.17.5.1', 8086), '', 'and on no other host address');
    d.ok('rm', '-f', `co${w.id}`);
    d.ok('network', 'rm', netO);

    // ── --internal: no way out (no default route, and none forwarded with one added), the gateway reached ──
    const netI = `ti${w.id}`;
    const nidI = d.ok('network', 'create', '-d', 'tsnet', '--ipam-driver', 'tsnet', '--internal', netI).trim();
    const brI = `tsd-${nidI.slice(0, 11)}`;
    const gwI = JSON.parse(d.ok('network', 'inspect', netI))[0].IPAM.Config[0].Gateway;
    d.ok('run', '-d', '--name', `ci${w.id}`, '--net', netI, '--cap-add', 'NET_ADMIN', 'tsnet-bb', 'sleep', '600');
    assert.doesNotMatch(d.ok('exec', `ci${w.id}`, 'ip', 'route'), /default/, 'no default route on an internal network');
    assert.ok(pings(d, `ci${w.id}`, gwI), 'the gateway is reached');
    d.ok('exec', `ci${w.id}`, 'ip', 'route', 'add', 'default', 'via', gwI);
    assert.ok(!pings(d, `ci${w.id}`, '172.17.5.2'), 'nothing is forwarded out of an internal network, even with a route');
    assert.ok(!tsnetRules(host).some((c) => c.includes(nidI.slice(0, 12))), 'no masquerade rule for an internal network');
    assert.ok(
      tsnetRules(host).some((c) => c.startsWith(`fw:${brI}`)),
      'the bridge plugin firewall group of the internal bridge',
    );

    // ── icc=false: the containers cannot reach each other, but reach the gateway and the world ──
    const netQ = `tq${w.id}`;
    const nidQ = d.ok('network', 'create', '-d', 'tsnet', '--ipam-driver', 'tsnet', '-o', 'icc=false', netQ).trim();
    const gwQ = JSON.parse(d.ok('network', 'inspect', netQ))[0].IPAM.Config[0].Gateway;
    d.ok('run', '-d', '--name', `qa${w.id}`, '--net', netQ, 'tsnet-bb', 'sleep', '600');
    d.ok('run', '-d', '--name', `qb${w.id}`, '--net', netQ, 'tsnet-bb', 'sleep', '600');
    const portsQ = ipj(host, '-d', 'link', 'show', 'master', `tsd-${nidQ.slice(0, 11)}`);
    assert.deepEqual(
      portsQ.map((l: any) => l.linkinfo?.info_slave_data?.isolated),
      [true, true],
      'both ports are isolated',
    );
    const addrQb = JSON.parse(d.ok('inspect', `qb${w.id}`))[0].NetworkSettings.Networks[netQ].IPAddress;
    assert.ok(!pings(d, `qa${w.id}`, addrQb), 'icc=false: qa does not reach qb');
    assert.ok(!pings(d, `qa${w.id}`, `qb${w.id}`), 'nor by name (the name resolves; the packets do not pass)');
    assert.ok(pings(d, `qa${w.id}`, gwQ), 'icc=false: the gateway is reached');
    assert.ok(pings(d, `qa${w.id}`, '172.17.5.2'), 'icc=false: egress works');
    // Networks are isolated from each other, as Docker's are.
    assert.ok(!pings(d, `ca${w.id}`, addrQb), 'a container of another tsnet network does not reach qb');
    d.ok('rm', '-f', `ci${w.id}`, `qa${w.id}`, `qb${w.id}`);
    d.ok('network', 'rm', netI, netQ);
    assert.ok(!tsnetRules(host).some((c) => c.startsWith(`fw:${brI}`)), "the internal bridge's rules went with it");

    // ── the driver killed and restarted: running containers keep working, a new container joins ──
    await d.killDriver();
    void d.startDriver();
    d.ok('exec', `ca${w.id}`, 'ping', '-c', '1', '-W', '2', `cb${w.id}`);
    await until(
      'the restarted driver',
      () => d.run('run', '--rm', '--net', net, 'tsnet-bb', 'ping', '-c', '1', '-W', '2', `ca${w.id}`).status === 0,
    );
    assert.equal(ipj(host, 'link', 'show', 'master', bridge).length, 2, 'the --rm container took its veth with it');

    // ── the driver killed in the middle of a call: what it left is reclaimed when it starts again ──
    const records = (): any[] =>
      readdirSync(join(d.root, 'docker', 'endpoints')).map((f) => JSON.parse(readFileSync(join(d.root, 'docker', 'endpoints', f), 'utf8')));
    /** Ports of the bridge that no endpoint record names. */
    const strayVeths = () => {
      const named = new Set(records().map((r) => r.hostVeth));
      return ipj(host, 'link', 'show', 'master', bridge)
        .map((l: any) => l.ifname as string)
        .filter((n: string) => !named.has(n));
    };
    /** Addresses of the network's pool that no endpoint record holds. */
    const strayAddresses = async () => {
      const reg = new NetworkRegistry(d.root);
      const pool = reg.list().find((n) => n.subnet === cfg.Subnet)!;
      const held = new Set(records().map((r) => String(r.address ?? '').split('/')[0]));
      return [...(await reg.store(pool.name).read()).all()].map((r) => formatAddr(r)).filter((a) => !held.has(a));
    };
    for (const step of ['CreateEndpoint:veth', 'CreateEndpoint:record', 'Join']) {
      await d.killDriver();
      const dying = d.startDriver({ TSNET_DOCKER_PLUGIN_KILL_AT: step });
      const name = `ck${w.id}`;
      const started = d.runAsync('run', '-d', '--name', name, '--net', net, 'tsnet-bb', 'sleep', '600');
      await dying; // killed itself at the step
      if (step === 'CreateEndpoint:veth') {
        assert.equal(strayVeths().length, 1, 'the driver was killed with its veth made, its record not');
        assert.equal((await strayAddresses()).length, 1, 'the address Docker took is held by no endpoint');
      } else assert.equal(records().filter((e) => e.network === nid).length, 3, `killed at ${step}: with the endpoint's record written`);
      void d.startDriver(); // Docker, still retrying its call, meets this one
      const r = await started;
      d.run('rm', '-f', name);
      assert.deepEqual(
        strayVeths(),
        [],
        `killed at ${step}: no veth left without an endpoint record (docker run: ${r.status} ${r.stderr})`,
      );
      assert.deepEqual(await strayAddresses(), [], `killed at ${step}: no address left that no endpoint holds`);
      assert.equal(
        records().filter((e) => e.network === nid).length,
        2,
        `killed at ${step}: the records of ca and cb, nothing else (docker run: ${r.status} ${r.stderr})`,
      );
    }
    d.ok('run', '--rm', '--net', net, 'tsnet-bb', 'ping', '-c', '1', '-W', '2', `ca${w.id}`);
    d.ok('exec', `ca${w.id}`, 'ping', '-c', '1', '-W', '2', `cb${w.id}`);

    // ── dockerd restarted (it stops its containers) as after a reboot of the host — the driver's bridge gone, the
    // ruleset empty, forwarding off — the tsnet networks are still there, and work: the first endpoint makes
    // the bridge, its gateway and its masquerade rule again ──
    await d.restartDockerd(() => {
      ip(host, 'link', 'del', bridge);
      sh('ip', 'netns', 'exec', host, 'nft', 'flush', 'ruleset');
      sh('ip', 'netns', 'exec', host, 'sysctl', '-qw', 'net.ipv4.ip_forward=0');
    });
    assert.ok(forwardChain(host).includes('-P FORWARD DROP'), "dockerd's FORWARD policy DROP again");
    assert.match(d.ok('network', 'ls', '--filter', 'driver=tsnet', '--format', '{{.Name}}'), new RegExp(net));
    d.ok('start', `ca${w.id}`, `cb${w.id}`);
    d.ok('exec', `ca${w.id}`, 'ping', '-c', '1', '-W', '2', `cb${w.id}`);
    assert.ok(pings(d, `ca${w.id}`, '172.17.5.2'), 'egress again');
    assert.match(httpFrom(out, '172.17.5.1', 8085), /^HTTP\/1\.[01] /, '-p published again on start');
    assert.equal(
      ipj(host, 'link', 'show', 'master', bridge).length,
      2,
      'the stopped containers gave back their veths, the started ones have new ones',
    );

    // ── docker rm -f, docker network rm: no veth, no rule, no address or pool left ──
    d.ok('rm', '-f', `ca${w.id}`, `cb${w.id}`, `cc${w.id}`);
    // An endpoint Docker forgot (its DeleteEndpoint lost while the driver was down): made here as dockerd makes
    // one, never deleted — docker network rm takes it with the network.
    assert.deepEqual(
      await driverCall(d.socket, 'NetworkDriver.CreateEndpoint', { NetworkID: nid, EndpointID: `feed${w.id}`, Interface: {} }),
      {
        Interface: { MacAddress: records().find((e) => e.id === `feed${w.id}`)?.mac },
      },
    );
    d.ok('network', 'rm', net, net2);
    assert.equal(ipj(host, 'link', 'show', 'type', 'veth').filter((l: any) => l.ifname.startsWith('tsd')).length, 0, 'no veth left');
    assert.ok(!ipj(host, 'link', 'show').some((l: any) => l.ifname === bridge), 'the bridge the driver made is gone');
    assert.deepEqual(
      ipj(host, 'link', 'show', 'master', br0).map((l: any) => l.ifname),
      ['nic0'],
      `${br0} (not the driver's) stays, with its NIC`,
    );
    assert.ok(!ipj(host, 'addr', 'show', 'dev', br0)[0].addr_info.some((a: any) => a.local === '10.77.0.1'), 'its gateway address is gone');
    assert.deepEqual(tsnetRules(host), [], 'no rule left in table inet tsnet');
    assert.deepEqual(
      forwardChain(host).filter((r) => r.includes('tsnet')),
      [],
      "no accept rule left in dockerd's FORWARD chain",
    );
    assert.deepEqual(new NetworkRegistry(d.root).list(), [], "no pool left in tsnet's registry");
    assert.deepEqual(readdirSync(join(d.root, 'docker', 'endpoints')), [], 'no endpoint record left');
  });
});
