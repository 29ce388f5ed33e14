// `tsnet rule add|del|ls <container> …`: policy routing rules inside a container's netns, set from outside.
import { CONTAINER_ARG } from './options.js';
import { Command } from 'commander';
import { addRule, deleteRule, formatRule, listRules, parseRuleWords } from '../../plugins/route/rule.js';
import { PluginError } from '../../plugins/shared/errors.js';
import { inContainer } from './route-commands.js';
import { appendSavedRule } from '../../plugins/attach/save-file.js';
import { savedGuestName } from './attach-commands.js';

const WORDS = '[from CIDR|all] [to CIDR] [iif IF] [oif IF] [fwmark N[/M]] (table N | blackhole | unreachable | prohibit) [priority N]';

function fam(f: { family?: string }): 4 | 6 | undefined {
  if (f.family === undefined) return undefined;
  if (f.family !== '4' && f.family !== '6')
    throw new PluginError(`-a ${JSON.stringify(f.family)}`, 'not an address family', 'write -a 4 or -a 6');
  return Number(f.family) as 4 | 6;
}

export function ruleCommand(): Command {
  const cmd = new Command('rule').description("edit policy routing rules inside a container's network namespace from outside (ip rule)");
  for (const verb of ['add', 'del'] as const) {
    cmd
      .command(verb)
      .description(verb === 'add' ? 'add a rule in the container' : 'delete a rule in the container')
      .usage(`<container> ${WORDS}`)
      .argument('<container>', CONTAINER_ARG)
      .argument('[rule...]', WORDS)
      .option('-a, --family <4|6>', 'IPv4 (default) or IPv6 rule, when no prefix says it')
      .option('--host', "the container is the host's own network namespace: edit the host's rules")
      .option('--save <file>', verb === 'add' ? 'also append the rule to FILE, replayed by tsnet attach --restore FILE' : '(add only)')
      .action(async (container: string, words: string[], f: { family?: string; host?: boolean; save?: string }) => {
        const r = parseRuleWords(words, fam(f));
        await inContainer(container, (ns) => (verb === 'add' ? addRule(ns, r) : deleteRule(ns, r)), {
          verb,
          what: 'rule',
          ...(f.host ? { host: true } : {}),
        });
        if (f.save && verb === 'add') {
          const family = fam(f);
          appendSavedRule(f.save, { container: savedGuestName(container), words, ...(family ? { family } : {}) });
        }
        process.stdout.write(`${verb === 'add' ? 'added' : 'deleted'} rule ${formatRule(r)} in ${container}\n`);
      });
  }
  cmd
    .command('ls')
    .alias('list')
    .description("list the container's rules")
    .argument('<container>')
    .option('-a, --family <4|6>', 'only IPv4 or IPv6 rules')
    .option('--json', 'print JSON')
    .action(async (container: string, f: { family?: string; json?: boolean }) => {
      const rules = await inContainer(container, (ns) => listRules(ns, fam(f)));
      process.stdout.write(f.json ? `${JSON.stringify(rules)}\n` : rules.map((r) => `${formatRule(r)}\n`).join(''));
    });
  return cmd;
}
