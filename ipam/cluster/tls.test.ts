// The cluster store over TLS: an etcd that requires client certificates, with a CA, server and client
// certificates made by openssl in a temporary directory (removed afterwards, as is etcd).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClusterStore, ClusterStoreError } from './store.js';
import { needsEtcd, startEtcd, type EtcdServer } from './testing/etcd.js';
import { hasOpenssl, makeCerts } from './testing/certs.js';

describe('cluster store over TLS', { skip: needsEtcd || (hasOpenssl ? false : 'needs openssl') }, () => {
  let dir: string;
  let etcd: EtcdServer;
  const stores: ClusterStore[] = [];
  const open = (url: string, tls?: { ca?: string; cert?: string; key?: string }) => {
    const s = new ClusterStore({ url, ...(tls ? { tls } : {}), cacheDir: join(dir, 'cache'), timeoutMs: 3000 });
    stores.push(s);
    return s;
  };
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tsnet-etcd-tls-'));
    makeCerts(dir);
    etcd = await startEtcd({ tls: { cert: join(dir, 'server.crt'), key: join(dir, 'server.key'), ca: join(dir, 'ca.crt') } });
  });
  after(async () => {
    for (const s of stores) s.close();
    await etcd?.dispose();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('works with the CA and a client certificate, and an address comes from the store over it', async () => {
    assert.match(etcd.url, /^etcds:\/\//);
    const s = open(etcd.url, { ca: join(dir, 'ca.crt'), cert: join(dir, 'client.crt'), key: join(dir, 'client.key') });
    const got = await s.acquire({
      network: { name: 'sec', subnet: '10.70.0.0/24' },
      host: 'h1',
      vtep: '192.0.2.1',
      containerId: 'c1',
      ifname: 'eth0',
    });
    assert.equal(got.endpoint.address, '10.70.0.2', "the first block's first free address (10.70.0.1 is its resolver's)");
    assert.equal((await s.getNetwork('sec'))?.subnet, '10.70.0.0/24');
  });

  it('is refused, naming the store, without a client certificate, with one etcd does not trust, or in plain text', async () => {
    const attempts = [
      open(etcd.url, { ca: join(dir, 'ca.crt') }),
      open(etcd.url, { ca: join(dir, 'ca.crt'), cert: join(dir, 'stranger.crt'), key: join(dir, 'stranger.key') }),
      open(etcd.url.replace('etcds://', 'etcd://')),
    ];
    for (const s of attempts) {
      await assert.rejects(s.getNetwork('sec'), (e: Error) => {
        assert.ok(e instanceof ClusterStoreError, String(e));
        assert.match(e.message, new RegExp(`cluster store ${s.url}`));
        return true;
      });
    }
  });

  it('names a TLS file that cannot be read', () => {
    assert.throws(() => open(etcd.url, { ca: join(dir, 'nope.crt') }), /TLS CA .*nope\.crt.*cannot be read/);
  });
});
