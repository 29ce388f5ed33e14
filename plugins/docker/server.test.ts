// The driver's HTTP face without dockerd: what libnetwork sends, and what it must get back when a request is
// bad — an {"Err"} answer naming the fix, a 404 for a method the driver lacks — with the driver still up. None
// of these requests reaches the kernel (they are refused before, or only touch the IPAM store in a temp root).
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Server } from 'node:http';
import { NetworkRegistry } from '../../ipam/networks.js';
import { createDockerPluginServer, listenDockerPlugin } from './server.js';
import { parseOptions } from './network.js';
import { claimAddress } from './ipam.js';
import { DriverState } from './state.js';
import { formatAddr, parseAddr } from '../../ipam/cidr.js';

const GENERIC = 'com.docker.network.generic';

let dir: string;
let socket: string;
let server: Server;

function call(method: string, body: string | object, verb = 'POST', at = socket): Promise<{ status: number; body: any }> {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: at, path: `/${method}`, method: verb, headers: { 'Content-Type': 'application/json' } }, (res) => {
      let data = '';
      res.on('data', (c) => (data += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(data) }));
    });
    req.on('error', reject);
    req.end(text);
  });
}

describe('docker driver: the libnetwork remote API', () => {
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tsnet-docker-'));
    socket = join(dir, 'plugins', 'tsnet.sock');
    server = createDockerPluginServer({ root: join(dir, 'root') });
    await listenDockerPlugin(server, socket);
  });
  after(() => {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a second driver does not take over the socket of a running one', async () => {
    const second = createDockerPluginServer({ root: join(dir, 'root') });
    await assert.rejects(listenDockerPlugin(second, socket), /another process .* answers on it/);
    assert.deepEqual((await call('Plugin.Activate', {})).body.Implements, ['NetworkDriver', 'IpamDriver']);
  });

  it('Plugin.Activate names both driver kinds; capabilities are local', async () => {
    assert.deepEqual((await call('Plugin.Activate', {})).body, { Implements: ['NetworkDriver', 'IpamDriver'] });
    assert.equal((await call('NetworkDriver.GetCapabilities', {})).body.Scope, 'local');
    assert.equal((await call('IpamDriver.GetCapabilities', {})).body.RequiresMACAddress, false);
  });

  it('an unknown method is a 404; malformed JSON and unknown ids get {"Err"} and the driver stays up', async () => {
    const nope = await call('NetworkDriver.Frobnicate', {});
    assert.equal(nope.status, 404);
    assert.match(nope.body.Err, /not a method/);
    const bad = await call('NetworkDriver.CreateNetwork', '{"NetworkID": ');
    assert.equal(bad.status, 200);
    assert.match(bad.body.Err, /not JSON/);
    const arr = await call('IpamDriver.RequestPool', '[1]');
    assert.match(arr.body.Err, /not a JSON object/);
    const join_ = await call('NetworkDriver.Join', { NetworkID: 'ab12', EndpointID: 'cd34', SandboxKey: '/x' });
    assert.match(join_.body.Err, /network ab12: is not a tsnet network known to this driver/);
    const del = await call('NetworkDriver.DeleteEndpoint', { NetworkID: 'ab12', EndpointID: 'cd34' });
    assert.match(del.body.Err, /endpoint cd34: is not known/);
    const delNet = await call('NetworkDriver.DeleteNetwork', { NetworkID: '../../etc' });
    assert.match(delNet.body.Err, /is not a Docker id/);
    const pool = await call('IpamDriver.RequestAddress', { PoolID: 'docker-nothere' });
    assert.match(pool.body.Err, /does not exist/);
    assert.deepEqual((await call('Plugin.Activate', {})).body.Implements, ['NetworkDriver', 'IpamDriver']);
  });

  it('--internal and icc=false are taken (no masquerade on an internal network); a bad value or an unknown option is refused', async () => {
    assert.deepEqual(parseOptions({ 'com.docker.network.internal': true }), { mtu: 1500, masquerade: false, internal: true, icc: true });
    assert.equal(parseOptions({ [GENERIC]: { 'com.docker.network.internal': 'true' } }).internal, true);
    assert.equal(parseOptions({ [GENERIC]: { 'com.docker.network.bridge.enable_icc': 'false' } }).icc, false);
    assert.equal(parseOptions({ [GENERIC]: { icc: 'false', masquerade: 'false' } }).icc, false);
    assert.equal(parseOptions({}).icc, true);
    const icc = await call('NetworkDriver.CreateNetwork', { NetworkID: 'aa11', Options: { [GENERIC]: { icc: 'no' } } });
    assert.match(icc.body.Err, /-o icc=no: is not true or false/);
    const typo = await call('NetworkDriver.CreateNetwork', {
      NetworkID: 'aa11',
      Options: { [GENERIC]: { brdige: 'br0' } },
    });
    assert.match(typo.body.Err, /-o brdige: is not an option of the tsnet driver \(use bridge=NAME/);
  });

  it("Docker's bridge driver keys: host_binding_ipv4, container_iface_prefix, mtu, name, masquerade; an unknown one is refused, not ignored", async () => {
    const s = parseOptions({
      [GENERIC]: {
        'com.docker.network.bridge.host_binding_ipv4': '192.0.2.10',
        'com.docker.network.container_iface_prefix': 'lan',
        'com.docker.network.driver.mtu': '1400',
        'com.docker.network.bridge.name': 'br7',
        'com.docker.network.bridge.enable_ip_masquerade': 'false',
      },
    });
    assert.deepEqual(s, {
      mtu: 1400,
      masquerade: false,
      internal: false,
      icc: true,
      hostIp: '192.0.2.10',
      ifacePrefix: 'lan',
      bridge: 'br7',
    });
    assert.equal(parseOptions({ [GENERIC]: { 'com.docker.network.bridge.host_binding_ipv4': '0.0.0.0' } }).hostIp, undefined);
    assert.throws(
      () => parseOptions({ [GENERIC]: { host_binding_ipv4: '2001:db8::1' } }),
      /-o host_binding_ipv4=2001:db8::1: is not an IPv4 address/,
    );
    assert.throws(
      () => parseOptions({ [GENERIC]: { 'com.docker.network.container_iface_prefix': 'eth-' } }),
      /is not an interface name prefix/,
    );
    const unknown = await call('NetworkDriver.CreateNetwork', {
      NetworkID: 'aa11',
      Options: { [GENERIC]: { 'com.docker.network.bridge.inhibit_ipv4': 'true' } },
    });
    assert.match(unknown.body.Err, /-o com\.docker\.network\.bridge\.inhibit_ipv4: is not an option of the tsnet driver/);
  });

  it('a restarted driver releases the addresses of its pools that no endpoint record holds; CreateEndpoint claims its address again', async () => {
    // What a driver killed mid-CreateEndpoint leaves when Docker cannot give the address back while it is down.
    const root = join(dir, 'gc-root');
    const reg = new NetworkRegistry(root);
    const pool = await reg.create({ name: 'docker-gc0001', subnet: '10.232.0.0/24', driver: 'docker' });
    const owner = (c: string) => ({ containerID: c, ifname: 'docker' });
    await reg.store(pool.name).transact((st) => {
      st.reserve(parseAddr('10.232.0.2'), owner('docker-a'), '0');
      st.reserve(parseAddr('10.232.0.3'), owner('docker-b'), '0');
    });
    const state = new DriverState(root);
    // A network record on a bridge that does not exist here: no link is looked at beyond finding it missing.
    await state.saveNetwork({ id: 'gc01', bridge: 'tsdgc-none0', madeBridge: true, mtu: 1500, masquerade: true, subnet: '10.232.0.0/24' });
    await state.saveEndpoint({
      id: 'ep01',
      network: 'gc01',
      hostVeth: 'tsdgone',
      ctrVeth: 'tscgone',
      mac: '02:00:00:00:00:01',
      address: '10.232.0.2/24',
    });
    const sock2 = join(dir, 'gc.sock');
    const logs: string[] = [];
    const restarted = createDockerPluginServer({ root, reclaim: true, log: (l) => logs.push(l) });
    await listenDockerPlugin(restarted, sock2);
    try {
      await call('Plugin.Activate', {}, 'POST', sock2); // answered after the reclaim, which runs first
      const left = [...(await reg.store(pool.name).read()).all()].map((r) => formatAddr(r));
      assert.deepEqual(left, ['10.232.0.2'], 'the address of ep01 stays, the one no endpoint holds is released');
      assert.match(logs.join('\n'), /released address\(es\) no endpoint holds: docker-gc0001 10\.232\.0\.3/);
      // Docker hands the released address to CreateEndpoint: it is held again (and not twice).
      assert.equal(await claimAddress(reg, pool, '10.232.0.3/24', 'ep02'), true);
      assert.equal(await claimAddress(reg, pool, '10.232.0.3/24', 'ep02'), false);
      assert.equal(await reg.held(pool.name), 2);
    } finally {
      restarted.close();
    }
  });

  it('pools: a given pool is recorded, an overlapping one refused; addresses come from the store and go back', async () => {
    const p = await call('IpamDriver.RequestPool', { AddressSpace: 'tsnet-local', Pool: '10.231.0.0/24' });
    assert.equal(p.body.Pool, '10.231.0.0/24');
    const clash = await call('IpamDriver.RequestPool', { AddressSpace: 'tsnet-local', Pool: '10.231.0.0/16' });
    assert.match(clash.body.Err, /overlaps network "docker-/);
    const gw = await call('IpamDriver.RequestAddress', {
      PoolID: p.body.PoolID,
      Options: { RequestAddressType: 'com.docker.network.gateway' },
    });
    assert.equal(gw.body.Address, '10.231.0.1/24');
    const a = await call('IpamDriver.RequestAddress', { PoolID: p.body.PoolID, Address: '' });
    const b = await call('IpamDriver.RequestAddress', { PoolID: p.body.PoolID, Address: '10.231.0.9' });
    assert.equal(a.body.Address, '10.231.0.2/24');
    assert.equal(b.body.Address, '10.231.0.9/24');
    const taken = await call('IpamDriver.RequestAddress', { PoolID: p.body.PoolID, Address: '10.231.0.9' });
    assert.match(taken.body.Err, /10\.231\.0\.9 is not available/);
    const reg = new NetworkRegistry(join(dir, 'root'));
    assert.equal(await reg.held(p.body.PoolID), 2);
    await call('IpamDriver.ReleaseAddress', { PoolID: p.body.PoolID, Address: '10.231.0.9/24' });
    assert.equal(await reg.held(p.body.PoolID), 1);
    assert.deepEqual((await call('IpamDriver.ReleasePool', { PoolID: p.body.PoolID })).body, {});
    assert.equal(reg.get(p.body.PoolID), undefined);
    // Without a pool, the picker chooses one (the registry is empty again: the first candidate).
    const auto = await call('IpamDriver.RequestPool', { AddressSpace: 'tsnet-local' });
    assert.match(auto.body.Pool, /^\d+\.\d+\.\d+\.\d+\/\d+$/);
    await call('IpamDriver.ReleasePool', { PoolID: auto.body.PoolID });
  });
});
