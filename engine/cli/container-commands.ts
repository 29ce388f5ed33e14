// run, ps, stop, kill, rm, exec, logs, inspect (+ the hidden exit hook the init helper runs).
import { Command } from 'commander';
import { TsnetError } from '../../common/errors.js';
import { execInContainer } from '../containers/exec.js';
import { inspectJson } from '../containers/inspect.js';
import { createContainer, userNetwork } from '../containers/create.js';
import { containerExited, EXIT_HOOK_COMMAND } from '../containers/exit-hook.js';
import { removeContainer } from '../containers/rm.js';
import { startContainer } from '../containers/start.js';
import { killContainer, signalName, stopContainer } from '../containers/stop.js';
import { streamLogs } from '../containers/logs.js';
import { ago, psFilter, psRow, psTable } from '../containers/ps.js';
import { findContainer, getContainer } from '../containers/store.js';
import { dualStackPorts, parsePortSpec, releaseHeldPorts, reservePorts, type PortMapping, type PortRequest } from '../network/ports.js';
import { parseNetMode } from '../network/modes.js';
import { getImage } from '../images/store.js';
import type { ContainerConfig } from '../containers/model.js';
import { reclaim, reclaimAll } from '../containers/reclaim.js';
import { restartContainer, startExisting } from '../containers/restart.js';
import { formatError } from './format-error.js';
import { renderRows, renderTemplate } from './go-template.js';

/** `ps --format 'table …'`: Docker's column names. */
const PS_HEADERS: Record<string, string> = {
  ID: 'CONTAINER ID',
  Image: 'IMAGE',
  Command: 'COMMAND',
  CreatedAt: 'CREATED AT',
  RunningFor: 'CREATED',
  Status: 'STATUS',
  Ports: 'PORTS',
  Names: 'NAMES',
};
import { trace } from '../../common/trace.js';
import { collect, parseLimits, parsePorts, parseTimeout, securityOptions } from './options.js';

interface RunFlags {
  detach?: boolean;
  rm?: boolean;
  name?: string;
  hostname?: string;
  net?: string;
  network?: string;
  ip?: string;
  ip6?: string;
  macAddress?: string;
  networkAlias?: string[];
  publish?: string[];
  env?: string[];
  workdir?: string;
  memory?: string;
  cpus?: string;
  pidsLimit?: string;
  privileged?: boolean;
  capAdd?: string[];
  capDrop?: string[];
  securityOpt?: string[];
  dns?: string[];
  dnsSearch?: string[];
  dnsOption?: string[];
  addHost?: string[];
  publishAll?: boolean;
  expose?: string[];
}

async function run(image: string, cmd: string[], f: RunFlags): Promise<void> {
  // what dead containers (supervisor killed) still hold, published ports included, is reclaimed first
  await reclaimAll();
  trace('reclaimed');
  const exposed = exposeFlags(f.expose);
  // host ports are bound before the container exists: a refusal leaves no record, rule or address behind
  const held = await reservePorts(publishedPorts(image, f, exposed));
  let cfg: ContainerConfig;
  try {
    trace('ports-reserved');
    cfg = create(image, cmd, f, held.ports, exposed);
    trace('created');
  } catch (e) {
    releaseHeldPorts(held);
    throw e;
  }
  if (f.detach) {
    await startContainer(cfg, undefined, held);
    process.stdout.write(`${cfg.id}\n`);
    exitNow(0);
    return;
  }
  const started = await startContainer(cfg, { stdout: process.stdout, stderr: process.stderr }, held);
  const forward = (sig: NodeJS.Signals) => () => {
    try {
      process.kill(started.supervisorPid, sig);
    } catch {
      /* gone */
    }
  };
  const handlers = (['SIGINT', 'SIGTERM', 'SIGHUP'] as const).map((s) => [s, forward(s)] as const);
  for (const [s, h] of handlers) process.on(s, h);
  const code = await started.exited;
  trace('done');
  for (const [s, h] of handlers) process.off(s, h);
  exitNow(code);
}

/**
 * Ends the CLI once `run` is done, without the teardown of a natural exit (the heap, the isolate: a few ms):
 * nothing is left to do but what stdout and stderr still hold (a write to a full pipe is queued), so the exit
 * waits for them. 'exit' handlers still run.
 */
function exitNow(code: number): void {
  process.exitCode = code;
  process.stdout.write('', () => process.stderr.write('', () => process.exit(code)));
}

/**
 * -p and -P: on a dual-stack network each port without a host IP is published on IPv6 too (as Docker with
 * ip6tables); an IPv6 host IP needs such a network. Other modes refuse -p later, with their own reasons.
 */
function publishedPorts(image: string, f: RunFlags, exposed: string[]): PortRequest[] {
  const ports = [...parsePorts(f.publish), ...(f.publishAll ? exposedPorts(image, exposed) : [])];
  const mode = parseNetMode(f.net ?? f.network);
  if (mode.kind !== 'bridge' && mode.kind !== 'network') return ports;
  return dualStackPorts(ports, !!userNetwork(f.net ?? f.network)?.subnet6, mode.kind === 'network' ? mode.name : 'bridge');
}

/** -P: the image's exposed ports, each on a free host port (none when the image records none). */
function exposedPorts(image: string, extra: string[]): PortRequest[] {
  const all = [...(getImage(image).config.exposedPorts ?? []), ...extra].map((p) => (p.includes('/') ? p : `${p}/tcp`));
  return [...new Set(all)].flatMap((p) => parsePortSpec(p));
}

/** --expose PORT[-LAST][/tcp|udp], as Docker takes it: each port as 'N/proto' (a range one by one). */
function exposeFlags(specs: string[] = []): string[] {
  return specs.flatMap((spec) => {
    if (!/^\d+(-\d+)?(\/(tcp|udp))?$/.test(spec))
      throw new TsnetError(
        `--expose ${spec}`,
        'expected PORT[-LAST][/tcp|udp]',
        'write e.g. --expose 80, --expose 8000-8010 or --expose 53/udp',
      );
    return parsePortSpec(spec).map((p) => `${p.containerPort}/${p.protocol}`);
  });
}

function create(image: string, cmd: string[], f: RunFlags, ports: PortMapping[], exposed: string[]): ContainerConfig {
  return createContainer({
    image,
    cmd,
    name: f.name,
    hostname: f.hostname,
    net: f.net ?? f.network,
    ip: f.ip,
    ip6: f.ip6,
    mac: f.macAddress,
    aliases: f.networkAlias,
    ports,
    publishAll: f.publishAll,
    exposed,
    env: f.env,
    workdir: f.workdir,
    limits: parseLimits(f),
    security: securityOptions(f),
    autoRemove: f.rm,
    dns: f.dns,
    dnsSearch: f.dnsSearch,
    dnsOptions: f.dnsOption,
    extraHosts: f.addHost,
    detached: f.detach,
  });
}

/**
 * As docker: every container named is tried and printed when done; each failure is reported, and the exit status
 * is 1. `missingOk` (rm -f, as Docker 20.10's): a container that does not exist is reported but fails nothing.
 */
async function eachRef(refs: string[], fn: (ref: string) => Promise<unknown>, opts: { missingOk?: boolean } = {}): Promise<void> {
  for (const r of refs) {
    if (opts.missingOk && !findContainer(r)) {
      process.stderr.write(
        `${formatError(new TsnetError(`container '${r}'`, 'not found', "nothing to remove; list containers with 'tsnet ps -a'"))}\n`,
      );
      continue;
    }
    try {
      await fn(r);
      process.stdout.write(`${r}\n`);
    } catch (e) {
      process.stderr.write(`${formatError(e)}\n`);
      process.exitCode = 1;
    }
  }
}

export function containerCommands(program: Command): void {
  program
    .command('run')
    .description('create and start a container')
    .argument('<image>', 'image name or id (tsnet image ls)')
    .argument('[command...]', "command and arguments (default: the image's)")
    .option('-d, --detach', 'run in the background and print the id')
    .option('--rm', 'remove the container when it exits')
    .option('--name <name>', 'container name (default: generated)')
    .option('-h, --hostname <name>', 'hostname inside the container (default: short id)')
    .option('--net <mode>', 'host | none | bridge | container:<ctr> | attach:<spec> | <network>', 'bridge')
    .option('--network <mode>', 'same as --net')
    .option('--ip <addr>', 'static IPv4 address on the (first) network')
    .option('--ip6 <addr>', 'static IPv6 address on the (first) network, one made with --ipv6')
    .option('--mac-address <mac>', "eth0's MAC address, e.g. 02:42:ac:11:00:02")
    .option('--network-alias <name>', "another name for the container on its network's resolver (repeatable)", collect)
    .option('-p, --publish <[ip:][host:]ctr[/proto]>', 'publish a port or range; no host port: a free one (repeatable)', collect)
    .option('-P, --publish-all', "publish the image's exposed ports (and --expose's) on free host ports")
    .option('--expose <port>', 'expose a port or range, e.g. 80, 8000-8010, 53/udp: -P publishes it (repeatable)', collect)
    .option('-e, --env <K=V>', 'set an environment variable (repeatable)', collect)
    .option('--dns <ip>', "a nameserver for the container's /etc/resolv.conf (repeatable; replaces the default ones)", collect)
    .option('--dns-search <domain>', "a search domain for /etc/resolv.conf (repeatable; '.' for none)", collect)
    .option('--dns-option <opt>', 'a resolver option for /etc/resolv.conf, e.g. ndots:2 (repeatable)', collect)
    .option('--add-host <name:ip>', "an extra line in the container's /etc/hosts (repeatable)", collect)
    .option('-w, --workdir <dir>', 'working directory inside the container')
    .option('-m, --memory <size>', 'memory limit, e.g. 64m')
    .option('--cpus <n>', 'CPU limit, e.g. 0.5')
    .option('--pids-limit <n>', 'maximum number of processes')
    .option('--cap-add <cap>', 'add a capability to the default set, e.g. NET_ADMIN, or ALL (repeatable)', collect)
    .option('--cap-drop <cap>', 'drop a capability from the default set, or ALL (repeatable)', collect)
    .option('--privileged', 'every capability, no seccomp filter, no_new_privs off, /proc and /sys unmasked, every device')
    .option(
      '--security-opt <opt>',
      'seccomp=unconfined | seccomp=FILE (a Docker-format profile) | no-new-privileges=false | systempaths=unconfined (repeatable)',
      collect,
    )
    .passThroughOptions()
    .action(async (image: string, cmd: string[], f: RunFlags) => run(image, cmd, f));

  program
    .command('ps')
    .description('list containers')
    .option('-a, --all', 'show all containers (default: running only)')
    .option('-q, --quiet', 'only ids')
    .option('--json', 'JSON array')
    .option('--format <template>', "a Go template per container, e.g. '{{.ID}} {{.Names}} {{.Status}}'")
    .option(
      '-f, --filter <key=value>',
      'only the containers that match, as docker ps: id=PREFIX, name=REGEXP, status=running|exited|created…, exited=CODE, ' +
        'network=NAME, ancestor=IMAGE (repeatable: one key any of its values, several keys all)',
      collect,
    )
    .action(async (o: { all?: boolean; quiet?: boolean; json?: boolean; format?: string; filter?: string[] }) => {
      const filter = psFilter(o.filter);
      const cs = (await reclaimAll()).filter((c) => (o.all || filter.all || c.state.status === 'running') && filter.match(c));
      if (o.format) {
        const rows = cs.map((c) => ({
          ...psRow(c),
          ID: c.config.id.slice(0, 12),
          Names: c.config.name,
          CreatedAt: c.config.created,
          RunningFor: ago(c.config.created),
        }));
        for (const line of renderRows(o.format, rows, PS_HEADERS)) process.stdout.write(`${line}\n`);
      } else if (o.json) process.stdout.write(`${JSON.stringify(cs.map(psRow), null, 2)}\n`);
      else if (o.quiet) process.stdout.write(cs.map((c) => `${c.config.id.slice(0, 12)}\n`).join(''));
      else process.stdout.write(`${psTable(cs)}\n`);
    });

  program
    .command('stop')
    .description('stop containers: SIGTERM, then SIGKILL after the timeout')
    .argument('<container...>')
    .option('-t, --time <secs>', 'seconds to wait before SIGKILL', '10')
    .action(async (refs: string[], o: { time?: string }) => {
      const t = parseTimeout(o.time);
      await eachRef(refs, (r) => stopContainer(r, t));
    });

  program
    .command('start')
    .description('start stopped containers again (networks re-attached, published ports back)')
    .argument('<container...>')
    .action(async (refs: string[]) => eachRef(refs, (r) => startExisting(r)));

  program
    .command('restart')
    .description('stop (SIGTERM, then SIGKILL after the timeout) and start containers again')
    .argument('<container...>')
    .option('-t, --time <secs>', 'seconds to wait before SIGKILL', '10')
    .action(async (refs: string[], o: { time?: string }) => {
      const t = parseTimeout(o.time);
      await eachRef(refs, (r) => restartContainer(r, t));
    });

  program
    .command('kill')
    .description('send a signal to containers (default KILL)')
    .argument('<container...>')
    .option('-s, --signal <sig>', 'signal name or number', 'KILL')
    .action(async (refs: string[], o: { signal: string }) => {
      const sig = signalName(o.signal);
      await eachRef(refs, (r) => killContainer(r, sig));
    });

  program
    .command('rm')
    .description('remove containers (their netns, cgroup, mounts and files)')
    .argument('<container...>')
    .option('-f, --force', 'kill running containers first; a container that does not exist is reported, not an error')
    .action(async (refs: string[], o: { force?: boolean }) => {
      await eachRef(refs, (r) => removeContainer(r, { force: o.force }), { missingOk: o.force });
    });

  program
    .command('exec')
    .description('run a command in a running container')
    .argument('<container>')
    .argument('<command...>')
    .option('-e, --env <K=V>', 'extra environment (repeatable)', collect)
    .option('-w, --workdir <dir>', 'working directory')
    .passThroughOptions()
    .action(async (ref: string, cmd: string[], o: { env?: string[]; workdir?: string }) => {
      process.exitCode = await execInContainer(ref, cmd, o);
    });

  program
    .command('logs')
    .description("print a container's output")
    .argument('<container>')
    .option('-f, --follow', 'keep printing until the container exits')
    .action(async (ref: string, o: { follow?: boolean }) => streamLogs(ref, process.stdout, !!o.follow));

  program
    .command('inspect')
    .description('docker-like JSON for containers')
    .argument('<container...>')
    .option(
      '-f, --format <template>',
      "a Go template, e.g. '{{.NetworkSettings.IPAddress}}', '{{json .State}}', '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}'",
    )
    .option('--json', 'a JSON array (the default output)')
    .action(async (refs: string[], o: { format?: string; json?: boolean }) => {
      if (o.format && o.json) throw new TsnetError('inspect', '--format and --json are two outputs', 'give one of them');
      // as docker inspect: the containers found are shown, each one not found reported, and the exit status is 1
      const cs = [];
      for (const r of refs) {
        try {
          cs.push(getContainer(r));
        } catch (e) {
          process.stderr.write(`${formatError(e)}\n`);
          process.exitCode = 1;
        }
      }
      for (const c of cs) await reclaim(c);
      const docs = cs.map((c) => inspectJson(getContainer(c.config.id)));
      if (o.format) {
        // a bare path (State.Pid) is read as {{.State.Pid}}
        const tpl = o.format.includes('{{') ? o.format : `{{.${o.format.replace(/^\./, '')}}}`;
        for (const d of docs) process.stdout.write(`${renderTemplate(tpl, d)}\n`);
      } else process.stdout.write(`${JSON.stringify(docs, null, 2)}\n`);
    });

  program
    .command('port')
    .description("list a running container's published ports, as docker port prints them")
    .argument('<container>')
    .argument('[port]', 'one container port, e.g. 80 or 53/udp')
    .option('--json', 'JSON array of {ContainerPort, Protocol, HostIp, HostPort}')
    .option('--format <template>', "a Go template per port, e.g. '{{.HostIp}}:{{.HostPort}}' ({{.ContainerPort}}, {{.Protocol}})")
    .action((ref: string, which: string | undefined, o: { json?: boolean; format?: string }) => {
      const c = getContainer(ref);
      const [num, proto = 'tcp'] = (which ?? '').split('/');
      const ports = (c.state.status === 'running' ? c.config.ports : []).filter(
        (p) => which === undefined || (String(p.containerPort) === num && p.protocol === proto),
      );
      if (which !== undefined && !ports.length)
        throw new TsnetError(
          `container ${c.config.name}`,
          `no public port '${num}/${proto}' published`,
          `see 'tsnet port ${c.config.name}'`,
        );
      const rows = ports.map((p) => ({
        ContainerPort: p.containerPort,
        Protocol: p.protocol,
        HostIp: p.hostIp ?? '0.0.0.0',
        HostPort: p.hostPort,
      }));
      if (o.format) for (const row of rows) process.stdout.write(`${renderTemplate(o.format, row)}\n`);
      else if (o.json) process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
      else
        for (const p of ports) {
          const host = `${p.hostIp ?? '0.0.0.0'}:${p.hostPort}`;
          process.stdout.write(which === undefined ? `${p.containerPort}/${p.protocol} -> ${host}\n` : `${host}\n`);
        }
    });

  program
    .command(EXIT_HOOK_COMMAND, { hidden: true })
    .description('internal: run by the init helper when a container ends')
    .argument('<id>')
    .action(async (id: string) => {
      process.exitCode = await containerExited(id);
    });
}
