// Docker's network modes as CNI plugins, exec'd as a runtime does inside a namespace that plays the host:
// host (shares the host netns, changes nothing), container (joins another container's netns; DEL leaves the
// owner's network intact), none (only lo, up), and the attach plugin. Assertions read the kernel with ip -j.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { cni, cniOk } from './cni-exec.js';
import { ip, ipj, needsRoot, world } from './harness.js';
import { snapshot } from './attach-cli.js';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { REPO } from './cni-exec.js';

/** Calls hostPlugin.<verb> in a node process inside ns (so "the host" is the test's namespace). */
function hostLib(ns: string, verb: 'add' | 'del' | 'check', conf: unknown): any {
  const mod = join(REPO, 'dist', 'plugins', 'host', 'plugin.js');
  const args = { command: verb.toUpperCase(), containerId: 'h', netns: `/run/netns/${ns}`, ifname: 'eth0', args: {}, path: [] };
  const code = `const { hostPlugin } = await import(${JSON.stringify(mod)}); const r = await hostPlugin.${verb}(${JSON.stringify(conf)}, ${JSON.stringify(args)}); process.stdout.write(JSON.stringify(r ?? null));`;
  const p = spawnSync('ip', ['netns', 'exec', ns, process.execPath, '--input-type=module', '-e', code], { encoding: 'utf8' });
  if (p.status !== 0) throw new Error(`hostPlugin.${verb} failed: ${p.stderr}`);
  return JSON.parse(p.stdout);
}

describe('network modes', { skip: needsRoot }, () => {
  it('host: reports the host interfaces and addresses, changes nothing; a foreign netns is refused', async (t) => {
    const w = world(t);
    const h = w.netns('host');
    const other = w.netns('other');
    ip(null, 'link', 'add', 'up0', 'netns', h, 'type', 'veth', 'peer', 'name', 'up1', 'netns', other);
    ip(h, 'addr', 'add', '10.66.0.1/24', 'dev', 'up0');
    ip(h, 'link', 'set', 'up0', 'up');
    const before = snapshot(h);
    const conf = { cniVersion: '1.0.0', name: 'hostnet', type: 'host' };
    // The executable, as a runtime runs it: CNI_NETNS is the host's own netns (skel allows that for host only).
    const r = cniOk({ hostNs: h, plugin: 'host', command: 'ADD', conf, netns: `/run/netns/${h}` });
    const { dns: _dns, ...printed } = r; // the 1.x printer always writes dns
    assert.deepEqual(hostLib(h, 'add', conf), printed, 'library and executable agree');
    cniOk({ hostNs: h, plugin: 'host', command: 'CHECK', conf: { ...conf, prevResult: r }, netns: `/run/netns/${h}` });
    // Every other plugin still refuses the host's own netns.
    const refused = cni({
      hostNs: h,
      plugin: 'none',
      command: 'ADD',
      conf: { cniVersion: '1.0.0', name: 'n', type: 'none' },
      netns: `/run/netns/${h}`,
    });
    assert.equal(refused.json.code, 4);
    assert.match(refused.json.msg, /own network namespace/);
    const i = r.interfaces.findIndex((x: any) => x.name === 'up0');
    assert.ok(i >= 0, JSON.stringify(r));
    assert.equal(r.interfaces[i].mac, ipj(h, 'link', 'show', 'up0')[0].address);
    assert.ok(r.ips.some((x: any) => x.address === '10.66.0.1/24' && x.interface === i));
    assert.deepEqual(snapshot(h), before, 'host mode changes nothing');
    hostLib(h, 'check', conf);
    hostLib(h, 'del', conf);
    assert.deepEqual(snapshot(h), before);
    const bad = cni({ hostNs: h, plugin: 'host', command: 'ADD', conf, netns: `/run/netns/${other}` });
    assert.notEqual(bad.status, 0);
    assert.equal(bad.json.code, 100);
    assert.match(bad.json.msg, /network mode "host" needs the container in the host's network namespace/);
  });

  it("container: reports the owner's interfaces; DEL leaves the owner's network intact; a mismatch or unknown owner is refused", async (t) => {
    const w = world(t);
    const h = w.netns('host');
    const owner = w.netns('owner');
    const stranger = w.netns('stranger');
    // The owner got its network from the bridge plugin … simulated here with a veth and an address.
    ip(null, 'link', 'add', 'eth0', 'netns', owner, 'type', 'veth', 'peer', 'name', 'vo', 'netns', h);
    ip(owner, 'addr', 'add', '10.67.0.2/24', 'dev', 'eth0');
    ip(owner, 'link', 'set', 'eth0', 'up');
    ip(owner, 'link', 'set', 'lo', 'up');
    ip(h, 'link', 'set', 'vo', 'up');
    ip(owner, 'route', 'add', 'default', 'via', '10.67.0.1');
    const before = snapshot(owner);
    const conf = { cniVersion: '1.1.0', name: 'joined', type: 'container', container: owner };
    // The joining container runs in the owner's netns: CNI_NETNS is that netns (here by its /proc-less path).
    const call = { hostNs: h, plugin: 'container', netns: `/run/netns/${owner}`, containerId: 'joiner', ifname: 'eth0' };
    const r = cniOk({ ...call, command: 'ADD', conf });
    const i = r.interfaces.findIndex((x: any) => x.name === 'eth0');
    assert.ok(
      r.ips.some((x: any) => x.address === '10.67.0.2/24' && x.interface === i && x.gateway === '10.67.0.1'),
      JSON.stringify(r),
    );
    assert.equal(r.interfaces[i].sandbox, `/run/netns/${owner}`);
    assert.equal(cni({ ...call, command: 'CHECK', conf: { ...conf, prevResult: r } }).status, 0);
    cniOk({ ...call, command: 'DEL', conf });
    assert.deepEqual(snapshot(owner), before, "DEL of the joined container leaves the owner's network intact");
    assert.ok(ipj(owner, 'link', 'show', 'lo')[0].flags.includes('UP'), 'lo stays up');

    const mismatch = cni({ ...call, command: 'ADD', conf, netns: `/run/netns/${stranger}` });
    assert.equal(mismatch.json.code, 100);
    assert.match(mismatch.json.msg, /is not the network namespace of container/);
    const unknown = cni({ ...call, command: 'ADD', conf: { ...conf, container: `ghost-${w.id}` } });
    assert.equal(unknown.json.code, 3, 'spec code 3: unknown container');
    assert.match(unknown.json.msg, /unknown container/);
    const badConf = cni({ ...call, command: 'ADD', conf: { ...conf, container: 7 } });
    assert.equal(badConf.json.code, 7);
  });

  it('none: only lo, up, in the container', async (t) => {
    const w = world(t);
    const h = w.netns('host');
    const c = w.netns('ctr');
    cniOk({
      hostNs: h,
      plugin: 'none',
      command: 'ADD',
      conf: { cniVersion: '1.0.0', name: 'nonet', type: 'none' },
      netns: `/run/netns/${c}`,
    });
    const links = ipj(c, 'link', 'show');
    assert.deepEqual(
      links.map((l: any) => l.ifname),
      ['lo'],
    );
    assert.ok(links[0].flags.includes('UP'));
  });

  it('attach as a CNI plugin: ADD puts the container on br0 with the address and gateway, CHECK passes, DEL is idempotent', async (t) => {
    const w = world(t);
    const h = w.netns('host');
    const c = w.netns('ctr');
    const conf = {
      cniVersion: '1.0.0',
      name: 'pipe',
      type: 'attach',
      bridge: 'br0',
      address: '192.168.115.20/24',
      gateway: '192.168.115.2',
      mac: '02:42:c0:a8:73:14',
    };
    const call = { hostNs: h, plugin: 'attach', netns: `/run/netns/${c}`, ifname: 'eth1' };
    const r = cniOk({ ...call, command: 'ADD', conf });
    assert.deepEqual(r.ips, [{ address: '192.168.115.20/24', gateway: '192.168.115.2', interface: 2 }]);
    assert.equal(r.interfaces[2].mac, '02:42:c0:a8:73:14');
    assert.equal(ipj(h, 'link', 'show', r.interfaces[1].name)[0].master, 'br0');
    assert.equal(ipj(c, 'route', 'show', 'default')[0].gateway, '192.168.115.2');
    assert.equal(cni({ ...call, command: 'CHECK', conf: { ...conf, prevResult: r } }).status, 0);
    cniOk({ ...call, command: 'DEL', conf });
    assert.equal(
      ipj(c, 'link', 'show').some((l: any) => l.ifname === 'eth1'),
      false,
    );
    cniOk({ ...call, command: 'DEL', conf });
    const bad = cni({ ...call, command: 'ADD', conf: { ...conf, address: '192.168.115.20' } });
    assert.equal(bad.json.code, 7);
    assert.match(bad.json.msg, /no prefix length/);
    assert.match(bad.json.details, /did you mean 192\.168\.115\.20\/24\?/);
  });
});
