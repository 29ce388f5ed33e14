// `tsnet graph` draws what the kernel holds: in a namespace playing the host, a bridge with an attached
// container's veth, its address and gateway, as a text tree and as an SVG rendered by WebAssembly Graphviz.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ipj, needsRoot, world } from './harness.js';
import { tsnetOk } from './attach-cli.js';

describe('tsnet graph', { skip: needsRoot }, () => {
  it('shows bridges, veth pairs, namespaces, addresses, gateways and attachments as text and SVG', (t) => {
    const w = world(t);
    const h = w.netns('ghost');
    const c = w.netns('gctr');
    tsnetOk(h, 'attach', 'br0', c, '10.66.0.5/24@10.66.0.1');
    // a decoy built the same way (same interface indexes in its namespaces), named to be listed first: the pair
    // must be matched by the namespace ids the veth ends carry, not by their indexes alone
    const h2 = w.netns('adhost');
    const c2 = w.netns('adctr');
    tsnetOk(h2, 'attach', 'br0', c2, '10.66.0.6/24@10.66.0.1');
    const hostVeth = ipj(h, 'link', 'show', 'master', 'br0')[0].ifname as string;

    const text = tsnetOk(h, 'graph');
    const section = (label: string) => {
      const lines = text.split('\n');
      const at = lines.indexOf(label);
      assert.ok(at >= 0, `a section for ${label} in:\n${text}`);
      const end = lines.findIndex((l, k) => k > at && l && !/^[│├└ ]/.test(l));
      return lines.slice(at, end < 0 ? undefined : end).join('\n');
    };
    const host = section('host');
    assert.match(host, /├─ br0 \[bridge\]|└─ br0 \[bridge\]/);
    assert.match(host, new RegExp(`└─ ${hostVeth} \\[veth\\] ⇄ ${c}:eth1`), 'the bridge port, and where its pair goes');
    const ctr = section(c);
    assert.match(ctr, new RegExp(`eth1 \\[veth\\] 10\\.66\\.0\\.5/24 ⇄ host:${hostVeth} \\(attached\\)`));
    assert.match(ctr, /gateway 10\.66\.0\.1 dev eth1/);

    const file = join(w.tmpdir(), 'net.svg');
    tsnetOk(h, 'graph', '--format', 'svg', '--output', file);
    const svg = readFileSync(file, 'utf8');
    assert.match(svg, /^<\?xml[^]*<svg/);
    assert.ok(!svg.includes('\\n'), 'labels are broken into lines, not written with a literal \\n');
    for (const s of ['br0 (bridge)', `${hostVeth} (veth)`, 'eth1 (veth)', '10.66.0.5/24', 'gateway 10.66.0.1 dev eth1', '>veth<', '>port<'])
      assert.ok(svg.includes(s), `the SVG shows ${s}`);
    assert.match(tsnetOk(h, 'graph', '--format', 'dot'), /^digraph tsnet \{/);
  });
});
