// `tsnet tc <container> qdisc add|replace|del|ls …`: root queueing disciplines (rate limits, delay, priority
// bands) inside a container's netns, set from outside over netlink.
import { CONTAINER_ARG } from './options.js';
import { Command } from 'commander';
import { deleteRootQdisc, listQdiscs, parseQdiscWords, setRootQdisc } from '../../plugins/route/tc.js';
import { PluginError } from '../../plugins/shared/errors.js';
import { checkIfname } from '../../plugins/shared/ifname.js';
import { inContainer } from './route-commands.js';

const USAGE =
  '<container> qdisc add|replace dev IF [root] tbf rate RATE burst SIZE latency TIME | netem delay TIME [JITTER] [loss N%] | prio [bands N]\n' +
  '       <container> qdisc del dev IF [root]  |  <container> qdisc ls [dev IF] [--json]';

function usage(reason: string): PluginError {
  return new PluginError('tsnet tc', reason, `usage: tsnet tc ${USAGE}`);
}

export function tcCommand(): Command {
  return new Command('tc')
    .description("set a container's root qdisc from outside (tc qdisc): rate limits (tbf), delay and loss (netem), priority bands (prio)")
    .usage(USAGE)
    .argument('<container>', CONTAINER_ARG)
    .argument('<words...>', 'qdisc add|replace|del|ls …')
    .option('--json', 'with ls: print JSON')
    .option('--host', "the container is the host's own network namespace: change the host's qdiscs")
    .allowUnknownOption(false)
    .action(async (container: string, words: string[], f: { json?: boolean; host?: boolean }) => {
      const [obj, verb, ...rest] = words;
      if (obj !== 'qdisc') throw usage(`only "qdisc" is supported (got ${JSON.stringify(obj ?? '')})`);
      let dev: string | undefined;
      if (rest[0] === 'dev') {
        dev = rest[1];
        if (!dev) throw usage('"dev" needs an interface name');
        checkIfname(dev, 'interface');
        rest.splice(0, 2);
      }
      if (rest[0] === 'root') rest.shift();
      switch (verb) {
        case 'ls':
        case 'show': {
          const qs = await inContainer(container, (ns) => listQdiscs(ns, dev));
          process.stdout.write(
            f.json
              ? `${JSON.stringify(qs)}\n`
              : qs.map((q) => `qdisc ${q.kind} dev ${q.dev}${q.parent === 0xffffffff ? ' root' : ''}\n`).join(''),
          );
          return;
        }
        case 'add':
        case 'replace':
        case 'change': {
          if (!dev) throw usage('say which interface: dev IF');
          const spec = parseQdiscWords(rest);
          await inContainer(container, (ns) => setRootQdisc(ns, dev, spec), { verb, what: 'tc', ...(f.host ? { host: true } : {}) });
          process.stdout.write(`set root qdisc ${spec.kind} on ${dev} in ${container}\n`);
          return;
        }
        case 'del':
        case 'delete': {
          if (!dev) throw usage('say which interface: dev IF');
          if (rest.length) throw usage(`unexpected ${JSON.stringify(rest.join(' '))} after "del dev ${dev} root"`);
          await inContainer(container, (ns) => deleteRootQdisc(ns, dev), { verb: 'del', what: 'tc', ...(f.host ? { host: true } : {}) });
          process.stdout.write(`deleted the root qdisc of ${dev} in ${container}\n`);
          return;
        }
        default:
          throw usage(`unknown verb ${JSON.stringify(verb ?? '')}`);
      }
    });
}
