// Container DNS on the engine's user networks, end to end, in a namespace that plays the host (dns-world.ts):
// names and aliases resolve inside a network and not across; other names go to the host's resolver (a
// loopback stub in the test's host namespace); DNS follows network connect/disconnect, stop, start and rm; the
// resolver killed comes back; nothing of it is left after the last container goes. Observed from inside the
// containers (busybox nslookup, ping) and from /proc and `ss` for the resolver's processes and sockets.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { needsRoot } from './harness.js';
import { dnsWorld, hasDnsmasq, lookup, pidOf, port53Sockets, resolverProcesses, type DnsWorld } from './dns-world.js';

const skip = needsRoot || (!hasDnsmasq ? 'dnsmasq is not installed (apt-get install dnsmasq-base)' : false);

function network(d: DnsWorld, name: string, subnet: string, ...extra: string[]): void {
  d.ok('network', 'create', name, '--subnet', subnet, '--bridge', `tbd${d.w.id}${name.slice(-1)}`, '--no-masquerade', ...extra);
}

/** Polls until `cond` holds; returns how long it took (for the message only: the test never depends on speed). */
async function until(what: string, cond: () => boolean, ms = 20_000): Promise<number> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error(`not within ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return Date.now() - t0;
}

describe('container DNS on user networks', { skip }, () => {
  it('names and aliases resolve inside a network, not across; others are forwarded; connect, disconnect, stop, start and rm are followed', async (t) => {
    const d = await dnsWorld(t, { 'upstream.test': '198.51.100.7' });
    d.ok('image', 'from-host', 'img');
    network(d, 'neta', '10.231.1.0/24');
    network(d, 'netb', '10.231.2.0/24');
    network(d, 'netc', '10.231.3.0/24', '--disable-dns');
    const ip = (c: string, net: string) => d.inspect(c).NetworkSettings.Networks[net].IPAddress as string;

    d.ok('run', '-d', '--name', 'a1', '--net', 'neta', '--network-alias', 'web', '--network-alias', 'www', 'img', 'sleep', '300');
    d.ok('run', '-d', '--name', 'a2', '--net', 'neta', 'img', 'sleep', '300');
    d.ok('run', '-d', '--name', 'b1', '--net', 'netb', 'img', 'sleep', '300');
    d.ok('run', '-d', '--name', 'c1', '--net', 'netc', 'img', 'sleep', '300');

    // The container asks its network's resolver: the gateway, with the domain to search.
    const resolv = d.ok('exec', 'a2', 'cat', '/etc/resolv.conf');
    assert.match(resolv, /^nameserver 10\.231\.1\.1$/m);
    assert.match(resolv, /^search dns\.tsnet$/m);
    assert.doesNotMatch(d.ok('exec', 'c1', 'cat', '/etc/resolv.conf'), /10\.231\.3\.1/, '--disable-dns: no resolver');
    assert.deepEqual(d.inspect('a1').NetworkSettings.Networks.neta.Aliases, ['web', 'www', d.inspect('a1').Id.slice(0, 12)]);

    // Inside neta: names, aliases, the domain form; from a2, by name, ping reaches a1.
    const a1 = ip('a1', 'neta');
    assert.deepEqual(lookup(d, 'a2', 'a1'), [a1]);
    assert.deepEqual(lookup(d, 'a2', 'web'), [a1]);
    assert.deepEqual(lookup(d, 'a2', 'www.dns.tsnet'), [a1]);
    assert.deepEqual(lookup(d, 'a1', 'a2'), [ip('a2', 'neta')], 'its own network, both ways');
    const ping = d.tsnet('exec', 'a2', 'ping', '-c', '1', '-W', '2', 'web');
    assert.equal(ping.status, 0, ping.stdout + ping.stderr);
    // Not across: netb's b1 does not resolve neta's names, nor a2 netb's.
    assert.deepEqual(lookup(d, 'b1', 'a1'), []);
    assert.deepEqual(lookup(d, 'b1', 'web'), []);
    assert.deepEqual(lookup(d, 'a2', 'b1'), []);
    // Other names go to the host's resolver (the stub on 127.0.0.53 in the host namespace).
    assert.deepEqual(lookup(d, 'a2', 'upstream.test'), ['198.51.100.7']);
    assert.deepEqual(lookup(d, 'b1', 'upstream.test'), ['198.51.100.7']);

    // network connect: a2 on netb too (alias there: cache) — each side resolves the other, at its netb address.
    d.ok('network', 'connect', '--alias', 'cache', 'netb', 'a2');
    const a2b = ip('a2', 'netb');
    assert.deepEqual(lookup(d, 'b1', 'a2'), [a2b]);
    assert.deepEqual(lookup(d, 'b1', 'cache'), [a2b]);
    assert.deepEqual(lookup(d, 'a2', 'b1'), [ip('b1', 'netb')], "a2 asks neta's resolver and still sees netb's names");
    assert.deepEqual(lookup(d, 'a1', 'cache'), [], 'the alias is on netb only');
    // disconnect: gone again.
    d.ok('network', 'disconnect', 'netb', 'a2');
    assert.deepEqual(lookup(d, 'b1', 'a2'), []);
    assert.deepEqual(lookup(d, 'a2', 'b1'), []);

    // inspect shows the resolver.
    const dnsA = JSON.parse(d.ok('network', 'inspect', 'neta'))[0].dns;
    assert.deepEqual(dnsA, { enabled: true, resolver: '10.231.1.1', domain: 'dns.tsnet', listening: true });
    assert.deepEqual(JSON.parse(d.ok('network', 'inspect', 'netc'))[0].dns, { enabled: false });

    // stop: the name goes with the container; rm of the only container on netb closes netb's resolver address.
    d.ok('stop', '-t', '1', 'a1');
    assert.deepEqual(lookup(d, 'a2', 'a1'), []);
    assert.deepEqual(lookup(d, 'a2', 'web'), []);
    // start: a new address (none was pinned, as Docker), and its name and aliases are back, at that address
    d.ok('start', 'a1');
    const a1again = ip('a1', 'neta');
    assert.notEqual(a1again, a1, 'a new address');
    assert.deepEqual(lookup(d, 'a2', 'a1'), [a1again]);
    assert.deepEqual(lookup(d, 'a2', 'web'), [a1again]);
    d.ok('rm', '-f', 'b1');
    assert.ok(!port53Sockets(d.host).some((s) => s.includes('10.231.2.1')), port53Sockets(d.host).join('\n'));
    assert.ok(
      port53Sockets(d.host).some((s) => s.includes('10.231.1.1:53')),
      'neta still served',
    );
  });

  it('the resolver killed comes back; nothing of it is left after the last container goes', async (t) => {
    const d = await dnsWorld(t, {});
    d.ok('image', 'from-host', 'img');
    network(d, 'netk', '10.232.1.0/24');
    d.ok('run', '-d', '--name', 'k1', '--net', 'netk', 'img', 'sleep', '300');
    d.ok('run', '-d', '--name', 'k2', '--net', 'netk', 'img', 'sleep', '300');
    const k1 = d.inspect('k1').NetworkSettings.Networks.netk.IPAddress as string;
    assert.deepEqual(lookup(d, 'k2', 'k1'), [k1]);
    const procs = resolverProcesses(d.dnsDir);
    assert.equal(procs.size, 2, `one supervisor and one worker: ${JSON.stringify([...procs])}`);

    // The worker (the process answering on port 53) killed: its supervisor starts another.
    const worker = pidOf(procs, 'worker')!;
    process.kill(worker, 'SIGKILL');
    const back = await until('k1 resolves after the worker was killed', () => lookup(d, 'k2', 'k1').join() === k1);
    const worker2 = pidOf(resolverProcesses(d.dnsDir), 'worker');
    assert.ok(worker2 && worker2 !== worker, 'a new worker');
    t.diagnostic(`names resolved again ${back} ms after the worker was killed`);

    // The supervisor killed: the worker hands over to a new supervisor.
    const sup = pidOf(resolverProcesses(d.dnsDir), 'supervisor')!;
    process.kill(sup, 'SIGKILL');
    await until('a new supervisor', () => {
      const p = pidOf(resolverProcesses(d.dnsDir), 'supervisor');
      return p !== undefined && p !== sup;
    });
    const back2 = await until('k1 resolves after the supervisor was killed', () => lookup(d, 'k2', 'k1').join() === k1);
    t.diagnostic(`names resolved again ${back2} ms after the supervisor was killed`);
    assert.equal(resolverProcesses(d.dnsDir).size, 2);

    // The last container gone: no process and no socket of the resolver, at once.
    d.ok('rm', '-f', 'k1');
    assert.equal(resolverProcesses(d.dnsDir).size, 2, 'k2 still there: still served');
    d.ok('rm', '-f', 'k2');
    assert.deepEqual([...resolverProcesses(d.dnsDir)], [], 'no resolver process left');
    assert.deepEqual(port53Sockets(d.host), [], 'no socket on port 53 left');
  });
});
