// `tsnet cni add|del|check|gc|status <network> [netns]`: runs a network's plugin chain like cnitool.
// Environment, as cnitool: NETCONFPATH (config dir), CNI_PATH (plugin dirs), CNI_ARGS, CAP_ARGS (JSON),
// CNI_IFNAME; TSNET_ROOT for the result cache.
import { Command, InvalidArgumentError } from 'commander';
import { confDir, findNetwork } from '../../plugins/cni/conflist.js';
import { parseCniArgs, validateContainerId, validateIfname } from '../../plugins/cni/env.js';
import { Invoker, type Attachment, type InProcessRegistry, type RuntimeConf } from '../../plugins/cni/invoke.js';
import { sha256Hex } from '../../common/random.js';
import { CniError } from '../../plugins/cni/types.js';

interface CommonOpts {
  ifname: string;
  args?: string;
  containerId?: string;
  capArgs?: string;
  confDir?: string;
}

/** A netns argument: a path, or a name under /run/netns. */
export function netnsPath(arg: string): string {
  return arg.includes('/') ? arg : `/run/netns/${arg}`;
}

/** cnitool-style default container ID: derived from the netns path, stable across add/del. */
export function defaultContainerId(netns: string): string {
  return `tsnet-${sha256Hex(netns).slice(0, 24)}`;
}

function parseJsonOpt(s: string | undefined, what: string): Record<string, unknown> | undefined {
  if (s === undefined || s === '') return undefined;
  try {
    const v = JSON.parse(s) as unknown;
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('not an object');
    return v as Record<string, unknown>;
  } catch (e) {
    throw new InvalidArgumentError(
      `${what} must be a JSON object, e.g. '{"portMappings":[{"hostPort":8080,"containerPort":80,"protocol":"tcp"}]}' (${(e as Error).message})`,
    );
  }
}

function runtimeConf(netns: string, o: CommonOpts): RuntimeConf {
  const path = netns ? netnsPath(netns) : '';
  const containerId = o.containerId ?? defaultContainerId(path);
  validateContainerId(containerId, '--container-id');
  validateIfname(o.ifname, '--ifname');
  const rt: RuntimeConf = { containerId, netns: path, ifname: o.ifname };
  const args = o.args ?? process.env.CNI_ARGS;
  if (args) rt.args = parseCniArgs(args, '--args');
  const caps = parseJsonOpt(o.capArgs ?? process.env.CAP_ARGS, '--cap-args');
  if (caps) rt.capabilityArgs = caps;
  return rt;
}

function fail(e: unknown): never {
  if (e instanceof CniError) {
    process.stderr.write(`error (CNI code ${e.code}): ${e.message}${e.details ? `\n  ${e.details}` : ''}\n`);
  } else {
    process.stderr.write(`error: ${(e as Error).message ?? String(e)}\n`);
  }
  process.exit(1);
}

export interface CniCommandsOptions {
  /** Plugins run in-process instead of exec'd (tsnet's own); a loader defers their import until a command runs. */
  inProcess?: InProcessRegistry | (() => Promise<InProcessRegistry>);
  /** Builds the invoker (tests). */
  invoker?: () => Invoker;
  /** Where results go (default stdout). */
  out?: (text: string) => void;
}

function withCommon(c: Command): Command {
  return c
    .option('--ifname <name>', 'interface name inside the container', process.env.CNI_IFNAME || 'eth0')
    .option('--args <K=V;...>', 'CNI_ARGS passed to every plugin (default: $CNI_ARGS)')
    .option('--container-id <id>', 'container ID (default: derived from the netns path, like cnitool)')
    .option('--cap-args <json>', 'capability arguments, e.g. portMappings (default: $CAP_ARGS)')
    .option('--conf-dir <dir>', 'network config directory (default: $NETCONFPATH or /etc/cni/net.d)');
}

/** The `cni` command group; the main CLI adds it with program.addCommand(cniCommands()). */
export function cniCommands(options: CniCommandsOptions = {}): Command {
  const invoker = async (): Promise<Invoker> => {
    if (options.invoker) return options.invoker();
    const inProcess = typeof options.inProcess === 'function' ? await options.inProcess() : options.inProcess;
    return new Invoker({ ...(inProcess ? { inProcess } : {}) });
  };
  const out = options.out ?? ((text: string) => void process.stdout.write(text));
  const print = (v: unknown) => out(`${JSON.stringify(v, null, 2)}\n`);
  const load = (network: string, o: CommonOpts) => findNetwork(network, o.confDir ?? confDir());
  const cni = new Command('cni').description('run a CNI network (conflist) against a network namespace, like cnitool');

  withCommon(cni.command('add <network> <netns>').description('ADD: attach the netns to the network; prints the result JSON')).action(
    async (network: string, netns: string, o: CommonOpts) => {
      try {
        print(await (await invoker()).add(load(network, o), runtimeConf(netns, o)));
      } catch (e) {
        fail(e);
      }
    },
  );
  withCommon(cni.command('del <network> [netns]').description('DEL: detach (idempotent; netns may be gone)')).action(
    async (network: string, netns: string | undefined, o: CommonOpts) => {
      try {
        if (!netns && !o.containerId) throw new InvalidArgumentError('del needs <netns> or --container-id to name the attachment');
        await (await invoker()).del(load(network, o), runtimeConf(netns ?? '', o));
      } catch (e) {
        fail(e);
      }
    },
  );
  withCommon(cni.command('check <network> <netns>').description('CHECK: verify the attachment made by add is intact')).action(
    async (network: string, netns: string, o: CommonOpts) => {
      try {
        await (await invoker()).check(load(network, o), runtimeConf(netns, o));
        print({ ok: true });
      } catch (e) {
        fail(e);
      }
    },
  );
  cni
    .command('gc <network>')
    .description(
      'GC: DEL every cached attachment of the network not listed with --valid, then (cniVersion 1.1.0+) let each plugin release what no valid attachment owns: addresses, masquerade rules',
    )
    .option(
      '--valid <cid:ifname...>',
      'attachments to keep (containerID:ifname)',
      (v: string, acc: string[]) => [...acc, v],
      [] as string[],
    )
    .option('--conf-dir <dir>', 'network config directory')
    .action(async (network: string, o: { valid: string[]; confDir?: string }) => {
      try {
        const valid: Attachment[] = o.valid.map((s) => {
          const i = s.lastIndexOf(':');
          if (i <= 0) throw new InvalidArgumentError(`--valid '${s}' must be containerID:ifname`);
          return { containerId: s.slice(0, i), ifname: s.slice(i + 1) };
        });
        print({ removed: await (await invoker()).gc(findNetwork(network, o.confDir ?? confDir()), valid) });
      } catch (e) {
        fail(e);
      }
    });
  cni
    .command('status <network>')
    .description('STATUS: ask each plugin of the network whether it is ready')
    .option('--conf-dir <dir>', 'network config directory')
    .action(async (network: string, o: { confDir?: string }) => {
      try {
        await (await invoker()).status(findNetwork(network, o.confDir ?? confDir()));
        print({ ready: true });
      } catch (e) {
        fail(e);
      }
    });
  return cni;
}
