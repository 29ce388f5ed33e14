// --save / --restore across a simulated reboot: attachments, routes and rules saved under names that survive
// it (a netns name, not a path or a pid), detach --save taking its line out, and --restore after the
// namespaces are made anew putting back addresses, routes and rules, saying what became of each line.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ip, ipj, needsRoot, world } from './harness.js';
import { tsnet, tsnetOk } from './attach-cli.js';

describe('tsnet attach --save / --restore', { skip: needsRoot }, () => {
  it('restores addresses, routes and rules after the namespaces are re-created', (t) => {
    const w = world(t);
    const h = w.netns('shost');
    const c = w.netns('sctr');
    const file = join(w.tmpdir(), 'attachments');
    tsnetOk(h, 'attach', '--save', file, 'br0', `/run/netns/${c}`, '10.67.0.5/24@10.67.0.1', 'U:saved');
    tsnetOk(h, 'route', 'add', '--save', file, c, '192.168.67.0/24', 'via', '10.67.0.1');
    tsnetOk(h, 'rule', 'add', '--save', file, c, 'from', '10.67.0.0/24', 'table', '100', 'priority', '1100');
    // A pid is saved only with a warning; detach --save takes the line out again.
    const sleeper = spawn('ip', ['netns', 'exec', c, 'sleep', '60'], { stdio: 'ignore' });
    w.defer(() => void sleeper.kill('SIGKILL'));
    const pids = spawnPids(c);
    const byPid = tsnet(h, 'attach', '--save', file, '-i', 'eth2', 'br0', pids[0]!, '10.67.0.6/24');
    assert.equal(byPid.status, 0, byPid.stderr);
    assert.match(byPid.stderr, /warning: .*is a pid/);
    assert.equal(
      readFileSync(file, 'utf8')
        .split('\n')
        .filter((l) => l.includes('"eth2"')).length,
      1,
    );
    tsnetOk(h, 'detach', '--save', file, pids[0]!, '-i', 'eth2');
    const saved = readFileSync(file, 'utf8');
    assert.equal(saved.split('\n').filter((l) => l.includes('"eth2"')).length, 0, 'detach took its line out');
    assert.ok(saved.includes(`"container":"${c}"`), 'saved by netns name, not by path');
    sleeper.kill('SIGKILL');
    const mac = ipj(c, 'link', 'show', 'eth1')[0].address;

    // The reboot: both namespaces gone, made anew under the same names, empty.
    ip(null, 'netns', 'del', c);
    ip(null, 'netns', 'del', h);
    ip(null, 'netns', 'add', h);
    ip(null, 'netns', 'add', c);
    const r = tsnetOk(h, 'attach', '--restore', file);
    assert.match(r, /:1: attached eth1 .*10\.67\.0\.5\/24/);
    assert.match(r, /:2: added route 192\.168\.67\.0\/24 via 10\.67\.0\.1/);
    assert.match(r, /:3: added rule 1100: from 10\.67\.0\.0\/24 lookup 100/);
    const eth1 = ipj(c, 'addr', 'show', 'dev', 'eth1')[0];
    assert.equal(eth1.address, mac, 'the same U: MAC');
    assert.deepEqual(
      eth1.addr_info.filter((a: any) => a.family === 'inet').map((a: any) => `${a.local}/${a.prefixlen}`),
      ['10.67.0.5/24'],
    );
    assert.equal(ipj(c, 'route', 'show', '192.168.67.0/24')[0].gateway, '10.67.0.1');
    assert.equal(ipj(c, 'route', 'show', 'default')[0].gateway, '10.67.0.1');
    const rule = ipj(c, 'rule', 'show').find((x: any) => x.priority === 1100);
    assert.equal(rule?.table, '100');

    const again = tsnet(h, 'attach', '--json', '--restore', file);
    assert.equal(again.status, 0, again.stderr);
    const outcomes = again.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l).outcome);
    assert.deepEqual(outcomes, ['skipped', 'skipped', 'skipped'], 'a second restore finds everything present');
  });
});

function spawnPids(ns: string): string[] {
  for (let i = 0; i < 100; i++) {
    const out = ip(null, 'netns', 'pids', ns).trim();
    if (out) return out.split('\n');
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50);
  }
  throw new Error(`no process in ${ns}`);
}
