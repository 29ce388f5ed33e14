// CNI GC removes the firewall rules of attachments that are gone, not only their addresses: `tsnet cni gc`
// (the invoker, tsnet's plugins in-process) with the valid attachments leaves the masquerade rules of those
// and of no one else of the network — and never touches another network's, even one whose name shares the
// first 32 characters. Everything runs in a namespace that plays the host; the rules are read with `nft -j`.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { masqOwner } from '../plugins/shared/owners.js';
import { cniOk, REPO } from './cni-exec.js';
import { needsRoot, world } from './harness.js';
import { addressHolders as holders, ruleOwners, tsnetIn } from './state-probe.js';

describe('CNI GC and the firewall', { skip: needsRoot }, () => {
  it("tsnet cni gc removes the masquerade rules of every attachment not valid, and only this network's", async (t) => {
    const w = world(t);
    const host = w.netns('host');
    const root = w.tmpdir();
    const confDir = join(root, 'net.d');
    mkdirSync(confDir);
    // Two networks whose names agree on their first 32 characters (what an owner tag keeps of a name).
    const long = `gc${w.id}${'x'.repeat(40)}`;
    const nets = [
      { name: long, bridge: `tga${w.id}`, subnet: '10.73.0.0/24' },
      { name: `${long}-other`, bridge: `tgb${w.id}`, subnet: '10.74.0.0/24' },
    ];
    const plugin = (n: (typeof nets)[number]) => ({
      type: 'bridge',
      bridge: n.bridge,
      isDefaultGateway: true,
      ipMasq: true,
      ipam: { type: 'tsnet-ipam', subnet: n.subnet },
    });
    for (const n of nets)
      writeFileSync(join(confDir, `${n.name}.conflist`), JSON.stringify({ cniVersion: '1.1.0', name: n.name, plugins: [plugin(n)] }));
    const env = { TSNET_ROOT: root };
    // Attachments made by the plugin itself, as a runtime that was then killed would leave them: no cache.
    const add = (n: (typeof nets)[number], cid: string) => {
      const ctr = w.netns(cid);
      cniOk({
        hostNs: host,
        plugin: 'bridge',
        command: 'ADD',
        conf: { cniVersion: '1.1.0', name: n.name, ...plugin(n) },
        netns: `/run/netns/${ctr}`,
        containerId: cid,
        env,
      });
    };
    for (const cid of ['keep1', 'dead1', 'dead2']) add(nets[0]!, cid);
    add(nets[1]!, 'other1');
    // A rule written before rules carried their network (no note), for an attachment of a short-named network.
    const short = { name: `gcs${w.id}`, bridge: `tgc${w.id}`, subnet: '10.75.0.0/24' };
    writeFileSync(
      join(confDir, `${short.name}.conflist`),
      JSON.stringify({ cniVersion: '1.1.0', name: short.name, plugins: [plugin(short)] }),
    );
    const nft = join(REPO, 'dist', 'native', 'nftables.js');
    const legacy = spawnSync(
      'ip',
      [
        'netns',
        'exec',
        host,
        process.execPath,
        '--input-type=module',
        '-e',
        `const n = await import(${JSON.stringify(nft)});
         await n.addRules(${JSON.stringify(masqOwner(short.name, 'old1', 'eth0'))}, [{ chain: 'postrouting', exprs: n.masqueradeRule({ saddr: '10.75.0.9', notDaddr: '10.75.0.0/24' }) }]);
         process.exit(0);`,
      ],
      { encoding: 'utf8' },
    );
    assert.equal(legacy.status, 0, legacy.stderr);

    const owners = (cid: string, net = nets[0]!.name) => masqOwner(net, cid, 'eth0');
    assert.deepEqual(
      ruleOwners(host),
      [owners('keep1'), owners('dead1'), owners('dead2'), owners('other1', nets[1]!.name), owners('old1', short.name)].sort(),
    );

    const out = JSON.parse(tsnetIn(host, root, 'cni', 'gc', nets[0]!.name, '--valid', 'keep1:eth0', '--conf-dir', confDir));
    assert.deepEqual(out.removed, [], 'nothing was cached: only the plugins find what is stale');
    assert.deepEqual(
      ruleOwners(host),
      [owners('keep1'), owners('other1', nets[1]!.name), owners('old1', short.name)].sort(),
      "the dead attachments' rules are gone; the valid one's and the other networks' stay",
    );
    assert.deepEqual(await holders(root, nets[0]!.name), ['keep1/eth0'], 'addresses: the same');
    assert.deepEqual(await holders(root, nets[1]!.name), ['other1/eth0']);

    // A GC of the short network with nothing valid removes the rule written without a note.
    tsnetIn(host, root, 'cni', 'gc', short.name, '--conf-dir', confDir);
    assert.deepEqual(ruleOwners(host), [owners('keep1'), owners('other1', nets[1]!.name)].sort());
    // And GC with every attachment gone leaves the table empty, so it goes.
    tsnetIn(host, root, 'cni', 'gc', nets[0]!.name, '--conf-dir', confDir);
    tsnetIn(host, root, 'cni', 'gc', nets[1]!.name, '--conf-dir', confDir);
    assert.deepEqual(ruleOwners(host), []);
    const tables = spawnSync('ip', ['netns', 'exec', host, 'nft', 'list', 'tables'], { encoding: 'utf8' }).stdout;
    assert.doesNotMatch(tables, /tsnet/, 'the table goes with its last rule');
  });
});
