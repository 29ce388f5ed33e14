// The tsnet command tree.
import { Command } from 'commander';
import { containerCommands } from './container-commands.js';
import { imageCommands } from './image-commands.js';
import { networkCommands } from '../../ipam/network-cli.js';
import { cniCommands } from '../../plugins/cni/cni-cli.js';

export function buildProgram(): Command {
  const program = new Command('tsnet')
    .description('container networking for Linux: CNI plugins, IPAM and a minimal engine')
    .version('0.1.0')
    .enablePositionalOptions()
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({ outputError: (str, write) => write(`tsnet: ${str.replace(/^error: /, '')}`) });
  containerCommands(program);
  program.addCommand(imageCommands());

  // ── Mount point for the other areas: `network …` (ipam/) and `cni …` (plugins/cni/), default options ──
  program.addCommand(networkCommands());
  program.addCommand(cniCommands());
  // ────────────────────────────────────────────────────────────────────────────────────────────────────
  return program;
}
