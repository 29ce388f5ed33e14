// The command tree: each group named by the command invoked adds exactly the commands it is listed with, and help,
// no command, or a mistyped one builds them all (commander's suggestion needs every name).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildProgram, COMMAND_GROUPS } from './program.js';

const names = (argv: string[]) =>
  buildProgram(['node', 'tsnet', ...argv])
    .commands.map((c) => c.name())
    .sort();

test('a group built alone adds exactly its listed commands; each listed name builds its group', () => {
  for (const [listed] of COMMAND_GROUPS) {
    for (const name of listed) assert.deepEqual(names([name, '--help']), [...listed].sort(), `tsnet ${name}`);
  }
});

test('help, no command, or an unknown one: every group', () => {
  const all = COMMAND_GROUPS.flatMap(([listed]) => listed).sort();
  assert.equal(new Set(all).size, all.length, 'no name in two groups');
  for (const argv of [[], ['--help'], ['help', 'run'], ['rnu'], ['-V']]) assert.deepEqual(names(argv), all, argv.join(' '));
});

test('a mistyped command is answered with the suggestion from the whole tree', () => {
  const p = buildProgram(['node', 'tsnet', 'netwrok']);
  let err = '';
  p.exitOverride().configureOutput({ writeErr: (s) => (err += s), outputError: (s, write) => write(s) });
  assert.throws(() => p.parse(['node', 'tsnet', 'netwrok']));
  assert.match(err, /Did you mean network\?/);
});
