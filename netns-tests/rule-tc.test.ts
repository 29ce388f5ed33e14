// `tsnet rule` and `tsnet tc` on the real kernel: a policy routing rule and a rate limit set inside a
// container's netns from outside, as `ip rule` and `tc qdisc` there report them; a qdisc kind the kernel
// lacks is named as such; the host's own netns is refused.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { ip, ipj, needsRoot, world } from './harness.js';
import { tsnet, tsnetOk } from './attach-cli.js';

function tcj(ns: string, ...args: string[]): any[] {
  const r = spawnSync('ip', ['netns', 'exec', ns, 'tc', '-j', ...args], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout || '[]');
}

describe('tsnet rule and tsnet tc', { skip: needsRoot }, () => {
  it('adds, lists and deletes a rule visible to ip rule', (t) => {
    const w = world(t);
    const h = w.netns('qhost');
    const c = w.netns('qctr');
    tsnetOk(h, 'rule', 'add', c, 'from', '10.65.0.0/16', 'table', '100', 'priority', '1000');
    tsnetOk(h, 'rule', 'add', c, 'fwmark', '0x10', 'lookup', '101', 'pref', '1001');
    tsnetOk(h, 'rule', 'add', c, '-a', '6', 'to', 'fd00:65::/64', 'prohibit', 'priority', '1002');
    const rules = ipj(c, 'rule', 'show');
    const r1 = rules.find((r: any) => r.priority === 1000);
    assert.equal(r1.src, '10.65.0.0');
    assert.equal(r1.srclen, 16);
    assert.equal(r1.table, '100');
    const r2 = rules.find((r: any) => r.priority === 1001);
    assert.equal(r2.fwmark, '0x10');
    assert.equal(r2.table, '101');
    const r3 = ipj(c, '-6', 'rule', 'show').find((r: any) => r.priority === 1002);
    assert.equal(r3.dst, 'fd00:65::');
    assert.equal(r3.action, 'prohibit');
    assert.match(tsnetOk(h, 'rule', 'ls', c), /1000: from 10\.65\.0\.0\/16 lookup 100/);
    const dup = tsnet(h, 'rule', 'add', c, 'from', '10.65.0.0/16', 'table', '100', 'priority', '1000');
    assert.notEqual(dup.status, 0);
    assert.match(dup.stderr, /already exists/);
    tsnetOk(h, 'rule', 'del', c, 'from', '10.65.0.0/16', 'table', '100', 'priority', '1000');
    assert.equal(ipj(c, 'rule', 'show').filter((r: any) => r.priority === 1000).length, 0);
    const bad = tsnet(h, 'rule', 'add', c, 'from', '10.65.0.0/16');
    assert.notEqual(bad.status, 0);
    assert.match(bad.stderr, /neither which table/);
    const hostNs = tsnet(h, 'rule', 'add', '1', 'from', '10.65.0.0/16', 'table', '100');
    assert.notEqual(hostNs.status, 0, "the host's own netns is refused");
  });

  it('sets a tbf rate limit visible to tc qdisc, removes it, and names a kind the kernel lacks', (t) => {
    const w = world(t);
    const h = w.netns('qhost');
    const c = w.netns('qctr');
    ip(null, 'link', 'add', 'eth1', 'netns', c, 'type', 'veth', 'peer', 'name', 'q1', 'netns', h);
    ip(c, 'link', 'set', 'eth1', 'up');
    tsnetOk(h, 'tc', c, 'qdisc', 'add', 'dev', 'eth1', 'root', 'tbf', 'rate', '1mbit', 'burst', '32kbit', 'latency', '400ms');
    const q = tcj(c, 'qdisc', 'show', 'dev', 'eth1')[0];
    assert.equal(q.kind, 'tbf');
    assert.equal(q.root, true);
    assert.equal(q.options.rate, 125000, '1mbit = 125000 bytes/s');
    assert.equal(q.options.burst, 4096, '32kbit = 4096 bytes');
    assert.match(tsnetOk(h, 'tc', c, 'qdisc', 'ls', 'dev', 'eth1'), /qdisc tbf dev eth1 root/);
    tsnetOk(h, 'tc', c, 'qdisc', 'del', 'dev', 'eth1', 'root');
    assert.notEqual(tcj(c, 'qdisc', 'show', 'dev', 'eth1')[0]?.kind, 'tbf');

    // netem and prio: set where the kernel has them, or refused naming what it lacks.
    for (const words of [
      ['netem', 'delay', '10ms'],
      ['prio', 'bands', '3'],
    ]) {
      const kind = words[0]!;
      const probe = spawnSync('ip', ['netns', 'exec', c, 'tc', 'qdisc', 'replace', 'dev', 'eth1', 'root', ...words], { encoding: 'utf8' });
      spawnSync('ip', ['netns', 'exec', c, 'tc', 'qdisc', 'del', 'dev', 'eth1', 'root']);
      const r = tsnet(h, 'tc', c, 'qdisc', 'replace', 'dev', 'eth1', ...words);
      if (probe.status === 0) {
        assert.equal(r.status, 0, r.stderr);
        assert.equal(tcj(c, 'qdisc', 'show', 'dev', 'eth1')[0].kind, kind);
      } else {
        assert.notEqual(r.status, 0);
        assert.match(r.stderr, new RegExp(`this kernel has no ${kind} qdisc \\(CONFIG_NET_SCH_${kind.toUpperCase()}`));
      }
    }
  });
});
