// `tsnet route add|del|ls <container> …`: routes edited inside a container's netns from outside.
import { CONTAINER_ARG } from './options.js';
import { Command } from 'commander';
import { Netns } from '../../native/netns.js';
import { refuseHostNetns, resolveContainer } from '../../plugins/shared/container-ref.js';
import { PluginError } from '../../plugins/shared/errors.js';
import {
  addRoute,
  replaceRoute,
  deleteRoute,
  formatRoute,
  listRoutes,
  parseRouteWords,
  type ListedRoute,
} from '../../plugins/route/route.js';
import { RT_SCOPE_LINK, RT_TABLE_MAIN } from '../../native/netlink/constants.js';
import { appendSavedRoute } from '../../plugins/attach/save-file.js';
import { savedGuestName } from './attach-commands.js';

/**
 * Runs fn in the container's netns. `edit` (add/del) refuses the host's own netns unless `host` is set:
 * a pid, /proc/self/ns/net or a name can all point there, and `route del 1 default` would cut the host off.
 */
export async function inContainer<T>(
  ref: string,
  fn: (ns: Netns) => Promise<T>,
  edit?: { verb: string; host?: boolean; what?: string },
): Promise<T> {
  const c = await resolveContainer(ref);
  if (edit && !edit.host)
    refuseHostNetns(
      c,
      ref,
      `'${edit.what ?? 'route'} ${edit.verb}' there would edit the host's own ${edit.what === 'tc' ? 'queueing' : edit.what === 'rule' ? 'routing rules' : 'routes'}`,
      `give a container that has a network namespace of its own, or add --host to edit the host's routes on purpose`,
    );
  const ns = Netns.open(c.netnsPath);
  try {
    return await fn(ns);
  } finally {
    ns.close();
  }
}

function line(r: ListedRoute): string {
  return [
    r.dst,
    r.via && `via ${r.via}`,
    r.dev && `dev ${r.dev}`,
    r.table !== RT_TABLE_MAIN && `table ${r.table}`,
    r.scope === RT_SCOPE_LINK && 'scope link',
    r.metric !== undefined && `metric ${r.metric}`,
  ]
    .filter(Boolean)
    .join(' ');
}

const WORDS = '<dst-cidr> via <gw> [dev <ifname>] [metric N] [table N] [proto P] [scope S] [src IP]';

export function routeCommand(): Command {
  const cmd = new Command('route').description(
    "edit routes inside a container's network namespace from outside (the container needs no capability)",
  );
  cmd
    .command('add')
    .description('add a route in the container')
    .usage(`<container> ${WORDS}`)
    .argument('<container>', CONTAINER_ARG)
    .argument('[route...]', WORDS)
    .option('--host', "the container is the host's own network namespace: edit the host's routes")
    .option('--save <file>', 'also append the route to FILE, replayed by tsnet attach --restore FILE')
    .action(async (container: string, words: string[], f: { host?: boolean; save?: string }) => {
      const r = parseRouteWords(words, { needTarget: true });
      await inContainer(container, (ns) => addRoute(ns, r), { verb: 'add', ...(f.host ? { host: true } : {}) });
      if (f.save) appendSavedRoute(f.save, { container: savedGuestName(container), words });
      process.stdout.write(`added ${formatRoute(r)} in ${container}\n`);
    });
  cmd
    .command('replace')
    .description('add a route in the container, or replace the one to the same destination')
    .usage(`<container> ${WORDS}`)
    .argument('<container>', CONTAINER_ARG)
    .argument('[route...]', WORDS)
    .option('--host', "the container is the host's own network namespace: edit the host's routes")
    .action(async (container: string, words: string[], f: { host?: boolean }) => {
      const r = parseRouteWords(words, { needTarget: true });
      await inContainer(container, (ns) => replaceRoute(ns, r), { verb: 'replace', ...(f.host ? { host: true } : {}) });
      process.stdout.write(`replaced ${formatRoute(r)} in ${container}\n`);
    });
  cmd
    .command('del')
    .alias('delete')
    .description('delete a route in the container')
    .usage(`<container> ${WORDS}`)
    .argument('<container>')
    .argument('[route...]', WORDS)
    .option('--host', "the container is the host's own network namespace: edit the host's routes")
    .action(async (container: string, words: string[], f: { host?: boolean }) => {
      const r = parseRouteWords(words);
      await inContainer(container, (ns) => deleteRoute(ns, r), { verb: 'del', ...(f.host ? { host: true } : {}) });
      process.stdout.write(`deleted ${formatRoute(r)} in ${container}\n`);
    });
  cmd
    .command('ls')
    .alias('list')
    .description("list the container's routes")
    .argument('<container>')
    .option('--table <n>', 'routing table (default main)')
    .option('--json', 'print JSON')
    .action(async (container: string, f: { table?: string; json?: boolean }) => {
      let table: number | undefined;
      if (f.table !== undefined) {
        if (!/^\d+$/.test(f.table) || Number(f.table) < 1)
          throw new PluginError(`--table ${JSON.stringify(f.table)}`, 'not a table number', 'write e.g. --table 100 (main is 254)');
        table = Number(f.table);
      }
      const routes = await inContainer(container, (ns) => listRoutes(ns, table));
      process.stdout.write(f.json ? `${JSON.stringify(routes)}\n` : routes.map((r) => `${line(r)}\n`).join(''));
    });
  return cmd;
}
