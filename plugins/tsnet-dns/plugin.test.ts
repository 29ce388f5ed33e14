// tsnet-dns's CNI face without a resolver: what it refuses before recording anything (no prevResult, no
// gateway, no name, a bad alias, a bad key), disableDns passing the result through, and a DEL that finds no
// records creating nothing. (The resolver itself: netns-tests/dns.test.ts and podman-dns.test.ts.)
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { dispatch } from '../cni/skel.js';
import { tsnetDnsEntry } from './plugin.js';

const stub = { nsType: () => 0x40000000 }; // CLONE_NEWNET: /proc/self/ns/mnt passes as a container netns
const prev = {
  cniVersion: '1.0.0',
  interfaces: [{ name: 'br0' }, { name: 'veth1' }, { name: 'eth0', sandbox: '/proc/self/ns/mnt' }],
  ips: [{ interface: 2, address: '10.5.0.2/24', gateway: '10.5.0.1' }],
};

async function call(command: string, conf: Record<string, unknown>, cniArgs = 'K8S_POD_NAME=web') {
  const env = {
    CNI_COMMAND: command,
    CNI_CONTAINERID: 'c1',
    CNI_NETNS: '/proc/self/ns/mnt',
    CNI_IFNAME: 'eth0',
    CNI_PATH: '/nonexistent',
    CNI_ARGS: cniArgs,
  };
  const stdin = JSON.stringify({ cniVersion: '1.0.0', name: 'net1', type: 'tsnet-dns', ...conf });
  return dispatch(tsnetDnsEntry.plugin, tsnetDnsEntry.opts, env, stdin, stub);
}

describe('tsnet-dns plugin', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsnet-dns-unit-'));
  const dataDir = join(dir, 'dns');
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }));

  it('refuses to run unchained, without a gateway, without a name, with an alias that is no DNS name', async () => {
    const none = await call('ADD', { dataDir });
    assert.equal(none.exitCode, 1);
    assert.equal(none.error!.code, 7);
    assert.match(none.error!.message, /needs a prevResult/);
    const noGw = await call('ADD', { dataDir, prevResult: { ...prev, ips: [{ interface: 2, address: '10.5.0.2/24' }] } });
    assert.equal(noGw.error!.code, 7);
    assert.match(noGw.error!.message, /no gateway/);
    assert.match(noGw.error!.details, /isGateway/);
    const noName = await call('ADD', { dataDir, prevResult: prev }, '');
    assert.equal(noName.error!.code, 4);
    assert.match(noName.error!.details, /K8S_POD_NAME/);
    const badAlias = await call('ADD', { dataDir, prevResult: prev, runtimeConfig: { aliases: { net1: ['ok', 'not..ok'] } } });
    assert.equal(badAlias.exitCode, 1);
    assert.match(badAlias.error!.message, /alias "not\.\.ok"/);
    const badKey = await call('ADD', { dataDir, prevResult: prev, domainName: 'bad domain' });
    assert.equal(badKey.error!.code, 7);
    assert.equal(existsSync(dataDir), false, 'nothing recorded');
  });

  it('disableDns passes the previous result through and records nothing; a DEL with no records makes nothing', async () => {
    const r = await call('ADD', { dataDir, prevResult: prev, disableDns: true });
    assert.equal(r.exitCode, 0, JSON.stringify(r.stdout));
    assert.deepEqual((r.stdout as { ips: unknown }).ips, prev.ips);
    assert.equal((r.stdout as { dns?: { nameservers?: string[] } }).dns?.nameservers, undefined, 'no resolver named');
    const d = await call('DEL', { dataDir });
    assert.equal(d.exitCode, 0);
    assert.equal(existsSync(dataDir), false);
  });
});
