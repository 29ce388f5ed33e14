// `tsnet graph [--format text|dot|svg] [--output FILE]`.
import { writeFileSync } from 'node:fs';
import { Command } from 'commander';
import { TsnetError } from '../../common/errors.js';
import { collectGraph, toDot, toSvg, toText } from './graph.js';

export function graphCommand(): Command {
  return new Command('graph')
    .description(
      "draw the host's networking: bridges, NICs, veth pairs, containers and namespaces, addresses, gateways, published ports and attachments",
    )
    .option('--format <text|dot|svg>', 'text (a tree, the default on a terminal), dot (Graphviz), svg (rendered here, nothing to install)')
    .option('-o, --output <file>', 'write to FILE instead of stdout (the format defaults to svg for a .svg file, dot for .dot)')
    .action(async (f: { format?: string; output?: string }) => {
      const format =
        f.format ?? (f.output?.endsWith('.svg') ? 'svg' : f.output?.endsWith('.dot') || f.output?.endsWith('.gv') ? 'dot' : 'text');
      if (!['text', 'dot', 'svg'].includes(format))
        throw new TsnetError(`--format ${JSON.stringify(format)}`, 'not a format tsnet graph writes', 'write --format text, dot or svg');
      const m = await collectGraph();
      const out = format === 'text' ? toText(m) : format === 'dot' ? toDot(m) : await toSvg(toDot(m));
      if (f.output) {
        try {
          writeFileSync(f.output, out);
        } catch (e) {
          throw new TsnetError(`--output ${f.output}`, `cannot write it: ${(e as Error).message}`, 'pick a writable path');
        }
        process.stdout.write(`wrote ${format} to ${f.output}\n`);
      } else process.stdout.write(out);
    });
}
