#!/usr/bin/env -S -u NODE_EXTRA_CA_CERTS node
// tsnet CLI entry (bundled into dist/engine/cli/tsnet.mjs, linked as node_modules/.bin/tsnet). Errors print as one line:
//   tsnet: <thing>: <reason> (<fix>)
import { exitCodeOf, formatError } from './format-error.js';
import { buildProgram } from './program.js';
import { trace } from '../../common/trace.js';

trace('cli-loaded');
process.once('exit', () => trace('exit'));

async function main(): Promise<void> {
  try {
    await buildProgram().parseAsync(process.argv);
  } catch (e) {
    process.stderr.write(`${formatError(e)}\n`);
    if (process.env.TSNET_DEBUG && e instanceof Error) process.stderr.write(`${e.stack}\n`);
    process.exitCode = exitCodeOf(e);
  }
}

void main();
