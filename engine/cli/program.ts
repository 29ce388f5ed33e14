// The tsnet command tree.
import { Command } from 'commander';
import { containerCommands } from './container-commands.js';
import { imageCommands } from './image-commands.js';
import { networkCommands } from './network-commands.js';
import { cniCommands } from './cni-commands.js';
import { currentHostUsage } from '../../ipam/host-usage.js';
import { engineContainerNetns } from '../containers/netns-resolver.js';
import { attachCommands } from './attach-commands.js';
import { routeCommand } from './route-commands.js';
import { ruleCommand } from './rule-commands.js';
import { tcCommand } from './tc-commands.js';
import { graphCommand } from './graph-commands.js';
import { setContainerResolver } from '../../plugins/shared/container-ref.js';
import { collect } from './options.js';
import { EXIT_HOOK_COMMAND } from '../containers/exit-hook.js';

/**
 * The tsnet command tree. Only the group of the command invoked (argv[2]) is built when it names one — building
 * every command's options and help costs each start ~1–2 ms (bench/README.md) —, all of them otherwise (help, a
 * mistyped name and its suggestion, no command).
 */
export function buildProgram(argv: string[] = process.argv): Command {
  setContainerResolver(engineContainerNetns);
  const program = new Command('tsnet')
    .description('container networking for Linux: CNI plugins, IPAM and a minimal engine')
    .version('0.1.0')
    .enablePositionalOptions()
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({ outputError: (str, write) => write(`tsnet: ${str.replace(/^error: /, '')}`) });
  const only = COMMAND_GROUPS.find(([names]) => names.includes(argv[2] ?? ''));
  for (const [, add] of only ? [only] : COMMAND_GROUPS) add(program);
  return program;
}

/** `network` (ipam/'s commands), with connect/disconnect of the engine's containers. */
function addNetworkCommand(program: Command): void {
  const network = networkCommands({
    hostUsage: currentHostUsage,
    onRemoved: async (rec) => (await import('../network/remove-bridge.js')).removeNetworkBridge(rec),
    onReload: async () => (await import('../containers/reload.js')).reloadFirewall(),
  });
  network
    .command('connect')
    .description('connect a container to a network, on a new interface (eth1, eth2, …): at once if it runs, at its next start if not')
    .argument('<network>', "network name ('bridge' is the default network)")
    .argument('<container>', 'container id or name')
    .option('--ip <address>', 'a static address from the network')
    .option('--ip6 <address>', 'a static IPv6 address from the network (one made with --ipv6)')
    .option('--alias <name>', "another name for the container on this network's resolver (repeatable)", collect)
    .option('--network-alias <name>', 'same as --alias', collect)
    .action(async (net: string, ctr: string, o: { ip?: string; ip6?: string; alias?: string[]; networkAlias?: string[] }) => {
      const { connectNetwork } = await import('../containers/connect.js');
      const aliases = [...(o.alias ?? []), ...(o.networkAlias ?? [])];
      const ifname = await connectNetwork(net, ctr, { ip: o.ip, ip6: o.ip6, aliases });
      process.stdout.write(`${ifname}\n`);
    });
  network
    .command('disconnect')
    .description('disconnect a container from a network it was connected to')
    .argument('<network>', 'network name')
    .argument('<container>', 'container id or name')
    .action(async (net: string, ctr: string) => {
      const { disconnectNetwork } = await import('../containers/connect.js');
      await disconnectNetwork(net, ctr);
    });
  program.addCommand(network);
}

function addDaemonCommand(program: Command): void {
  program
    .command('daemon')
    .description('run tsnetd in the foreground: the CNI fast path (dist/cni-fast plugins forward to it) on a root-only unix socket')
    .option('--socket <path>', 'socket path (default $TSNET_SOCKET or /run/tsnet/tsnetd.sock)')
    .option('--timeout <ms>', 'per-request timeout in ms (default $TSNETD_TIMEOUT_MS or 60000)', (v) => Number(v))
    .option(
      '--store <url>',
      "watch a cluster store (etcd://HOST:2379[,…]): keep this host's lease alive, its overlay networks' VXLAN entries in step, and their container names shared with the other hosts",
    )
    .option('--host-name <name>', "this host's name in the store (default: the hostname)")
    .option('--store-ca <file>', "CA certificate (PEM) of the store's TLS")
    .option('--store-cert <file>', 'client certificate (PEM) for the store')
    .option('--store-key <file>', 'client key (PEM) for the store')
    .action(
      async (o: {
        socket?: string;
        timeout?: number;
        store?: string;
        hostName?: string;
        storeCa?: string;
        storeCert?: string;
        storeKey?: string;
      }) => {
        process.env.UV_THREADPOOL_SIZE ??= '16'; // before the import can touch libuv's pool (see sizeWorkerPool)
        const { runDaemon } = await import('../../plugins/daemon/tsnetd.js');
        const tls = o.storeCa || o.storeCert || o.storeKey ? { ca: o.storeCa, cert: o.storeCert, key: o.storeKey } : undefined;
        process.exitCode = await runDaemon({
          ...(o.socket ? { socket: o.socket } : {}),
          ...(o.timeout ? { timeoutMs: o.timeout } : {}),
          ...(o.store ? { store: o.store } : {}),
          ...(o.hostName ? { storeHost: o.hostName } : {}),
          ...(tls ? { storeTls: tls } : {}),
        });
      },
    );
}

function addDockerPluginCommand(program: Command): void {
  program
    .command('docker-plugin')
    .description(
      "serve Docker's network and IPAM driver API (libnetwork remote driver) in the foreground: docker network create -d tsnet --ipam-driver tsnet NAME",
    )
    .option('--socket <path>', 'socket path (default /run/docker/plugins/tsnet.sock, which dockerd finds by itself)')
    .action(async (o: { socket?: string }) => {
      const { runDockerPlugin } = await import('../../plugins/docker/server.js');
      const { currentHostUsage: hostUsage } = await import('../../ipam/host-usage.js');
      process.exitCode = await runDockerPlugin({ ...(o.socket ? { socket: o.socket } : {}), hostUsage });
    });
}

/** Each group of top-level commands: the names it adds (engine/cli/program.test.ts checks them), and how. */
export const COMMAND_GROUPS: readonly [names: string[], add: (program: Command) => void][] = [
  [['run', 'ps', 'stop', 'start', 'restart', 'kill', 'rm', 'exec', 'logs', 'inspect', 'port', EXIT_HOOK_COMMAND], containerCommands],
  [['image'], (p) => p.addCommand(imageCommands())],
  [['network'], addNetworkCommand],
  [['cni'], (p) => p.addCommand(cniCommands({ inProcess: async () => (await import('../../plugins/registry.js')).inProcessPlugins() }))],
  [['attach', 'detach'], (p) => attachCommands().forEach((c) => p.addCommand(c))],
  [['route'], (p) => p.addCommand(routeCommand())],
  [['rule'], (p) => p.addCommand(ruleCommand())],
  [['tc'], (p) => p.addCommand(tcCommand())],
  [['graph'], (p) => p.addCommand(graphCommand())],
  [['daemon'], addDaemonCommand],
  [['docker-plugin'], addDockerPluginCommand],
];
