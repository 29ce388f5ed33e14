// The kernel layer against the real kernel, in namespaces each test creates and removes. Every assertion
// reads the kernel through iproute2 (`ip -j`), not through tsnet's own netlink code.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { closeSync, fstatSync, readdirSync, readFileSync, readlinkSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { Netns, NetnsError, isNetlinkError, NetlinkError } from '../native/index.js';
import { inNs, ip, ipj, needsRoot, pings, sh, world } from './harness.js';

describe('native kernel layer', { skip: needsRoot }, () => {
  it('creates a veth with its peer directly inside another netns', async (t) => {
    const w = world(t);
    const ns = w.netns('veth');
    const host = w.netns('host');
    const h = Netns.open(host);
    const c = Netns.open(ns);
    t.after(() => (h.close(), c.close()));
    const created = await h.rtnl.createLink({ kind: 'veth', name: 'vh0', mtu: 1400, peer: { name: 'eth0', netnsFd: c.fd(), mtu: 1400 } });
    assert.equal(created.kind, 'veth');
    const hostSide = ipj(host, '-d', 'link', 'show', 'vh0')[0];
    assert.equal(hostSide.linkinfo.info_kind, 'veth');
    assert.equal(hostSide.mtu, 1400);
    const inside = ipj(ns, '-d', 'link', 'show', 'eth0')[0];
    assert.equal(inside.linkinfo.info_kind, 'veth');
    assert.equal(inside.mtu, 1400);
    assert.equal(
      ipj(host, 'link', 'show').some((l: any) => l.ifname === 'eth0'),
      false,
      'peer must not appear in the creating netns',
    );
  });

  it('creates a bridge, enslaves a port, and brings both up', async (t) => {
    const w = world(t);
    const host = w.netns('br');
    const h = Netns.open(host);
    t.after(() => h.close());
    const br = await h.rtnl.createLink({ kind: 'bridge', name: 'br0', up: true });
    await h.rtnl.createLink({ kind: 'veth', name: 'port0', peer: { name: 'port0p' } });
    await h.rtnl.setLink('port0', { masterIndex: br.index, up: true });
    const brj = ipj(host, '-d', 'link', 'show', 'br0')[0];
    assert.equal(brj.linkinfo.info_kind, 'bridge');
    assert.ok(brj.flags.includes('UP'));
    const port = ipj(host, '-d', 'link', 'show', 'port0')[0];
    assert.equal(port.master, 'br0');
    assert.ok(port.flags.includes('UP'));
    assert.equal(port.linkinfo.info_slave_kind, 'bridge');
    // nomaster
    await h.rtnl.setLink('port0', { masterIndex: 0 });
    assert.equal(ipj(host, 'link', 'show', 'port0')[0].master, undefined);
  });

  it('adds IPv4 and IPv6 addresses and routes, and lists them as ip sees them', async (t) => {
    const w = world(t);
    const ns = w.netns('addr');
    const n = Netns.open(ns);
    t.after(() => n.close());
    await n.rtnl.createLink({ kind: 'veth', name: 'd0', up: true, peer: { name: 'd0p' } });
    await n.rtnl.setLink('d0p', { up: true });
    await n.rtnl.addAddress('d0', '10.77.0.5/24');
    await n.rtnl.addAddress('d0', 'fd77::5/64', { noDad: true });
    await n.rtnl.addRoute({ dst: '192.168.0.0/16', gateway: '10.77.0.1', priority: 50 });
    await n.rtnl.addRoute({ dst: 'fd99::/48', gateway: 'fd77::1' });
    await n.rtnl.addRoute({ dst: '172.31.9.0/24', oif: (await n.rtnl.link('d0')).index, table: 1000 });

    const ipAddrs = ipj(ns, 'addr', 'show', 'dev', 'd0')[0]
      .addr_info.filter((a: any) => a.scope === 'global')
      .map((a: any) => `${a.local}/${a.prefixlen}`)
      .sort();
    const ours = (await n.rtnl.addresses({ link: 'd0' }))
      .filter((a) => a.scope === 0)
      .map((a) => a.cidr)
      .sort();
    assert.deepEqual(ours, ipAddrs);
    assert.deepEqual(ipAddrs, ['10.77.0.5/24', 'fd77::5/64']);
    assert.equal(ipj(ns, 'addr', 'show', 'dev', 'd0')[0].addr_info.find((a: any) => a.local === '10.77.0.5').broadcast, '10.77.0.255');

    const r4 = ipj(ns, 'route', 'show', '192.168.0.0/16')[0];
    assert.deepEqual({ gw: r4.gateway, dev: r4.dev, metric: r4.metric }, { gw: '10.77.0.1', dev: 'd0', metric: 50 });
    const r6 = ipj(ns, '-6', 'route', 'show', 'fd99::/48')[0];
    assert.equal(r6.gateway, 'fd77::1');
    assert.equal(ipj(ns, 'route', 'show', 'table', '1000')[0].dst, '172.31.9.0/24');

    const ourRoutes = await n.rtnl.routes({ family: 2 });
    const ipRoutes = ipj(ns, '-4', 'route', 'show');
    assert.deepEqual(ourRoutes.map((r) => r.dst).sort(), ipRoutes.map((r: any) => r.dst).sort());
    assert.equal((await n.rtnl.routes({ table: 1000 }))[0]?.dst, '172.31.9.0/24');

    await n.rtnl.deleteRoute({ dst: '192.168.0.0/16', gateway: '10.77.0.1', priority: 50 });
    assert.equal(ipj(ns, 'route', 'show', '192.168.0.0/16').length, 0);
    await n.rtnl.deleteAddress('d0', '10.77.0.5/24');
    assert.equal(ipj(ns, '-4', 'addr', 'show', 'dev', 'd0')[0]?.addr_info?.length ?? 0, 0);
  });

  it('carries traffic: two namespaces ping each other over a bridge', async (t) => {
    const w = world(t);
    const host = w.netns('host');
    const a = w.netns('a');
    const b = w.netns('b');
    const H = Netns.open(host);
    const A = Netns.open(a);
    const B = Netns.open(b);
    t.after(() => [H, A, B].forEach((x) => x.close()));
    const br = await H.rtnl.createLink({ kind: 'bridge', name: 'tbr0', up: true });
    for (const [name, C, addr] of [
      ['va', A, '10.55.0.2/24'],
      ['vb', B, '10.55.0.3/24'],
    ] as const) {
      await H.rtnl.createLink({ kind: 'veth', name, masterIndex: br.index, up: true, peer: { name: 'eth0', netnsFd: C.fd() } });
      await C.rtnl.addAddress('eth0', addr);
      await C.rtnl.setLink('eth0', { up: true });
      await C.rtnl.setLink('lo', { up: true });
    }
    assert.ok(pings(a, '10.55.0.3', 2), 'a must reach b over the bridge');
    assert.ok(pings(b, '10.55.0.2', 1), 'b must reach a over the bridge');
  });

  it('surfaces EEXIST and ENODEV as typed errors with the kernel text', async (t) => {
    const w = world(t);
    const ns = w.netns('err');
    const n = Netns.open(ns);
    t.after(() => n.close());
    await n.rtnl.createLink({ kind: 'bridge', name: 'dup0', up: true });
    await assert.rejects(n.rtnl.createLink({ kind: 'bridge', name: 'dup0' }), (e: unknown) => {
      assert.ok(e instanceof NetlinkError);
      assert.equal(e.code, 'EEXIST');
      assert.equal(e.errno, 17);
      assert.match(e.message, /dup0/);
      return true;
    });
    await assert.rejects(n.rtnl.link('missing0'), (e: unknown) => isNetlinkError(e, 'ENODEV') && /missing0/.test((e as Error).message));
    await n.rtnl.addAddress('dup0', '10.9.0.2/24');
    await assert.rejects(n.rtnl.addRoute({ dst: '192.168.0.0/16', gateway: '10.8.0.1' }), (e: unknown) => {
      assert.ok(e instanceof NetlinkError);
      assert.equal(e.code, 'ENETUNREACH');
      assert.match(e.extack ?? '', /gateway/i, 'the kernel explains itself through extended ACK');
      assert.match(e.message, /invalid gateway/i);
      return true;
    });
    assert.equal(await n.rtnl.deleteLinkIfExists('missing0'), false);
    // A link kind this kernel lacks is named as such (macvlan and ipvlan are absent on the CI kernel).
    const probe = await n.rtnl.createLink({ kind: 'macvlan', name: 'mv0', parentIndex: (await n.rtnl.link('dup0')).index }).then(
      () => null,
      (e: unknown) => e,
    );
    if (probe) assert.match((probe as Error).message, /no "macvlan" link support|Invalid argument|not supported/i);
  });

  it('sends several requests in one trip: applied in order, each answered on its own', async (t) => {
    const w = world(t);
    const ns = w.netns('trip');
    const n = Netns.open(ns);
    t.after(() => n.close());
    const d0 = await n.rtnl.createLink({ kind: 'veth', name: 'd0', peer: { name: 'd0p' } });
    await n.rtnl.setLink('d0p', { up: true });
    const answers = await n.rtnl.inOneTrip([
      n.rtnl.setLinkRequest(d0.index, { up: true }, 'd0'),
      n.rtnl.addAddressRequest(d0.index, '10.78.0.5/24', {}, false, 'd0'),
      n.rtnl.addAddressRequest(d0.index, '10.78.0.5/24', {}, false, 'd0'), // already there: EEXIST
      // via a gateway only the address above makes reachable: proves the order
      n.rtnl.replaceRouteRequest({ dst: '192.168.50.0/24', gateway: '10.78.0.1', oif: d0.index }),
      n.rtnl.replaceRouteRequest({ dst: '192.168.60.0/24', gateway: '10.99.0.1', oif: d0.index }), // unreachable
    ]);
    assert.deepEqual(
      answers.map((e) => e?.code),
      [undefined, undefined, 'EEXIST', undefined, 'ENETUNREACH'],
    );
    assert.match(answers[2]!.message, /add address 10\.78\.0\.5\/24 to link "d0"/);
    const link = ipj(ns, 'link', 'show', 'd0')[0];
    assert.ok(link.flags.includes('UP'));
    assert.deepEqual(
      ipj(ns, '-4', 'addr', 'show', 'dev', 'd0')[0].addr_info.map((a: any) => `${a.local}/${a.prefixlen}`),
      ['10.78.0.5/24'],
    );
    assert.equal(ipj(ns, 'route', 'show', '192.168.50.0/24')[0]?.gateway, '10.78.0.1');
    assert.equal(ipj(ns, 'route', 'show', '192.168.60.0/24').length, 0);
  });

  it("opens a namespace's /proc/sys/net directory through a procfs instance of its own", async (t) => {
    const w = world(t);
    const ns = w.netns('psys');
    const { native } = await import('../native/addon.js');
    const fd = await native().openDirAtAsync(`/run/netns/${ns}`, '/proc/sys/net/ipv6');
    t.after(() => closeSync(fd));
    // Not the host's /proc (whose dentry chain for net/ipv6 grows with every namespace): another superblock.
    assert.notEqual(fstatSync(fd).dev, statSync('/proc/sys/net/ipv6').dev);
    const ours = readFileSync('/proc/sys/net/ipv6/conf/lo/disable_ipv6', 'utf8');
    native().writeFilesAt(`/run/netns/${ns}`, ['/proc/sys/net/ipv6/conf/lo/disable_ipv6'], ['1'], { '/proc/sys/net/ipv6': fd });
    assert.equal(inNs(ns, 'cat', '/proc/sys/net/ipv6/conf/lo/disable_ipv6').trim(), '1', 'written in the namespace');
    assert.equal(readFileSync('/proc/sys/net/ipv6/conf/lo/disable_ipv6', 'utf8'), ours, 'not in ours');
  });

  it('deleteVeth from a process that ends without sending: an error at once, the link left as it was', (t) => {
    const w = world(t);
    const host = w.netns('lh');
    const ctr = w.netns('lc');
    sh('ip', '-n', ctr, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'vh0', 'netns', host);
    const netnsJs = join(dirname(fileURLToPath(import.meta.url)), '..', 'native', 'netns.js');
    const script = `const { Netns } = await import(${JSON.stringify(netnsJs)});
      const c = Netns.open(${JSON.stringify(ctr)}, { detachedSendsFrom: 'process' });
      try { await c.rtnl.deleteVeth('eth0', '/run/netns/${host}'); console.log('deleted'); } catch (e) { console.log(e.message); }
      c.close();`;
    // the sender is /bin/true: it reads nothing, sends nothing, says nothing
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      encoding: 'utf8',
      env: { ...process.env, TSNET_LINGER: '/bin/true' },
      timeout: 20_000,
    });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /delete link "eth0".*ended before sending it/);
    assert.deepEqual(
      ipj(ctr, 'link', 'show').map((l: any) => l.ifname),
      ['lo', 'eth0'],
      'nothing deleted',
    );
  });

  it('dumps 2,000 links in one netns completely and correctly', async (t) => {
    const w = world(t);
    const ns = w.netns('many');
    const batch = join(w.tmpdir(), 'batch');
    // ifb devices: cheap to tear down (2,000 bridges cost the kernel ~30 s of rtnl time on removal).
    const names = Array.from({ length: 2000 }, (_, i) => `dm${i}`);
    writeFileSync(batch, names.map((n) => `link add ${n} type ifb`).join('\n') + '\n');
    sh('ip', '-n', ns, '-batch', batch);
    const n = Netns.open(ns);
    t.after(() => n.close());
    const ours = await n.rtnl.links();
    const theirs = ipj(ns, 'link', 'show');
    assert.equal(ours.length, 2001);
    assert.deepEqual(ours.map((l) => `${l.index}:${l.name}`).sort(), theirs.map((l: any) => `${l.ifindex}:${l.ifname}`).sort());
    assert.equal(ours.filter((l) => l.kind === 'ifb').length, 2000);
  });

  for (const from of ['thread', 'process'] as const)
    it(`deleteVeth answers once both ends are gone from the kernel, and leaks no descriptor (sent from a ${from})`, async (t) => {
      const w = world(t);
      const host = w.netns('dh');
      const ctrName = w.netns('dc');
      const h = Netns.open(host);
      const c = Netns.open(ctrName, { detachedSendsFrom: from });
      t.after(() => (h.close(), c.close()));
      const br = await h.rtnl.createLink({ kind: 'bridge', name: 'br0', up: true });
      const fds = () => readdirSync('/proc/self/fd').length;
      await c.rtnl.links(); // the handles' own socket and namespace fd, opened before counting
      c.fd();
      const before = fds();
      for (let i = 0; i < 5; i++) {
        await h.rtnl.createLink({ kind: 'veth', name: `vh${i}`, masterIndex: br.index, up: true, peer: { name: 'eth0', netnsFd: c.fd() } });
        await c.rtnl.setLink('eth0', { up: true });
        assert.equal(await c.rtnl.deleteVeth('eth0', `/run/netns/${host}`), true);
        // At once, as ip sees it: neither end listed, no port left on the bridge.
        assert.deepEqual(
          ipj(ctrName, 'link', 'show').map((l: any) => l.ifname),
          ['lo'],
        );
        assert.equal(
          ipj(host, 'link', 'show').some((l: any) => l.ifname === `vh${i}`),
          false,
        );
        assert.deepEqual(ipj(host, 'link', 'show', 'master', 'br0'), []);
      }
      assert.equal(await c.rtnl.deleteVeth('eth0', `/run/netns/${host}`), false, 'a missing link: false');
      // Not a veth: a plain delete.
      await c.rtnl.createLink({ kind: 'bridge', name: 'notveth' });
      assert.equal(await c.rtnl.deleteVeth('notveth', null), true);
      assert.equal(
        ipj(ctrName, 'link', 'show').some((l: any) => l.ifname === 'notveth'),
        false,
      );
      // The kernel finishes each delete on a thread of its own, which then closes its copies of the descriptors.
      for (let i = 0; i < 100 && fds() > before; i++) await new Promise((r) => setTimeout(r, 20));
      assert.ok(fds() <= before, `descriptors: ${before} before, ${fds()} after`);
    });

  it('works in another netns without /proc (no way back for the calling thread: a thread of its own instead)', (t) => {
    const w = world(t);
    const name = w.netns('noproc');
    // The child process sees no /proc: its own mount namespace, /proc lazily unmounted.
    const addon = join(dirname(fileURLToPath(import.meta.url)), '..', 'native', 'index.js');
    const script = `import('${addon}').then(async ({ Netns }) => { const n = Netns.open('/run/netns/${name}'); await n.rtnl.createLink({ kind: 'bridge', name: 'np0' }); n.close(); console.log(require('fs').existsSync('/proc/self') ? 'proc' : 'noproc'); })`;
    const out = sh(
      'unshare',
      '--mount',
      '--propagation',
      'private',
      'sh',
      '-c',
      `umount -l /proc && exec ${process.execPath} -e "${script.replace(/"/g, '\\"')}"`,
    );
    assert.equal(out.trim(), 'noproc');
    assert.equal(ipj(name, '-d', 'link', 'show', 'np0')[0].linkinfo.info_kind, 'bridge');
  });

  it('leaves the main thread in its own netns after working in 50 others', async (t) => {
    const w = world(t);
    const before = readlinkSync('/proc/self/ns/net');
    const beforeThread = readlinkSync(`/proc/self/task/${process.pid}/ns/net`);
    for (let i = 0; i < 50; i++) {
      const name = w.netns(`m${i}`);
      const n = Netns.open(name);
      try {
        await n.rtnl.createLink({ kind: 'bridge', name: `x${i}`, up: true });
        await n.rtnl.addAddress(`x${i}`, `10.200.${i}.1/24`);
        n.setSysctl('net/ipv4/ip_forward', 1);
        assert.equal(n.sysctl('net/ipv4/ip_forward'), '1');
        assert.notEqual(n.id(), before);
      } finally {
        n.close();
      }
      assert.equal(ipj(name, '-4', 'addr', 'show', `x${i}`)[0].addr_info[0].local, `10.200.${i}.1`);
    }
    assert.equal(readlinkSync('/proc/self/ns/net'), before);
    assert.equal(readlinkSync(`/proc/self/task/${process.pid}/ns/net`), beforeThread);
    assert.equal(ip(null, 'link', 'show').includes('x0:'), false, 'nothing leaked into the host netns');
  });

  it('creates and removes persistent namespaces as ip netns does, and refuses bad references', async (t) => {
    const w = world(t);
    const name = `tsn-pers-${w.id}`;
    const before = readlinkSync(`/proc/self/task/${process.pid}/ns/net`);
    const n = Netns.create(name);
    assert.equal(readlinkSync(`/proc/self/task/${process.pid}/ns/net`), before, 'creating a netns leaves the main thread where it was');
    assert.notEqual(n.id(), before);
    w.defer(() => {
      try {
        Netns.remove(name);
      } catch {
        /* already gone */
      }
    });
    assert.ok(sh('ip', 'netns', 'list').includes(name));
    n.close();
    assert.throws(
      () => Netns.create(name),
      (e: unknown) => e instanceof NetnsError && /already exists/.test((e as Error).message),
    );
    Netns.remove(name);
    assert.equal(sh('ip', 'netns', 'list').includes(name), false);
    assert.throws(() => Netns.open('/etc/hostname'), /not a namespace file/);
    assert.throws(() => Netns.open('/proc/self/ns/uts'), /uts namespace, not a network namespace/);
    assert.throws(() => Netns.open('no-such-ns-here'), /does not exist/);
    assert.throws(() => Netns.open(999999999), /no process/);
    assert.throws(() => Netns.open('../x'), NetnsError);
  });
});
