// tsnet's nftables table, written over NETLINK_NETFILTER, read back by the `nft` program: the rules say what
// was meant (as nft prints them), they go by owner, and the table goes with its last rule. Runs in a namespace
// the test owns (the module acts on the namespace its process is in).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { REPO } from './cni-exec.js';
import { needsRoot, world } from './harness.js';

const MOD = join(REPO, 'dist', 'native', 'nftables.js');

/** Runs `body` (with `n` = the module) in a node process inside `ns`. */
function inNs(ns: string, body: string): string {
  const r = spawnSync(
    'ip',
    [
      'netns',
      'exec',
      ns,
      process.execPath,
      '--input-type=module',
      '-e',
      `const n = await import(${JSON.stringify(MOD)}); ${body}; process.exit(0);`,
    ],
    { encoding: 'utf8' },
  );
  if (r.status !== 0) throw new Error(r.stderr || r.stdout);
  return r.stdout;
}
const nftList = (ns: string) => spawnSync('ip', ['netns', 'exec', ns, 'nft', 'list', 'ruleset'], { encoding: 'utf8' }).stdout;

describe('nftables over netlink', { skip: needsRoot }, () => {
  it('adds masquerade and DNAT rules that nft reads back as written, removes them by owner, then the table', (t) => {
    const ns = world(t).netns('nft');
    inNs(
      ns,
      `await n.addRules('net:a', [
        { chain: 'postrouting', exprs: n.masqueradeRule({ saddr: '10.70.0.2', notDaddr: '10.70.0.0/24' }) },
        { chain: 'postrouting', exprs: n.masqueradeRule({ saddr: 'fd70::2', notDaddr: 'fd70::/64' }) },
      ]);
      await n.addRules('ports:b:eth0', [
        { chain: 'prerouting', exprs: n.dnatRule({ proto: 'tcp', port: 18080, to: '10.70.0.2', toPort: 80 }), note: 'tcp dport 18080' },
        { chain: 'output', exprs: n.dnatRule({ hostIp: '127.0.0.1', proto: 'udp', port: 5300, to: '10.70.0.2', toPort: 53 }), note: 'ip daddr 127.0.0.1 udp dport 5300' },
        { chain: 'postrouting', exprs: n.masqueradeRule({ saddr: '127.0.0.0/8', daddr: '10.70.0.2', proto: 'tcp', dport: 80 }) },
      ])`,
    );
    const text = nftList(ns);
    assert.match(text, /table inet tsnet/);
    assert.match(text, /type nat hook postrouting priority srcnat; policy accept;/);
    assert.match(text, /ip saddr 10\.70\.0\.2 ip daddr != 10\.70\.0\.0\/24 masquerade comment "net:a"/);
    assert.match(text, /ip6 saddr fd70::2 ip6 daddr != fd70::\/64 masquerade comment "net:a"/);
    assert.match(text, /fib daddr type local tcp dport 18080 dnat ip to 10\.70\.0\.2:80 comment "ports:b:eth0\|tcp dport 18080"/);
    assert.match(text, /ip daddr 127\.0\.0\.1 udp dport 5300 dnat ip to 10\.70\.0\.2:53/);
    assert.match(text, /ip saddr 127\.0\.0\.0\/8 ip daddr 10\.70\.0\.2 tcp dport 80 masquerade/);
    // The guard sees the notes of existing rules and can refuse.
    const refused = inNs(
      ns,
      `try { await n.addRules('ports:c:eth0', [], (ex) => { if (ex.some((r) => r.text === 'tcp dport 18080')) throw new Error('taken'); }); console.log('added'); } catch (e) { console.log(e.message); }`,
    );
    assert.equal(refused.trim(), 'taken');
    assert.equal(inNs(ns, `console.log(await n.removeRules('net:a'))`).trim(), '2');
    assert.doesNotMatch(nftList(ns), /net:a/);
    assert.match(nftList(ns), /ports:b:eth0/);
    assert.equal(inNs(ns, `console.log(await n.removeRules('ports:b:eth0'))`).trim(), '3');
    assert.doesNotMatch(nftList(ns), /tsnet/, 'the table goes with its last rule');
    assert.equal(inNs(ns, `console.log(await n.removeRules('ports:b:eth0'))`).trim(), '0', 'idempotent');
  });
});
