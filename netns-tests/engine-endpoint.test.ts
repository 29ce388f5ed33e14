// Each endpoint as Docker 20.10 has it: on a user network a container's short id (the first 12 hex digits of
// its id) is one of its aliases — inspect lists it after the --network-alias ones, and the others on the network
// resolve and ping it through the network's resolver, on `network connect`ed networks too; not on the default
// bridge (Aliases null). Each endpoint has an EndpointID: 64 hex digits, the same for every inspect while the
// container runs (and in `network inspect`'s Containers), "" once it is stopped, a new one when it starts again;
// --net host and none have one too.
// The engine runs in a namespace that plays the host (engine-host.ts; dns-world.ts for the
// DNS scenario, whose resolver forwards to a stub of the test's own); names are read from inside the containers
// (busybox nslookup, ping).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { needsRoot } from './harness.js';
import { bridgeNetwork, engineHost } from './engine-host.js';
import { dnsWorld, hasDnsmasq, lookup } from './dns-world.js';

const HEX64 = /^[0-9a-f]{64}$/;

describe('endpoints: the short-id alias and EndpointID', { skip: needsRoot }, () => {
  it(
    'a container resolves and pings another by its short id, on its network and on one connected later',
    { skip: !hasDnsmasq && 'dnsmasq is not installed' },
    async (t) => {
      const d = await dnsWorld(t, {});
      d.ok('image', 'from-host', 'img');
      const net = (name: string, subnet: string) =>
        d.ok('network', 'create', name, '--subnet', subnet, '--bridge', `tbe${d.w.id}${name.slice(-1)}`, '--no-masquerade');
      net('nets', '10.233.1.0/24');
      net('nett', '10.233.2.0/24');
      const ip = (c: string, n: string) => d.inspect(c).NetworkSettings.Networks[n].IPAddress as string;

      d.ok('run', '-d', '--name', 's1', '--net', 'nets', 'img', 'sleep', '300');
      d.ok('run', '-d', '--name', 's2', '--net', 'nets', 'img', 'sleep', '300');
      d.ok('run', '-d', '--name', 't1', '--net', 'nett', 'img', 'sleep', '300');
      const id1 = d.inspect('s1').Id as string;
      const short1 = id1.slice(0, 12);

      // s2 finds s1 by its short id (and the domain form), and reaches it
      assert.deepEqual(lookup(d, 's2', short1), [ip('s1', 'nets')]);
      assert.deepEqual(lookup(d, 's2', `${short1}.dns.tsnet`), [ip('s1', 'nets')]);
      const ping = d.tsnet('exec', 's2', 'ping', '-c', '1', '-W', '2', short1);
      assert.equal(ping.status, 0, ping.stdout + ping.stderr);
      // its name still resolves, and its own hostname is still its short id
      assert.deepEqual(lookup(d, 's2', 's1'), [ip('s1', 'nets')]);
      assert.equal(d.ok('exec', 's1', 'cat', '/etc/hostname').trim(), short1);
      // not across networks
      assert.deepEqual(lookup(d, 't1', short1), []);

      // network connect: on nett too, t1 resolves s1's short id at its nett address
      d.ok('network', 'connect', 'nett', 's1');
      assert.deepEqual(lookup(d, 't1', short1), [ip('s1', 'nett')]);
      const ping2 = d.tsnet('exec', 't1', 'ping', '-c', '1', '-W', '2', short1);
      assert.equal(ping2.status, 0, ping2.stdout + ping2.stderr);
      d.ok('network', 'disconnect', 'nett', 's1');
      assert.deepEqual(lookup(d, 't1', short1), []);
      assert.deepEqual(lookup(d, 's2', short1), [ip('s1', 'nets')], 'still on nets');
    },
  );

  it('inspect: the short id in Aliases after the --network-alias ones, on user networks only, connected ones too', (t) => {
    const h = engineHost(t, 'alhost', { bins: 'sh,sleep' });
    const { net } = bridgeNetwork(h, 'a', ['10.233.3.0/24']);
    const { net: net2 } = bridgeNetwork(h, 'b', ['10.233.4.0/24']);
    const e = h.e;
    const nets = (c: string) => e.inspect(c).NetworkSettings.Networks;
    const short = (c: string) => (e.inspect(c).Id as string).slice(0, 12);

    e.ok('run', '-d', '--name', 'u1', '--net', net, '--network-alias', 'web', 'img', 'sleep', '300');
    e.ok('run', '-d', '--name', 'u2', '--net', net, 'img', 'sleep', '300');
    e.ok('run', '-d', '--name', 'b1', 'img', 'sleep', '300'); // the default bridge
    assert.deepEqual(nets('u1')[net].Aliases, ['web', short('u1')]);
    assert.deepEqual(nets('u2')[net].Aliases, [short('u2')]);
    assert.equal(nets('b1').bridge.Aliases, null, 'none on the default bridge');
    // given as an alias too: listed once
    e.ok('run', '-d', '--name', 'u3', '--net', net, '--network-alias', 'x', 'img', 'sleep', '300');
    const id3 = short('u3');
    e.ok('network', 'connect', '--alias', id3, '--alias', 'y', net2, 'u3');
    assert.deepEqual(nets('u3')[net2].Aliases, [id3, 'y']);
    // network connect of a running container: the short id after --alias
    e.ok('network', 'connect', '--alias', 'cache', net2, 'u1');
    assert.deepEqual(nets('u1')[net2].Aliases, ['cache', short('u1')]);
    // stopped and started again: kept
    e.ok('stop', '-t', '1', 'u1');
    assert.deepEqual(nets('u1')[net].Aliases, ['web', short('u1')]);
    e.ok('start', 'u1');
    assert.deepEqual(nets('u1')[net].Aliases, ['web', short('u1')]);
    assert.deepEqual(nets('u1')[net2].Aliases, ['cache', short('u1')]);
    // a stopped container connected: listed with its short id before it starts, and after
    e.ok('stop', '-t', '1', 'u2');
    e.ok('network', 'connect', net2, 'u2');
    assert.deepEqual(nets('u2')[net2].Aliases, [short('u2')]);
    e.ok('start', 'u2');
    assert.deepEqual(nets('u2')[net2].Aliases, [short('u2')]);
  });

  it('EndpointID: 64 hex while running, one per endpoint, stable across inspects; "" stopped; new ones after a restart', (t) => {
    const h = engineHost(t, 'ephost', { bins: 'sh,sleep' });
    const { net } = bridgeNetwork(h, 'e', ['10.233.5.0/24']);
    const { net: net2 } = bridgeNetwork(h, 'f', ['10.233.6.0/24']);
    const e = h.e;
    const nets = (c: string) => e.inspect(c).NetworkSettings.Networks;

    e.ok('run', '-d', '--name', 'u1', '--net', net, 'img', 'sleep', '300');
    e.ok('run', '-d', '--name', 'u2', '--net', net, 'img', 'sleep', '300');
    e.ok('run', '-d', '--name', 'b1', 'img', 'sleep', '300'); // the default bridge
    const ep1 = nets('u1')[net].EndpointID as string;
    assert.match(ep1, HEX64);
    assert.equal(nets('u1')[net].EndpointID, ep1, 'the same on a second inspect');
    const ep2 = nets('u2')[net].EndpointID as string;
    assert.match(ep2, HEX64);
    assert.notEqual(ep2, ep1, 'one per endpoint');
    // network inspect's Containers has the same
    const on = JSON.parse(e.ok('network', 'inspect', '-f', '{{json .Containers}}', net));
    assert.equal(on[e.inspect('u1').Id].EndpointID, ep1);
    assert.equal(on[e.inspect('u2').Id].EndpointID, ep2);
    // the default bridge's endpoint, at the top level too (empty there for a container on another network)
    const b1 = e.inspect('b1').NetworkSettings;
    assert.match(b1.Networks.bridge.EndpointID, HEX64);
    assert.equal(b1.EndpointID, b1.Networks.bridge.EndpointID);
    assert.equal(e.inspect('u1').NetworkSettings.EndpointID, '');

    // network connect: an endpoint of its own; the first one unchanged
    e.ok('network', 'connect', net2, 'u1');
    const after = nets('u1');
    assert.match(after[net2].EndpointID, HEX64);
    assert.notEqual(after[net2].EndpointID, ep1);
    assert.equal(after[net].EndpointID, ep1);

    // stopped: "" on each network, as Docker shows it
    e.ok('stop', '-t', '1', 'u1');
    const stopped = nets('u1');
    assert.equal(stopped[net].EndpointID, '');
    assert.equal(stopped[net2].EndpointID, '');
    // started again: new endpoints
    e.ok('start', 'u1');
    const again = nets('u1');
    assert.match(again[net].EndpointID, HEX64);
    assert.notEqual(again[net].EndpointID, ep1, 'a new endpoint after the restart');
    assert.match(again[net2].EndpointID, HEX64);
    assert.notEqual(again[net2].EndpointID, after[net2].EndpointID);
    // restart of a running one: new too
    const b1ep = b1.Networks.bridge.EndpointID;
    e.ok('restart', '-t', '1', 'b1');
    const b1again = e.inspect('b1').NetworkSettings.Networks.bridge.EndpointID;
    assert.match(b1again, HEX64);
    assert.notEqual(b1again, b1ep);

    // a stopped container connected: no EndpointID until it starts
    e.ok('stop', '-t', '1', 'u2');
    e.ok('network', 'connect', net2, 'u2');
    assert.equal(nets('u2')[net2].EndpointID, '');
    e.ok('start', 'u2');
    assert.match(nets('u2')[net2].EndpointID, HEX64);
  });

  it('EndpointID on --net host and --net none too, "" once stopped', (t) => {
    const h = engineHost(t, 'hnhost', { bins: 'sh,sleep' });
    const e = h.e;
    e.ok('run', '-d', '--name', 'h1', '--net', 'host', 'img', 'sleep', '300');
    e.ok('run', '-d', '--name', 'n1', '--net', 'none', 'img', 'sleep', '300');
    const hostEp = e.inspect('h1').NetworkSettings.Networks.host.EndpointID;
    const noneEp = e.inspect('n1').NetworkSettings.Networks.none.EndpointID;
    assert.match(hostEp, HEX64);
    assert.match(noneEp, HEX64);
    assert.notEqual(hostEp, noneEp);
    assert.equal(e.inspect('h1').NetworkSettings.Networks.host.EndpointID, hostEp, 'the same on a second inspect');
    e.ok('stop', '-t', '1', 'h1');
    assert.equal(e.inspect('h1').NetworkSettings.Networks.host.EndpointID, '');
    e.ok('start', 'h1');
    const again = e.inspect('h1').NetworkSettings.Networks.host.EndpointID;
    assert.match(again, HEX64);
    assert.notEqual(again, hostEp);
  });
});
