#!/usr/bin/env node
// A standalone runner for `attach`, `detach` and `route` until they are wired into the main tsnet program:
//   node dist/plugins/attach/cli-main.js attach br0 C1 192.168.115.10/24@192.168.115.2
// Errors print as the main CLI prints them: one line, "tsnet: <thing>: <reason> (<fix>)", non-zero exit.
import { Command } from 'commander';
import { formatError, TsnetError } from '../../engine/errors.js';
import { routeCommand } from '../route/route-cli.js';
import { attachCommands } from './attach-cli.js';

async function main(): Promise<void> {
  const program = new Command('tsnet')
    .enablePositionalOptions()
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({ outputError: (str, write) => write(`tsnet: ${str.replace(/^error: /, '')}`) });
  for (const c of attachCommands()) program.addCommand(c);
  program.addCommand(routeCommand());
  try {
    await program.parseAsync(process.argv);
  } catch (e) {
    process.stderr.write(`${formatError(e)}\n`);
    if (process.env.TSNET_DEBUG && e instanceof Error) process.stderr.write(`${e.stack}\n`);
    process.exitCode = e instanceof TsnetError ? e.exitCode : 125;
  }
}

void main();
