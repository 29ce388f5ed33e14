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

describe('handing the nf_tables socket off (one-shot processes)', { skip: needsRoot }, () => {
  it("the socket's last reference goes to a tsnet-linger; a later change opens another socket", (t) => {
    const ns = world(t).netns('nfth');
    const out = inNs(
      ns,
      `const { readFileSync, readdirSync, readlinkSync } = await import('node:fs');
      // the inodes of NETLINK_NETFILTER (12) sockets, and those among a process's fds
      const nfInodes = () => new Set(readFileSync('/proc/net/netlink', 'utf8').trim().split('\\n').slice(1).map((l) => l.trim().split(/\\s+/)).filter((f) => f[1] === '12').map((f) => f[9]));
      const socketsOf = (pid) => readdirSync('/proc/' + pid + '/fd').map((fd) => { try { return readlinkSync('/proc/' + pid + '/fd/' + fd); } catch { return ''; } }).map((l) => /^socket:\\[(\\d+)\\]$/.exec(l)?.[1]).filter(Boolean);
      await n.addRules('net:h', [{ chain: 'postrouting', exprs: n.masqueradeRule({ saddr: '10.71.0.2', notDaddr: '10.71.0.0/24' }) }]);
      const mine = socketsOf('self').filter((i) => nfInodes().has(i));
      await n.handOffNfSocket();
      // (spawned from a worker thread: a child of that thread's task)
      const kids = readdirSync('/proc/self/task').flatMap((tid) => readFileSync('/proc/self/task/' + tid + '/children', 'utf8').trim().split(' ').filter(Boolean));
      const linger = kids.filter((k) => readFileSync('/proc/' + k + '/comm', 'utf8').trim() === 'tsnet-linger');
      console.log(JSON.stringify({ mine, after: socketsOf('self').filter((i) => nfInodes().has(i)), held: linger.flatMap(socketsOf).filter((i) => nfInodes().has(i)) }));
      await n.removeRules('net:h');
      await n.addRules('net:h2', [{ chain: 'postrouting', exprs: n.masqueradeRule({ saddr: '10.71.0.3', notDaddr: '10.71.0.0/24' }) }])`,
    );
    const { mine, after, held } = JSON.parse(out) as { mine: string[]; after: string[]; held: string[] };
    assert.equal(mine.length, 1, 'one nf_tables socket while changing rules');
    assert.deepEqual(after, [], 'none left in the process after the hand-off');
    assert.deepEqual(held, mine, 'the very socket, held by its tsnet-linger');
    const text = nftList(ns);
    assert.doesNotMatch(text, /net:h"/, 'changed through a new socket after the hand-off');
    assert.match(text, /ip saddr 10\.71\.0\.3 .* masquerade comment "net:h2"/);
  });
});

describe('rule groups and the forward chains of other tables', { skip: needsRoot }, () => {
  it('a group is its chains and rules, first in every other forward chain that drops (after a jump to DOCKER-USER; as iptables reads them), and goes whole', (t) => {
    const ns = world(t).netns('nftg');
    // dockerd's iptables-nft FORWARD (policy DROP, DOCKER-USER), ip6tables likewise, a native firewall's inet
    // chain that drops, and one that accepts (left alone).
    for (const cmd of [
      ['iptables', '-P', 'FORWARD', 'DROP'],
      ['iptables', '-N', 'DOCKER-USER'],
      ['iptables', '-A', 'DOCKER-USER', '-j', 'RETURN'],
      ['iptables', '-A', 'FORWARD', '-j', 'DOCKER-USER'],
      ['ip6tables', '-P', 'FORWARD', 'DROP'],
      ['nft', 'add table inet firewall; add chain inet firewall forward { type filter hook forward priority 0; policy drop; }'],
      ['nft', 'add table inet open; add chain inet open forward { type filter hook forward priority 0; policy accept; }'],
    ])
      spawnSync('ip', ['netns', 'exec', ns, ...cmd], { encoding: 'utf8' });
    const before = nftList(ns);
    const group = `{ owner: 'fw:br-t', chains: ['fw-br-t'], shared: ['isolation'], rules: [
        { chain: 'forward', exprs: [...n.ifnameMatch('iif', 'br-t'), n.jump('fw-br-t')] },
        { chain: 'fw-br-t', exprs: [...n.ctStatusDnat(), n.ret()] },
        { chain: 'fw-br-t', exprs: [...n.ifnameMatch('iif', 'br-t'), ...n.ifnameMatch('oif', 'br-t', true), n.jump('isolation')] },
        { chain: 'isolation', exprs: [...n.ifnameMatch('oif', 'br-t'), n.drop()] },
      ], foreign: (c) => c.family === 'inet'
        ? [[...n.ifnameMatch('iif', 'br-t'), n.accept()], [...n.ifnameMatch('oif', 'br-t'), ...n.ctStateMatch(['established', 'related']), n.accept()]]
        : [[...n.ifnameMatch('iif', 'br-t'), n.accept()], [...n.ifnameMatch('oif', 'br-t'), ...n.xtConntrackMatch(['related', 'established', 'dnat']), n.accept()]] }`;
    assert.equal(
      inNs(
        ns,
        `console.log(await n.hasChain('fw-br-t'), await n.putGroup(${group}, { ifAbsent: true }), await n.hasChain('fw-br-t'))`,
      ).trim(),
      'false true true',
    );
    assert.equal(inNs(ns, `console.log(await n.putGroup(${group}, { ifAbsent: true }))`).trim(), 'false', 'there already');
    inNs(ns, `await n.putGroup(${group})`); // replaced: the same rules, once
    const text = nftList(ns);
    assert.match(
      text,
      /chain forward \{\n\t\ttype filter hook forward priority filter; policy accept;\n\t\tiifname "br-t" jump fw-br-t comment "fw:br-t"\n\t\}/,
    );
    assert.match(
      text,
      /chain fw-br-t \{\n\t\tct status dnat return comment "fw:br-t"\n\t\tiifname "br-t" oifname != "br-t" jump isolation comment "fw:br-t"\n\t\}/,
    );
    assert.match(text, /chain isolation \{\n\t\toifname "br-t" drop comment "fw:br-t"\n\t\}/);
    assert.match(
      text,
      /table inet firewall \{\n\tchain forward \{\n\t\ttype filter hook forward priority filter; policy drop;\n\t\toifname "br-t" ct state established,related accept comment "tsnet:fw:br-t"\n\t\tiifname "br-t" accept comment "tsnet:fw:br-t"\n/,
    );
    const open = text.slice(text.indexOf('table inet open {'));
    assert.doesNotMatch(open.slice(0, open.indexOf('\n}\n')), /br-t/, 'a chain that accepts is left alone');
    // iptables reads its tables back: dockerd's jump to DOCKER-USER first (a user's rules there filter tsnet's
    // networks too), ours right after it.
    const ipt = spawnSync('ip', ['netns', 'exec', ns, 'iptables', '-S', 'FORWARD'], { encoding: 'utf8' });
    assert.equal(ipt.status, 0, ipt.stderr);
    assert.deepEqual(ipt.stdout.trim().split('\n'), [
      '-P FORWARD DROP',
      '-A FORWARD -j DOCKER-USER',
      '-A FORWARD -o br-t -m conntrack --ctstate RELATED,ESTABLISHED,DNAT -m comment --comment "tsnet:fw:br-t" -j ACCEPT',
      '-A FORWARD -i br-t -m comment --comment "tsnet:fw:br-t" -j ACCEPT',
    ]);
    const ip6 = spawnSync('ip', ['netns', 'exec', ns, 'ip6tables', '-S', 'FORWARD'], { encoding: 'utf8' });
    assert.match(ip6.stdout, /-A FORWARD -i br-t -m comment --comment "tsnet:fw:br-t" -j ACCEPT/);
    // Removed whole: every table as it was, and ours gone.
    assert.equal(inNs(ns, `console.log(await n.removeGroup('fw:br-t', ['fw-br-t']))`).trim(), '4');
    assert.equal(nftList(ns), before);
    assert.doesNotMatch(nftList(ns), /tsnet/);
    assert.equal(
      inNs(ns, `console.log(await n.removeGroup('fw:br-t', ['fw-br-t']), await n.hasChain('fw-br-t'))`).trim(),
      '0 false',
      'idempotent',
    );
  });
});
