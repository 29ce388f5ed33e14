// pipework's other forms on the real kernel: a U:<string> MAC equal to pipework's formula (computed here by
// the shell, as pipework does), several addresses on one interface, 0/0 (the link only), and an address the
// container already has on another interface refused with nothing made.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ip, ipj, needsRoot, sh, world } from './harness.js';
import { snapshot, tsnet, tsnetOk } from './attach-cli.js';

describe("tsnet attach: pipework's forms", { skip: needsRoot }, () => {
  it('U: MAC, two addresses, 0/0, and a duplicate address refused', (t) => {
    const w = world(t);
    const h = w.netns('fhost');
    const c = w.netns('fctr');
    const formula = sh(
      'sh',
      '-c',
      `echo "web1" | md5sum | sed 's/^\\(..\\)\\(..\\)\\(..\\)\\(..\\)\\(..\\).*$/02:\\1:\\2:\\3:\\4:\\5/'`,
    ).trim();

    tsnetOk(h, 'attach', 'br0', c, '10.64.0.13/24@10.64.0.1,fd00:64::13/64', 'U:web1');
    const eth1 = ipj(c, 'addr', 'show', 'dev', 'eth1')[0];
    assert.equal(eth1.address, formula, "the MAC is pipework's 02: + md5 of the string");
    const global = eth1.addr_info.filter((a: any) => a.scope === 'global').map((a: any) => `${a.local}/${a.prefixlen}`);
    assert.deepEqual(global.sort(), ['10.64.0.13/24', 'fd00:64::13/64']);
    assert.equal(ipj(c, 'route', 'show', 'default')[0].gateway, '10.64.0.1');

    tsnetOk(h, 'attach', '-i', 'eth2', 'br0', c, '0/0');
    const eth2 = ipj(c, 'addr', 'show', 'dev', 'eth2')[0];
    assert.ok(eth2.flags.includes('UP'), '0/0: the link is up');
    assert.deepEqual(
      eth2.addr_info.filter((a: any) => a.scope === 'global'),
      [],
      '0/0: no address',
    );

    const before = [snapshot(h), snapshot(c)];
    const dup = tsnet(h, 'attach', '-i', 'eth3', 'br0', c, '10.64.0.13/16');
    assert.notEqual(dup.status, 0);
    assert.match(dup.stderr, /address 10\.64\.0\.13\/16.*already on eth1/s);
    const fam = tsnet(h, 'attach', '-i', 'eth3', '-a', '6', 'br0', c, '10.64.0.20/24');
    assert.notEqual(fam.status, 0);
    assert.match(fam.stderr, /is IPv4, but -a 6 was given/);
    assert.deepEqual([snapshot(h), snapshot(c)], before, 'nothing made');
    ip(c, 'link', 'show', 'eth1');
  });
});
