// The bridge, loopback and none plugins, exec'd as a runtime does, inside a namespace that plays the host.
// Every assertion reads the kernel with `ip -j`, and traffic stays between the test's own namespaces.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { IpamStore, ipamDir } from '../ipam/store.js';
import { SUPPORTED_VERSIONS } from '../plugins/cni/types.js';
import { join } from 'node:path';
import { cni, cniOk, REPO } from './cni-exec.js';
import { inNs, ipj, needsRoot, pings, world, type World } from './harness.js';

const VERSIONS: readonly string[] = SUPPORTED_VERSIONS;

interface Setup {
  w: World;
  host: string;
  bridge: string;
  root: string;
  conf: (extra?: Record<string, unknown>) => Record<string, unknown>;
}

function setup(t: Parameters<typeof world>[0], version: string, subnet: string): Setup {
  const w = world(t);
  const host = w.netns('host');
  const bridge = `tbr${w.id}`;
  const root = w.tmpdir();
  return {
    w,
    host,
    bridge,
    root,
    conf: (extra = {}) => ({
      cniVersion: version,
      name: `net${w.id}`,
      type: 'bridge',
      bridge,
      isDefaultGateway: true,
      ipam: { type: 'tsnet-ipam', subnet },
      ...extra,
    }),
  };
}

async function held(root: string, network: string): Promise<number> {
  const store = new IpamStore(ipamDir(root, network));
  if (!store.exists()) return 0;
  return (await store.read()).size;
}

describe('bridge plugin', { skip: needsRoot }, () => {
  for (const version of VERSIONS) {
    it(`ADD, CHECK, DEL, DEL again with cniVersion ${version}`, async (t) => {
      const s = setup(t, version, '10.61.0.0/24');
      const ctr = s.w.netns('ctr');
      const env = { TSNET_ROOT: s.root };
      const call = { hostNs: s.host, plugin: 'bridge', netns: `/run/netns/${ctr}`, containerId: `c-${s.w.id}`, env };
      const result = cniOk({ ...call, command: 'ADD', conf: s.conf() });

      // The result has the requested version's shape.
      assert.equal(result.cniVersion, version);
      const ip = result.ips[0];
      assert.equal(ip.address, '10.61.0.2/24');
      assert.equal(ip.gateway, '10.61.0.1');
      if (version.startsWith('0.')) assert.equal(ip.version, '4');
      else assert.equal(ip.version, undefined);
      assert.equal(result.interfaces[ip.interface].name, 'eth0');
      assert.equal(result.interfaces[ip.interface].sandbox, `/run/netns/${ctr}`);

      // The kernel agrees.
      const eth0 = ipj(ctr, 'addr', 'show', 'dev', 'eth0')[0];
      assert.ok(eth0.addr_info.some((a: any) => a.local === '10.61.0.2' && a.prefixlen === 24));
      assert.equal(eth0.operstate, 'UP');
      assert.equal(result.interfaces[ip.interface].mac, eth0.address, "the container end's MAC, as the kernel has it");
      const eth0d = ipj(ctr, '-d', 'link', 'show', 'dev', 'eth0')[0];
      assert.deepEqual([eth0d.num_tx_queues, eth0d.num_rx_queues], [1, 1], 'one queue each way (a veth uses one)');
      assert.equal(result.interfaces[1].mac, ipj(s.host, 'link', 'show', result.interfaces[1].name)[0].address, "the host end's MAC");
      assert.equal(ipj(s.host, 'link', 'show', result.interfaces[1].name)[0].master, s.bridge);
      const def = ipj(ctr, 'route', 'show', 'default')[0];
      assert.deepEqual({ gw: def.gateway, dev: def.dev }, { gw: '10.61.0.1', dev: 'eth0' });
      const br = ipj(s.host, 'addr', 'show', 'dev', s.bridge)[0];
      assert.ok(
        br.addr_info.some((a: any) => a.local === '10.61.0.1' && a.prefixlen === 24),
        'gateway address on the bridge',
      );
      assert.equal(result.interfaces[0].name, s.bridge);
      assert.ok(pings(ctr, '10.61.0.1'), 'container reaches its gateway');
      assert.equal(await held(s.root, `net${s.w.id}`), 1);

      // CHECK: from 0.4.0 on, against the ADD result.
      const chk = cni({ ...call, command: 'CHECK', conf: { ...s.conf(), prevResult: result } });
      if (version === '0.3.0' || version === '0.3.1') {
        assert.notEqual(chk.status, 0);
        assert.equal(chk.json.code, 1, 'CHECK is not defined before 0.4.0');
      } else assert.equal(chk.status, 0, chk.stdout + chk.stderr);

      // CHECK notices a removed address.
      if (!version.startsWith('0.3')) {
        spawnSync('ip', ['-n', ctr, 'addr', 'del', '10.61.0.2/24', 'dev', 'eth0']);
        const bad = cni({ ...call, command: 'CHECK', conf: { ...s.conf(), prevResult: result } });
        assert.notEqual(bad.status, 0);
        assert.match(bad.json.msg, /10\.61\.0\.2/);
      }

      // DEL: veth gone on both sides, address released; DEL again: success.
      const hostVeth = result.interfaces[1].name;
      cniOk({ ...call, command: 'DEL', conf: s.conf() });
      assert.equal(
        ipj(ctr, 'link', 'show').some((l: any) => l.ifname === 'eth0'),
        false,
      );
      assert.equal(
        ipj(s.host, 'link', 'show').some((l: any) => l.ifname === hostVeth),
        false,
      );
      assert.equal(await held(s.root, `net${s.w.id}`), 0);
      cniOk({ ...call, command: 'DEL', conf: s.conf() });
    });
  }

  it('IPv6: a dual-stack network gets both families on eth0; an IPv4-only one has no IPv6 there, nor on the host end', async (t) => {
    const s = setup(t, '1.0.0', '10.66.0.0/24');
    const dual = s.w.netns('dual');
    const v4 = s.w.netns('v4');
    const env = { TSNET_ROOT: s.root };
    const dualConf = {
      ...s.conf(),
      name: `dual${s.w.id}`,
      ipam: { type: 'tsnet-ipam', ranges: [[{ subnet: '10.67.0.0/24' }], [{ subnet: 'fd00:67::/64' }]] },
    };
    const r6 = cniOk({
      hostNs: s.host,
      plugin: 'bridge',
      command: 'ADD',
      netns: `/run/netns/${dual}`,
      containerId: `d-${s.w.id}`,
      env,
      conf: dualConf,
    });
    assert.deepEqual(
      r6.ips.map((i: any) => i.address),
      ['10.67.0.2/24', 'fd00:67::2/64'],
    );
    const e6 = ipj(dual, 'addr', 'show', 'dev', 'eth0')[0].addr_info.map((a: any) => `${a.local}/${a.prefixlen}`);
    assert.ok(e6.includes('fd00:67::2/64') && e6.includes('10.67.0.2/24'), `both families on eth0: ${e6.join(' ')}`);
    assert.equal(inNs(dual, 'cat', '/proc/sys/net/ipv6/conf/eth0/disable_ipv6').trim(), '0');
    assert.deepEqual(
      ipj(dual, '-6', 'route', 'show', 'default').map((r: any) => r.gateway),
      ['fd00:67::1'],
    );
    // IPv6 networks keep the usual link-local address (made once the link has carrier).
    const hasLinkLocal = () => ipj(dual, '-6', 'addr', 'show', 'dev', 'eth0')[0]?.addr_info.some((a: any) => a.scope === 'link');
    for (let i = 0; i < 100 && !hasLinkLocal(); i++) await new Promise((r) => setTimeout(r, 20));
    assert.ok(hasLinkLocal(), 'eth0 has a link-local address on a dual-stack network');

    const r4 = cniOk({
      hostNs: s.host,
      plugin: 'bridge',
      command: 'ADD',
      netns: `/run/netns/${v4}`,
      containerId: `f-${s.w.id}`,
      env,
      conf: s.conf(),
    });
    assert.equal(inNs(v4, 'cat', '/proc/sys/net/ipv6/conf/eth0/disable_ipv6').trim(), '1');
    assert.equal(inNs(v4, 'cat', '/proc/sys/net/ipv4/conf/eth0/arp_notify').trim(), '1');
    assert.deepEqual(ipj(v4, '-6', 'addr', 'show', 'dev', 'eth0'), [], 'no IPv6 address at all, not even link-local');
    assert.equal(inNs(s.host, 'cat', `/proc/sys/net/ipv6/conf/${r4.interfaces[1].name}/disable_ipv6`).trim(), '1');
    assert.deepEqual(ipj(s.host, '-6', 'addr', 'show', 'dev', r4.interfaces[1].name), [], 'no IPv6 address on the host end');
    assert.deepEqual(ipj(s.host, '-6', 'route', 'show', 'table', 'all', 'dev', r4.interfaces[1].name), [], 'nor IPv6 routes');
    for (const [ns, c, id] of [
      [dual, dualConf, 'd'],
      [v4, s.conf(), 'f'],
    ] as const)
      cniOk({ hostNs: s.host, plugin: 'bridge', command: 'DEL', netns: `/run/netns/${ns}`, containerId: `${id}-${s.w.id}`, env, conf: c });
  });

  it('DEL succeeds and releases the address when the netns is already gone', async (t) => {
    const s = setup(t, '1.0.0', '10.62.0.0/24');
    const ctr = s.w.netns('gone');
    const env = { TSNET_ROOT: s.root };
    cniOk({ hostNs: s.host, plugin: 'bridge', command: 'ADD', conf: s.conf(), netns: `/run/netns/${ctr}`, env });
    spawnSync('ip', ['netns', 'del', ctr]);
    cniOk({ hostNs: s.host, plugin: 'bridge', command: 'DEL', conf: s.conf(), netns: `/run/netns/${ctr}`, env });
    assert.equal(await held(s.root, `net${s.w.id}`), 0);
  });

  it('DEL releases the address when only the empty file of the netns is left (its mount lost)', async (t) => {
    const s = setup(t, '1.0.0', '10.68.0.0/24');
    const ctr = s.w.netns('stale');
    const env = { TSNET_ROOT: s.root };
    cniOk({ hostNs: s.host, plugin: 'bridge', command: 'ADD', conf: s.conf(), netns: `/run/netns/${ctr}`, env });
    assert.equal(await held(s.root, `net${s.w.id}`), 1);
    const um = spawnSync('umount', [`/run/netns/${ctr}`], { encoding: 'utf8' });
    assert.equal(um.status, 0, um.stderr);
    cniOk({ hostNs: s.host, plugin: 'bridge', command: 'DEL', conf: s.conf(), netns: `/run/netns/${ctr}`, env });
    assert.equal(await held(s.root, `net${s.w.id}`), 0);
  });

  it('two containers on one bridge reach each other; hairpin and MTU show in ip -d link', async (t) => {
    const s = setup(t, '1.0.0', '10.63.0.0/24');
    const env = { TSNET_ROOT: s.root };
    const a = s.w.netns('a');
    const b = s.w.netns('b');
    const conf = s.conf({ hairpinMode: true, mtu: 1400 });
    const ra = cniOk({ hostNs: s.host, plugin: 'bridge', command: 'ADD', conf, netns: `/run/netns/${a}`, containerId: 'ca', env });
    const rb = cniOk({ hostNs: s.host, plugin: 'bridge', command: 'ADD', conf, netns: `/run/netns/${b}`, containerId: 'cb', env });
    const ipA = ra.ips[0].address.split('/')[0];
    const ipB = rb.ips[0].address.split('/')[0];
    assert.notEqual(ipA, ipB);
    assert.ok(pings(a, ipB, 2), 'a reaches b');
    assert.ok(pings(b, ipA, 1), 'b reaches a');
    for (const r of [ra, rb]) {
      const port = ipj(s.host, '-d', 'link', 'show', r.interfaces[1].name)[0];
      assert.equal(port.master, s.bridge);
      assert.equal(port.mtu, 1400);
      assert.equal(port.linkinfo.info_slave_data.hairpin, true);
    }
    assert.equal(ipj(a, '-d', 'link', 'show', 'eth0')[0].mtu, 1400);
    // The bridge keeps one MAC (the gateway's, as containers see it) however ports come and go.
    const brMac = ipj(s.host, 'link', 'show', s.bridge)[0].address;
    assert.equal(ra.interfaces[0].mac, brMac);
    assert.equal(rb.interfaces[0].mac, brMac);
    cniOk({ hostNs: s.host, plugin: 'bridge', command: 'DEL', conf, netns: `/run/netns/${a}`, containerId: 'ca', env });
    assert.equal(ipj(s.host, 'link', 'show', s.bridge)[0].address, brMac);
    cniOk({ hostNs: s.host, plugin: 'bridge', command: 'DEL', conf, netns: `/run/netns/${b}`, containerId: 'cb', env });
  });

  it("a second network's default route is added beside the first one's (podman network connect + disconnect)", async (t) => {
    const s = setup(t, '1.0.0', '10.69.0.0/24');
    const ctr = s.w.netns('two');
    const env = { TSNET_ROOT: s.root };
    const call = { hostNs: s.host, plugin: 'bridge', netns: `/run/netns/${ctr}`, containerId: `c-${s.w.id}`, env };
    const second = s.conf({ name: `second${s.w.id}`, bridge: `tb2${s.w.id}`, ipam: { type: 'tsnet-ipam', subnet: '10.70.0.0/24' } });
    const defaults = () =>
      ipj(ctr, 'route', 'show', 'default')
        .map((r: any) => `${r.gateway} ${r.dev}`)
        .sort();
    cniOk({ ...call, command: 'ADD', conf: s.conf() });
    const r2 = cniOk({ ...call, command: 'ADD', conf: second, ifname: 'eth1' });
    assert.deepEqual(defaults(), ['10.69.0.1 eth0', '10.70.0.1 eth1'], 'both networks keep their default route, as the reference does');
    // Configuring eth1's routes again finds them in place: the very same route is no error, nothing is doubled.
    const again = spawnSync(
      'ip',
      [
        'netns',
        'exec',
        ctr,
        process.execPath,
        '--input-type=module',
        '-e',
        `const { configureInterface } = await import(${JSON.stringify(join(REPO, 'dist', 'plugins', 'shared', 'configure-iface.js'))});
         const { Netns } = await import(${JSON.stringify(join(REPO, 'dist', 'native', 'netns.js'))});
         await configureInterface(Netns.current(), 'eth1', ${JSON.stringify({ cniVersion: '1.0.0', routes: r2.routes })});
         process.exit(0);`,
      ],
      { encoding: 'utf8' },
    );
    assert.equal(again.status, 0, again.stderr);
    assert.deepEqual(defaults(), ['10.69.0.1 eth0', '10.70.0.1 eth1']);
    cniOk({ ...call, command: 'DEL', conf: second, ifname: 'eth1' });
    assert.deepEqual(defaults(), ['10.69.0.1 eth0'], "the first network's default route outlives the second's DEL");
    cniOk({ ...call, command: 'DEL', conf: s.conf() });
  });

  it('refuses an ifname the container already has, and leaves nothing behind', async (t) => {
    const s = setup(t, '1.0.0', '10.64.0.0/24');
    const ctr = s.w.netns('taken');
    spawnSync('ip', ['-n', ctr, 'link', 'add', 'eth0', 'type', 'bridge']);
    const hostLinksBefore = ipj(s.host, 'link', 'show')
      .map((l: any) => l.ifname)
      .sort();
    const r = cni({
      hostNs: s.host,
      plugin: 'bridge',
      command: 'ADD',
      conf: s.conf(),
      netns: `/run/netns/${ctr}`,
      env: { TSNET_ROOT: s.root },
    });
    assert.notEqual(r.status, 0);
    assert.equal(r.json.code, 100);
    assert.match(r.json.msg, /already has an interface named "eth0"/);
    assert.deepEqual(
      ipj(s.host, 'link', 'show')
        .map((l: any) => l.ifname)
        .sort(),
      hostLinksBefore,
    );
    assert.equal(await held(s.root, `net${s.w.id}`), 0);
  });

  it('ipMasq puts a masquerade rule in its own nftables table and removes the table with the last user', async (t) => {
    const s = setup(t, '1.0.0', '10.65.0.0/24');
    const ctr = s.w.netns('masq');
    const env = { TSNET_ROOT: s.root };
    const conf = s.conf({ ipMasq: true });
    cniOk({ hostNs: s.host, plugin: 'bridge', command: 'ADD', conf, netns: `/run/netns/${ctr}`, env });
    const table = spawnSync('ip', ['netns', 'exec', s.host, 'nft', 'list', 'table', 'inet', 'tsnet'], { encoding: 'utf8' });
    assert.equal(table.status, 0, table.stderr);
    assert.match(table.stdout, /ip saddr 10\.65\.0\.2 ip daddr != 10\.65\.0\.0\/24 masquerade/);
    cniOk({ hostNs: s.host, plugin: 'bridge', command: 'DEL', conf, netns: `/run/netns/${ctr}`, env });
    const after = spawnSync('ip', ['netns', 'exec', s.host, 'nft', 'list', 'tables'], { encoding: 'utf8' });
    assert.doesNotMatch(after.stdout, /tsnet/);
  });

  it('refuses vlan on a kernel without bridge VLAN filtering, with a clear message', async (t) => {
    const s = setup(t, '1.0.0', '10.66.0.0/24');
    const ctr = s.w.netns('vlan');
    const r = cni({
      hostNs: s.host,
      plugin: 'bridge',
      command: 'ADD',
      conf: s.conf({ vlan: 100 }),
      netns: `/run/netns/${ctr}`,
      env: { TSNET_ROOT: s.root },
    });
    assert.notEqual(r.status, 0);
    assert.match(r.json.msg, /vlan/i);
    assert.equal(ipj(ctr, 'link', 'show').length, 1, 'only lo in the container');
    assert.equal(
      ipj(s.host, 'link', 'show').some((l: any) => l.ifname === s.bridge),
      false,
      'no bridge made',
    );
    assert.equal(await held(s.root, `net${s.w.id}`), 0);
  });

  it('reference meta plugins (tuning, bandwidth, portmap, firewall) accept our result as prevResult', async (t) => {
    const s = setup(t, '1.0.0', '10.67.0.0/24');
    const ctr = s.w.netns('meta');
    const env = { TSNET_ROOT: s.root };
    const call = { hostNs: s.host, netns: `/run/netns/${ctr}`, env };
    const result = cniOk({ ...call, plugin: 'bridge', command: 'ADD', conf: s.conf() });
    const tuned = cniOk({
      ...call,
      plugin: 'ref:tuning',
      command: 'ADD',
      conf: {
        cniVersion: '1.0.0',
        name: `net${s.w.id}`,
        type: 'tuning',
        sysctl: { 'net.ipv4.conf.eth0.arp_ignore': '1' },
        prevResult: result,
      },
    });
    assert.deepEqual(tuned.ips, result.ips);
    const arpIgnore = spawnSync('ip', ['netns', 'exec', ctr, 'cat', '/proc/sys/net/ipv4/conf/eth0/arp_ignore'], {
      encoding: 'utf8',
    }).stdout.trim();
    assert.equal(arpIgnore, '1');
    const bw = cni({
      ...call,
      plugin: 'ref:bandwidth',
      command: 'ADD',
      conf: { cniVersion: '1.0.0', name: `net${s.w.id}`, type: 'bandwidth', egressRate: 1000000, egressBurst: 100000, prevResult: tuned },
    });
    assert.equal(bw.status, 0, bw.stdout + bw.stderr);
    // portmap and firewall write iptables rules — inside the namespace that plays the host only.
    const pmConf = {
      cniVersion: '1.0.0',
      name: `net${s.w.id}`,
      type: 'portmap',
      capabilities: { portMappings: true },
      runtimeConfig: { portMappings: [{ hostPort: 18081, containerPort: 80, protocol: 'tcp' }] },
    };
    const pm = cni({ ...call, plugin: 'ref:portmap', command: 'ADD', conf: { ...pmConf, prevResult: bw.json } });
    assert.equal(pm.status, 0, pm.stdout + pm.stderr);
    const nat = spawnSync('ip', ['netns', 'exec', s.host, 'iptables-save', '-t', 'nat'], { encoding: 'utf8' }).stdout;
    assert.match(nat, /--dport 18081 .*DNAT --to-destination 10\.67\.0\.2:80/);
    const fwConf = { cniVersion: '1.0.0', name: `net${s.w.id}`, type: 'firewall', backend: 'iptables' };
    const fw = cni({ ...call, plugin: 'ref:firewall', command: 'ADD', conf: { ...fwConf, prevResult: pm.json } });
    assert.equal(fw.status, 0, fw.stdout + fw.stderr);
    assert.match(spawnSync('ip', ['netns', 'exec', s.host, 'iptables-save', '-t', 'filter'], { encoding: 'utf8' }).stdout, /10\.67\.0\.2/);
    cniOk({ ...call, plugin: 'ref:firewall', command: 'DEL', conf: { ...fwConf, prevResult: pm.json } });
    cniOk({ ...call, plugin: 'ref:portmap', command: 'DEL', conf: { ...pmConf, prevResult: pm.json } });
    cniOk({
      ...call,
      plugin: 'ref:bandwidth',
      command: 'DEL',
      conf: { cniVersion: '1.0.0', name: `net${s.w.id}`, type: 'bandwidth', egressRate: 1000000, egressBurst: 100000 },
    });
    cniOk({ ...call, plugin: 'bridge', command: 'DEL', conf: s.conf() });
  });
});

describe('loopback and none plugins', { skip: needsRoot }, () => {
  for (const plugin of ['loopback', 'none']) {
    it(`${plugin}: lo up, reported with its addresses; DEL idempotent`, (t) => {
      const w = world(t);
      const host = w.netns('host');
      const ctr = w.netns(plugin);
      const call = { hostNs: host, plugin, netns: `/run/netns/${ctr}`, conf: { cniVersion: '1.0.0', name: 'lo', type: plugin } };
      const r = cniOk({ ...call, command: 'ADD' });
      assert.equal(r.interfaces[0].name, 'lo');
      assert.ok(r.ips.some((i: any) => i.address === '127.0.0.1/8'));
      const lo = ipj(ctr, 'link', 'show', 'lo')[0];
      assert.ok(lo.flags.includes('UP'));
      assert.equal(ipj(ctr, 'link', 'show').length, 1);
      cniOk({ ...call, command: 'CHECK', conf: { ...call.conf, prevResult: r } });
      cniOk({ ...call, command: 'DEL' });
      cniOk({ ...call, command: 'DEL' });
    });
  }

  it('none refuses a namespace that already has other interfaces', (t) => {
    const w = world(t);
    const host = w.netns('host');
    const ctr = w.netns('busy');
    spawnSync('ip', ['-n', ctr, 'link', 'add', 'extra0', 'type', 'bridge']);
    const r = cni({
      hostNs: host,
      plugin: 'none',
      command: 'ADD',
      netns: `/run/netns/${ctr}`,
      conf: { cniVersion: '1.0.0', name: 'n', type: 'none' },
    });
    assert.notEqual(r.status, 0);
    assert.match(r.json.msg, /extra0/);
  });
});
