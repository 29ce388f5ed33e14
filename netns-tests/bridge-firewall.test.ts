// The bridge plugin's firewall keys, exec'd as a runtime (podman, containerd) runs it, in a namespace that
// plays the host: `isolation` makes the bridge's rule group with its first ADD and its last DEL takes it away;
// CHECK tells when it went missing; `internal` with `ipMasq` is refused before anything is made; a plain
// bridge on a host without a dropping firewall gets no rule at all; `portIsolation` isolates the port.
// Rules are read with `nft -j`, links with `ip -j`.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { cni, cniOk } from './cni-exec.js';
import { ipj, needsRoot, world } from './harness.js';
import { ruleOwners } from './state-probe.js';

const chains = (ns: string): string[] => {
  const r = spawnSync('ip', ['netns', 'exec', ns, 'nft', '-j', 'list', 'table', 'inet', 'tsnet'], { encoding: 'utf8' });
  if (r.status !== 0) return [];
  return (JSON.parse(r.stdout).nftables as any[]).filter((o) => o.chain).map((o) => o.chain.name as string);
};

describe('bridge plugin: the firewall keys', { skip: needsRoot }, () => {
  it('isolation: made by the first ADD, kept while a port is left, gone with the last DEL; CHECK sees it missing', (t) => {
    const w = world(t);
    const host = w.netns('host');
    const root = w.tmpdir();
    const br = `tfw${w.id}`;
    const conf = {
      cniVersion: '1.1.0',
      name: `fw${w.id}`,
      type: 'bridge',
      bridge: br,
      isGateway: true,
      isolation: true,
      portIsolation: true,
      ipam: { type: 'tsnet-ipam', subnet: '10.92.0.0/24', dataDir: root },
    };
    const call = (cmd: 'ADD' | 'DEL' | 'CHECK', cid: string, extra: object = {}) => ({
      hostNs: host,
      plugin: 'bridge',
      command: cmd,
      conf: { ...conf, ...extra },
      netns: `/run/netns/${cid}`,
      containerId: cid,
    });
    const c1 = w.netns('c1');
    const c2 = w.netns('c2');
    const r1 = cniOk(call('ADD', c1));
    cniOk(call('ADD', c2));
    assert.ok(chains(host).includes(`fw-${br}`), 'the group');
    assert.ok(
      ruleOwners(host).every((o) => o === `fw:${br}`),
      'nothing but the group (no masquerade asked)',
    );
    const ports = ipj(host, '-d', 'link', 'show', 'master', br) as any[];
    assert.equal(ports.length, 2);
    for (const p of ports) assert.equal(p.linkinfo.info_slave_data.isolated, true, `${p.ifname} isolated`);
    cniOk(call('CHECK', c1, { prevResult: r1 }));
    spawnSync('ip', ['netns', 'exec', host, 'nft', 'flush', 'table', 'inet', 'tsnet']);
    const check = cni(call('CHECK', c1, { prevResult: r1 }));
    assert.notEqual(check.status, 0);
    assert.match(check.json.msg, new RegExp(`forwarding rules of bridge "${br}" are missing`));
    assert.match(check.json.details, /tsnet network reload/);
    spawnSync('ip', ['netns', 'exec', host, 'nft', 'delete', 'table', 'inet', 'tsnet']);
    // Made again by the next ADD; the first DEL keeps it (a port is left), the last takes it.
    const c3 = w.netns('c3');
    cniOk(call('ADD', c3));
    assert.ok(chains(host).includes(`fw-${br}`));
    cniOk(call('DEL', c1));
    cniOk(call('DEL', c2));
    assert.ok(chains(host).includes(`fw-${br}`), 'a port is left');
    cniOk(call('DEL', c3));
    assert.deepEqual(chains(host), [], 'gone with the last port, and the table with it');
    cniOk(call('DEL', c3)); // idempotent
  });

  it('internal with ipMasq is refused before anything is made; a plain bridge gets no rule', (t) => {
    const w = world(t);
    const host = w.netns('host');
    const root = w.tmpdir();
    const br = `tfp${w.id}`;
    const c = w.netns('c');
    const base = {
      cniVersion: '1.1.0',
      name: `fp${w.id}`,
      type: 'bridge',
      bridge: br,
      isGateway: true,
      ipam: { type: 'tsnet-ipam', subnet: '10.93.0.0/24', dataDir: root },
    };
    const bad = cni({
      hostNs: host,
      plugin: 'bridge',
      command: 'ADD',
      conf: { ...base, internal: true, ipMasq: true },
      netns: `/run/netns/${c}`,
    });
    assert.equal(bad.status, 1);
    assert.equal(bad.json.code, 7);
    assert.match(bad.json.msg, /"internal" and "ipMasq" cannot both be true/);
    assert.deepEqual(
      ipj(host, 'link', 'show').filter((l: any) => l.ifname === br),
      [],
      'no bridge made',
    );
    cniOk({ hostNs: host, plugin: 'bridge', command: 'ADD', conf: base, netns: `/run/netns/${c}` });
    assert.deepEqual(chains(host), [], 'no firewall anywhere, nothing asked: no table');
    cniOk({ hostNs: host, plugin: 'bridge', command: 'DEL', conf: base, netns: `/run/netns/${c}` });
  });
});
