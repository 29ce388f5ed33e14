// Docker's network firewall, reproduced by tsnet and checked end to end through the CLI in a namespace that
// plays the host (netns-tests/host-sim.ts: an uplink to a `far` namespace that has no route back to any
// container subnet): networks isolated from each other and from the default one while published ports stay
// reachable, --internal without a way out, icc=false, and a host whose firewall drops forwarded traffic as
// dockerd leaves it (iptables FORWARD policy DROP and DOCKER-USER) — where egress, container↔container traffic
// and -p still work, and `tsnet network reload` brings everything back after a flush. Traffic is the judge
// (ping, HTTP); the rules are read with `nft -j` and `iptables -S` in the host namespace.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { needsRoot, world } from './harness.js';
import { FAR_IP, HOST_IP, HostSim } from './host-sim.js';

const HTTPD = (body: string) => `mkdir -p /www && echo ${body} > /www/index.html && exec busybox httpd -f -p 80 -h /www`;
const GET = 'printf "GET / HTTP/1.0\\r\\n\\r\\n"';

async function sim(t: Parameters<typeof world>[0]): Promise<HostSim> {
  const s = await HostSim.create(world(t));
  s.tsnet('image', 'from-host', 'img');
  return s;
}

/** The network's Linux bridge (br-<id prefix>, as the engine names it). */
function makeNetwork(s: HostSim, name: string, ...args: string[]): string {
  return `br-${s
    .tsnet('network', 'create', name, ...args)
    .trim()
    .slice(0, 12)}`;
}

const ipOf = (s: HostSim, ctr: string, net: string): string =>
  JSON.parse(s.tsnet('inspect', ctr))[0].NetworkSettings.Networks[net].IPAddress;

/** One ping from inside a container. */
const pings = (s: HostSim, ctr: string, addr: string): boolean => s.e.tsnet('exec', ctr, 'ping', '-c', '1', '-W', '1', addr).status === 0;

/** An HTTP GET from inside a container: the body, or '' when nothing answered. */
function getFromCtr(s: HostSim, ctr: string, host: string, port: number): string {
  const r = s.e.tsnet('exec', ctr, 'sh', '-c', `${GET} | nc -w 2 ${host} ${port}`);
  return r.status === 0 ? (r.stdout.split('\r\n\r\n')[1] ?? '').trim() : '';
}

/** An HTTP GET from the outside world (`far`). */
function getFromFar(s: HostSim, host: string, port: number): string {
  const r = s.inFar('sh', '-c', `${GET} | busybox nc -w 2 ${host} ${port}`);
  return r.status === 0 ? (r.stdout.split('\r\n\r\n')[1] ?? '').trim() : '';
}

/** Waits until `body` is served on HOST_IP:port from far (busybox httpd has just been started). */
async function served(s: HostSim, port: number, body: string): Promise<void> {
  for (let i = 0; i < 50; i++) {
    if (getFromFar(s, HOST_IP, port) === body) return;
    await sleep(100);
  }
  assert.fail(`nothing serves ${body} on ${HOST_IP}:${port} seen from far`);
}

/** The host namespace's nftables ruleset, as `nft -j` gives it: chains and rules. */
function ruleset(s: HostSim): { chains: any[]; rules: any[] } {
  const all = (JSON.parse(s.ok('nft', '-j', 'list', 'ruleset')).nftables as any[]) ?? [];
  return { chains: all.filter((o) => o.chain).map((o) => o.chain), rules: all.filter((o) => o.rule).map((o) => o.rule) };
}
/** What a network needs from the host: egress from a1, a1 → a2 (bridged), a2's published port from outside. */
function works(s: HostSim, a2: string, port: number, body: string): Record<string, boolean> {
  return {
    egress: pings(s, 'a1', FAR_IP),
    containers: pings(s, 'a1', a2),
    published: getFromFar(s, HOST_IP, port) === body,
  };
}
const ALL = { egress: true, containers: true, published: true };
const NONE = { egress: false, containers: false, published: false };

const tsnetChains = (s: HostSim): string[] =>
  ruleset(s)
    .chains.filter((c) => c.family === 'inet' && c.table === 'tsnet')
    .map((c) => c.name)
    .sort();

describe('firewall: isolation, --internal, icc, and a host firewall that drops forwarding', { skip: needsRoot }, () => {
  it('networks are isolated from each other and from the default one; published ports and egress stay; a container on both talks to both', async (t) => {
    const s = await sim(t);
    const brA = makeNetwork(s, 'A', '--subnet', '10.91.1.0/24');
    makeNetwork(s, 'B', '--subnet', '10.91.2.0/24');
    s.tsnet('run', '-d', '--name', 'a1', '--net', 'A', 'img', 'sleep', '300');
    s.tsnet('run', '-d', '--name', 'a2', '--net', 'A', 'img', 'sleep', '300');
    s.tsnet('run', '-d', '--name', 'b1', '--net', 'B', '-p', '8080:80', 'img', 'sh', '-c', HTTPD('from-b1'));
    s.tsnet('run', '-d', '--name', 'd1', 'img', 'sleep', '300'); // the default network, `bridge`
    s.tsnet('run', '-d', '--name', 'ab', '--net', 'A', 'img', 'sleep', '300');
    s.tsnet('network', 'connect', 'B', 'ab');
    const [a1, a2, b1, d1] = [ipOf(s, 'a1', 'A'), ipOf(s, 'a2', 'A'), ipOf(s, 'b1', 'B'), ipOf(s, 'd1', 'bridge')];
    await served(s, 8080, 'from-b1');

    assert.ok(pings(s, 'a1', a2), 'A ↔ A');
    assert.ok(!pings(s, 'a1', b1), 'A → B is dropped');
    assert.ok(!pings(s, 'b1', a1), 'B → A is dropped');
    assert.ok(!pings(s, 'a1', d1), 'A → default is dropped');
    assert.ok(!pings(s, 'd1', a1), 'default → A is dropped');
    assert.ok(pings(s, 'ab', b1), 'a container on A and B reaches B (over its eth1)');
    assert.ok(pings(s, 'ab', a1), 'and A');
    assert.equal(getFromCtr(s, 'a1', HOST_IP, 8080), 'from-b1', "B's published port, from a container on A");
    assert.equal(getFromCtr(s, 'd1', HOST_IP, 8080), 'from-b1', '… and from the default network');
    assert.equal(getFromFar(s, HOST_IP, 8080), 'from-b1', '… and from outside');
    assert.ok(pings(s, 'a1', FAR_IP), 'egress (masqueraded: far has no route back)');

    // The kernel's view: each network's chain, and a drop for it in the shared isolation chain.
    assert.ok(tsnetChains(s).includes(`fw-${brA}`));
    const isolation = ruleset(s).rules.filter((r) => r.table === 'tsnet' && r.chain === 'isolation');
    assert.ok(isolation.some((r) => r.comment === `fw:${brA}` && JSON.stringify(r.expr).includes('"drop"')));
    // The last container off A takes A's rules along; B's stay.
    s.tsnet('rm', '-f', 'a1', 'a2', 'ab');
    assert.ok(!tsnetChains(s).includes(`fw-${brA}`), "A's chain gone with its last container");
    assert.ok(!ruleset(s).rules.some((r) => r.comment === `fw:${brA}`), "and every rule of A's");
    assert.equal(getFromFar(s, HOST_IP, 8080), 'from-b1');
  });

  it('--internal: containers on it talk, nothing goes out or comes in, no route out, no masquerade, -p refused', async (t) => {
    const s = await sim(t);
    const brI = makeNetwork(s, 'I', '--subnet', '10.91.3.0/24', '--internal');
    makeNetwork(s, 'A', '--subnet', '10.91.1.0/24');
    s.tsnet('run', '-d', '--name', 'i1', '--net', 'I', '--cap-add', 'NET_ADMIN', 'img', 'sleep', '300'); // NET_ADMIN: it adds a route below
    s.tsnet('run', '-d', '--name', 'i2', '--net', 'I', 'img', 'sleep', '300');
    s.tsnet('run', '-d', '--name', 'a1', '--net', 'A', 'img', 'sleep', '300');
    const [i1, i2, a1] = [ipOf(s, 'i1', 'I'), ipOf(s, 'i2', 'I'), ipOf(s, 'a1', 'A')];

    assert.ok(pings(s, 'i1', i2), 'I ↔ I');
    assert.ok(pings(s, 'a1', FAR_IP), 'egress works from a network that is not internal');
    assert.ok(!pings(s, 'i1', FAR_IP), 'no egress from I');
    assert.ok(!pings(s, 'i1', a1), 'I → A is dropped');
    assert.ok(!pings(s, 'a1', i1), 'A → I is dropped');
    assert.doesNotMatch(s.tsnet('exec', 'i1', 'ip', 'route'), /default/, 'no route out');
    // Even a route out, added inside (as a container with NET_ADMIN could), leads nowhere.
    s.tsnet('exec', 'i1', 'ip', 'route', 'add', 'default', 'via', '10.91.3.1');
    assert.ok(!pings(s, 'i1', FAR_IP), 'still no egress with a default route');
    const masq = ruleset(s).rules.filter((r) => r.chain === 'postrouting' && String(r.comment).startsWith('bridge:I:'));
    assert.deepEqual(masq, [], 'no masquerade for I');
    const own = ruleset(s).rules.filter((r) => r.chain === `fw-${brI}`);
    assert.equal(own.length, 2, 'the two drops of an internal bridge');

    const p = s.e.tsnet('run', '-d', '--name', 'pub', '--net', 'I', '-p', '8081:80', 'img', 'sleep', '300');
    assert.notEqual(p.status, 0);
    assert.match(p.stderr, /network "I" is internal: nothing is forwarded into or out of it, so it publishes no ports/);
    assert.match(p.stderr, /drop -p/);
    assert.ok(!ruleset(s).rules.some((r) => String(r.comment).startsWith('ports:')), 'no DNAT rule left by the refused run');
  });

  it('icc=false: containers on the network cannot talk to each other; egress and published ports work', async (t) => {
    const s = await sim(t);
    const brQ = makeNetwork(s, 'Q', '--subnet', '10.91.4.0/24', '-o', 'icc=false');
    const brD = makeNetwork(s, 'D', '--subnet', '10.91.6.0/24', '-o', 'com.docker.network.bridge.enable_icc=false');
    assert.equal(JSON.parse(s.tsnet('network', 'inspect', 'D'))[0].options.icc, false);
    s.tsnet('run', '-d', '--name', 'q1', '--net', 'Q', 'img', 'sleep', '300');
    s.tsnet('run', '-d', '--name', 'q2', '--net', 'Q', '-p', '8082:80', 'img', 'sh', '-c', HTTPD('from-q2'));
    s.tsnet('run', '-d', '--name', 'd1', '--net', 'D', 'img', 'sleep', '300');
    const q2 = ipOf(s, 'q2', 'Q');
    await served(s, 8082, 'from-q2');

    assert.ok(!pings(s, 'q1', q2), 'Q → Q is dropped');
    assert.equal(getFromCtr(s, 'q1', q2, 80), '', 'TCP too');
    assert.ok(pings(s, 'q1', '10.91.4.1'), 'the gateway answers');
    assert.ok(pings(s, 'q1', FAR_IP), 'egress');
    assert.equal(getFromFar(s, HOST_IP, 8082), 'from-q2', 'the published port from outside');
    assert.equal(getFromCtr(s, 'd1', HOST_IP, 8082), 'from-q2', 'and from a container on another network');
    // A sibling reaching it through a host address is masqueraded, so q2 answers the bridge, not q1's port —
    // where the kernel routes it (br_netfilter off in this host; with it on, the kernel bridges the DNAT'd
    // frame from port to port and port isolation drops it, as Docker's icc=false without its proxy).
    s.ok('sh', '-c', 'echo 0 > /proc/sys/net/bridge/bridge-nf-call-iptables');
    assert.equal(getFromCtr(s, 'q1', HOST_IP, 8082), 'from-q2', "a sibling, through the host's address");
    assert.ok(!pings(s, 'q1', q2), 'still no Q → Q');
    // The kernel: every container port of both bridges is isolated.
    for (const br of [brQ, brD]) {
      const ports = JSON.parse(s.ok('ip', '-d', '-j', 'link', 'show', 'master', br)) as any[];
      assert.ok(ports.length > 0);
      for (const p of ports) assert.equal(p.linkinfo.info_slave_data.isolated, true, `${p.ifname} on ${br} is isolated`);
    }
    // Its containers gone, nothing of tsnet's is left in the firewall.
    s.tsnet('rm', '-f', 'q1', 'q2', 'd1');
    assert.equal(s.run('nft', 'list', 'table', 'inet', 'tsnet').status, 1, 'no table inet tsnet');
  });

  it('a host firewall as dockerd leaves it (FORWARD policy DROP, DOCKER-USER): egress, container↔container and -p work; reload restores them after a flush', async (t) => {
    const s = await sim(t);
    const dockerd = () => {
      s.ok('iptables', '-P', 'FORWARD', 'DROP');
      s.ok('iptables', '-N', 'DOCKER-USER');
      s.ok('iptables', '-A', 'DOCKER-USER', '-j', 'RETURN');
      s.ok('iptables', '-A', 'FORWARD', '-j', 'DOCKER-USER');
      s.ok('iptables', '-N', 'DOCKER-ISOLATION-STAGE-1');
      s.ok('iptables', '-A', 'DOCKER-ISOLATION-STAGE-1', '-j', 'RETURN');
      s.ok('iptables', '-A', 'FORWARD', '-j', 'DOCKER-ISOLATION-STAGE-1');
      s.ok('ip6tables', '-P', 'FORWARD', 'DROP');
    };
    dockerd();
    // With br_netfilter, bridged traffic between two containers crosses the FORWARD chain too.
    assert.equal(s.ok('cat', '/proc/sys/net/bridge/bridge-nf-call-iptables').trim(), '1');
    const br = makeNetwork(s, 'A', '--subnet', '10.91.5.0/24');
    s.tsnet('run', '-d', '--name', 'a1', '--net', 'A', 'img', 'sleep', '300');
    s.tsnet('run', '-d', '--name', 'a2', '--net', 'A', '-p', '8083:80', 'img', 'sh', '-c', HTTPD('from-a2'));
    const a2 = ipOf(s, 'a2', 'A');
    await served(s, 8083, 'from-a2');
    assert.deepEqual(works(s, a2, 8083, 'from-a2'), ALL);

    // iptables still reads its table (dockerd keeps working), with tsnet's accepts in FORWARD.
    const fwd = s.ok('iptables', '-S', 'FORWARD');
    assert.match(fwd, /^-P FORWARD DROP$/m);
    assert.match(fwd, new RegExp(`^-A FORWARD -i ${br} -m comment --comment "?tsnet:fw:${br}"? -j ACCEPT$`, 'm'));
    assert.match(
      fwd,
      new RegExp(
        `^-A FORWARD -o ${br} -m conntrack --ctstate RELATED,ESTABLISHED,DNAT -m comment --comment "?tsnet:fw:${br}"? -j ACCEPT$`,
        'm',
      ),
    );
    assert.match(fwd, /^-A FORWARD -j DOCKER-USER$/m);
    // tsnet's accepts come right after dockerd's jump to DOCKER-USER: a user's rules there filter tsnet's networks
    // as they filter Docker's (a DROP there stops the network's egress; gone, egress is back)
    const appended = fwd.split('\n').filter((l) => l.startsWith('-A FORWARD '));
    assert.equal(appended[0], '-A FORWARD -j DOCKER-USER', "dockerd's jump stays first");
    assert.match(appended[1] ?? '', new RegExp(`tsnet:fw:${br}`));
    s.ok('iptables', '-I', 'DOCKER-USER', '-i', br, '-j', 'DROP');
    assert.equal(works(s, a2, 8083, 'from-a2').egress, false, "a user's DROP in DOCKER-USER filters the tsnet network");
    s.ok('iptables', '-D', 'DOCKER-USER', '-i', br, '-j', 'DROP');
    s.ok('iptables', '-I', 'DOCKER-USER', '-s', '192.0.2.0/24', '-j', 'DROP'); // dockerd can still change it
    assert.match(s.ok('ip6tables', '-S', 'FORWARD'), new RegExp(`-i ${br} .*tsnet:fw:${br}`));

    // A flush of tsnet's table: masquerade and DNAT are gone (far cannot answer, the port is closed).
    s.ok('nft', 'flush', 'table', 'inet', 'tsnet');
    const flushed = works(s, a2, 8083, 'from-a2');
    assert.equal(flushed.egress, false);
    assert.equal(flushed.published, false);
    const out = s.tsnet('network', 'reload');
    assert.match(
      out,
      new RegExp(`^A: bridge ${br} \\(isolated\\), 2 container interface\\(s\\), 2 masqueraded, 1 published port\\(s\\)$`, 'm'),
    );
    assert.deepEqual(works(s, a2, 8083, 'from-a2'), ALL, 'back after reload');
    // Reload again: the same rules, not twice as many.
    const count = () => ruleset(s).rules.filter((r) => String(r.comment ?? '').match(/^(tsnet:)?(fw|bridge|ports):/)).length;
    const before = count();
    s.tsnet('network', 'reload');
    assert.equal(count(), before);

    // The whole ruleset flushed and dockerd's firewall back (a firewall restart): tsnet's accepts are gone.
    s.ok('nft', 'flush', 'ruleset');
    dockerd();
    assert.deepEqual(works(s, a2, 8083, 'from-a2'), NONE);
    s.tsnet('network', 'reload');
    assert.deepEqual(works(s, a2, 8083, 'from-a2'), ALL, 'back after reload');
    assert.match(s.ok('iptables', '-S', 'FORWARD'), new RegExp(`tsnet:fw:${br}`));

    // The last container gone: tsnet's accepts leave dockerd's chain as they found it, and its table goes.
    s.tsnet('rm', '-f', 'a1', 'a2');
    const left = s.ok('iptables', '-S');
    assert.doesNotMatch(left, /tsnet/);
    assert.match(left, /^-A FORWARD -j DOCKER-USER$/m);
    assert.match(left, /^-P FORWARD DROP$/m);
    assert.doesNotMatch(s.ok('ip6tables', '-S'), /tsnet/);
    assert.equal(s.run('nft', 'list', 'table', 'inet', 'tsnet').status, 1, 'no table inet tsnet');
  });

  it('a host on legacy iptables whose FORWARD drops: the accepts go in through iptables-legacy and leave with the last container', async (t) => {
    const s = await sim(t);
    s.ok('iptables-legacy', '-P', 'FORWARD', 'DROP');
    s.ok('iptables-legacy', '-A', 'FORWARD', '-s', '192.0.2.0/24', '-j', 'DROP');
    s.ok('iptables-legacy', '-N', 'DOCKER-USER');
    s.ok('iptables-legacy', '-A', 'FORWARD', '-j', 'DOCKER-USER');
    const br = makeNetwork(s, 'A', '--subnet', '10.91.7.0/24');
    s.tsnet('run', '-d', '--name', 'a1', '--net', 'A', 'img', 'sleep', '300');
    s.tsnet('run', '-d', '--name', 'a2', '--net', 'A', '-p', '8084:80', 'img', 'sh', '-c', HTTPD('from-a2'));
    const a2 = ipOf(s, 'a2', 'A');
    await served(s, 8084, 'from-a2');
    assert.deepEqual(works(s, a2, 8084, 'from-a2'), ALL);
    const fwd = s.ok('iptables-legacy', '-S', 'FORWARD');
    assert.match(fwd, new RegExp(`^-A FORWARD -i ${br} -m comment --comment "?tsnet:fw:${br}"? -j ACCEPT$`, 'm'));
    assert.match(
      fwd,
      new RegExp(
        `^-A FORWARD -o ${br} -m conntrack --ctstate RELATED,ESTABLISHED,DNAT -m comment --comment "?tsnet:fw:${br}"? -j ACCEPT$`,
        'm',
      ),
    );
    const appended = fwd.split('\n').filter((l) => l.startsWith('-A FORWARD '));
    assert.equal(appended[1], '-A FORWARD -j DOCKER-USER');
    assert.match(appended[2] ?? '', /tsnet:fw:/, 'right after the jump to DOCKER-USER');
    s.ok('iptables-legacy', '-F', 'FORWARD'); // a firewall reload, say
    assert.deepEqual(works(s, a2, 8084, 'from-a2'), NONE);
    s.tsnet('network', 'reload');
    assert.deepEqual(works(s, a2, 8084, 'from-a2'), ALL, 'back after reload');
    s.tsnet('rm', '-f', 'a1', 'a2');
    assert.doesNotMatch(s.ok('iptables-legacy', '-S'), /tsnet/);
    assert.match(s.ok('iptables-legacy', '-S'), /^-P FORWARD DROP$/m);
  });
});
