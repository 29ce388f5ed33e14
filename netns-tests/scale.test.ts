// The bridge port limit on the real kernel: a Linux bridge takes 1023 ports (BR_MAX_PORTS 1024, port 0
// reserved); the 1024th attach fails with EXFULL, which the bridge plugin turns into an error naming the limit
// (code 104), and the ADD fails cleanly: no leaked address or veth.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { IpamStore, ipamDir } from '../ipam/store.js';
import { cni } from './cni-exec.js';
import { ipj, needsRoot, world, type World } from './harness.js';

/** Ports a Linux bridge holds: BR_MAX_PORTS (1024) less the reserved port 0. */
const BRIDGE_PORT_LIMIT = 1023;

/** Fills `bridge` in `ns` with BRIDGE_PORT_LIMIT veth ports (one ip -batch). */
function fill(w: World, ns: string, bridge: string): void {
  const f = join(w.tmpdir(), 'batch');
  const lines = [`link add ${bridge} type bridge`];
  for (let i = 0; i < BRIDGE_PORT_LIMIT; i++) lines.push(`link add p${i} master ${bridge} type veth peer name q${i}`);
  writeFileSync(f, `${lines.join('\n')}\n`);
  const r = spawnSync('ip', ['-n', ns, '-batch', f], { encoding: 'utf8' });
  rmSync(f);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(ipj(ns, 'link', 'show', 'master', bridge).length, BRIDGE_PORT_LIMIT);
}

describe('bridge port limit', { skip: needsRoot }, () => {
  it('the bridge plugin ADD on a full bridge fails and leaves no address or veth behind', async (t) => {
    const w = world(t);
    const h = w.netns('full');
    const ctr = w.netns('c');
    const root = w.tmpdir();
    fill(w, h, 'br0');
    const conf = {
      cniVersion: '1.0.0',
      name: `net${w.id}`,
      type: 'bridge',
      bridge: 'br0',
      isGateway: true,
      ipam: { type: 'tsnet-ipam', subnet: '10.67.0.0/16' },
    };
    const r = cni({ hostNs: h, plugin: 'bridge', command: 'ADD', conf, netns: `/run/netns/${ctr}`, env: { TSNET_ROOT: root } });
    assert.equal(r.status, 1, r.stdout);
    assert.equal(r.json?.code, 104, r.stdout);
    assert.match(r.json.msg, /bridge "br0" is full: .*1023 ports/);
    assert.match(r.json.details, /several networks/, 'the error says what to do');
    const store = new IpamStore(ipamDir(root, `net${w.id}`));
    assert.equal(store.exists() ? (await store.read()).size : 0, 0, 'no address held');
    assert.equal(ipj(ctr, 'link', 'show').filter((l: any) => l.ifname === 'eth0').length, 0);
    assert.equal(ipj(h, 'link', 'show', 'master', 'br0').length, BRIDGE_PORT_LIMIT);
  });
});
