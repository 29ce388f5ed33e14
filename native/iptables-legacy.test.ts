// legacyInsert through a fake iptables-legacy: which calls it makes, in which order (no kernel, no program run).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { legacyInsert, type Runner } from './iptables-legacy.js';

/** A FORWARD chain in memory, served as iptables-legacy would (-C, -S, -I); every call recorded. */
function fakeIptables(chain: string[]): { exec: Runner; calls: string[][]; chain: string[] } {
  const calls: string[][] = [];
  const fail = (stderr: string) => Object.assign(new Error('exit 1'), { code: 1, stdout: '', stderr });
  const exec: Runner = async (program, args) => {
    assert.equal(program, 'iptables-legacy');
    assert.equal(args[0], '-w');
    const [op, name, ...rest] = args.slice(1);
    calls.push([op!, ...rest]);
    assert.equal(name, 'FORWARD');
    const rule = `-A FORWARD ${rest.join(' ')}`;
    if (op === '-C') {
      if (chain.includes(rule)) return { stdout: '', stderr: '' };
      throw fail('iptables: Bad rule (does a matching rule exist in that chain?).');
    }
    if (op === '-S') return { stdout: ['-P FORWARD DROP', ...chain, ''].join('\n'), stderr: '' };
    if (op === '-I') {
      const pos = /^\d+$/.test(rest[0]!) ? Number(rest.shift()) : 1;
      chain.splice(pos - 1, 0, `-A FORWARD ${rest.join(' ')}`);
      return { stdout: '', stderr: '' };
    }
    throw fail(`unexpected ${op}`);
  };
  return { exec, calls, chain };
}

const rules = [
  ['-i', 'br9', '-m', 'comment', '--comment', 'tsnet:fw:br9', '-j', 'ACCEPT'],
  ['-o', 'br9', '-m', 'comment', '--comment', 'tsnet:fw:br9', '-j', 'ACCEPT'],
];

test('legacyInsert lists FORWARD once per call, and puts both rules right after the jump to DOCKER-USER', async () => {
  const f = fakeIptables(['-A FORWARD -s 192.0.2.0/24 -j DROP', '-A FORWARD -j DOCKER-USER', '-A FORWARD -j DOCKER-ISOLATION-STAGE-1']);
  await legacyInsert('ip', rules, f.exec);
  assert.equal(f.calls.filter((c) => c[0] === '-S').length, 1, `calls: ${JSON.stringify(f.calls)}`);
  assert.deepEqual(
    f.calls.map((c) => c[0]),
    ['-C', '-S', '-I', '-C', '-I'],
  );
  assert.deepEqual(f.chain, [
    '-A FORWARD -s 192.0.2.0/24 -j DROP',
    '-A FORWARD -j DOCKER-USER',
    `-A FORWARD ${rules[1]!.join(' ')}`,
    `-A FORWARD ${rules[0]!.join(' ')}`,
    '-A FORWARD -j DOCKER-ISOLATION-STAGE-1',
  ]);
});

test('legacyInsert with no jump to DOCKER-USER puts the rules first; rules already there are neither listed nor inserted', async () => {
  const f = fakeIptables(['-A FORWARD -s 192.0.2.0/24 -j DROP']);
  await legacyInsert('ip', rules, f.exec);
  assert.deepEqual(f.chain.slice(2), ['-A FORWARD -s 192.0.2.0/24 -j DROP']);
  assert.equal(f.calls.filter((c) => c[0] === '-S').length, 1);
  f.calls.length = 0;
  await legacyInsert('ip', rules, f.exec); // all there: only the checks
  assert.deepEqual(
    f.calls.map((c) => c[0]),
    ['-C', '-C'],
  );
  assert.equal(f.chain.length, 3);
});
