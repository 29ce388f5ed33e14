// `tsnet attach` and `tsnet detach`: pipework's command line over the attach library.
import { CONTAINER_ARG } from './options.js';
import { Command } from 'commander';
import { attach, detach, type AttachResult } from '../../plugins/attach/attach.js';
import { readAttachments, type AttachmentRecord } from '../../plugins/attach/registry.js';
import { parseDhcpForm, stopLeaseKeeper } from '../../plugins/attach/dhcp.js';
import { processStart } from '../../plugins/attach/dhcp-keeper.js';
import { DEFAULT_IFNAME, parseAttachArgs, type AttachOptions } from '../../plugins/attach/args.js';
import { checkIfname } from '../../plugins/shared/ifname.js';
import { PluginError } from '../../plugins/shared/errors.js';
import { appendSaved, readSaved, removeSaved, stableGuest, type SavedWords } from '../../plugins/attach/save-file.js';
import { files, findContainer, listContainers } from '../containers/store.js';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { addRoute, formatRoute, parseRouteWords } from '../../plugins/route/route.js';
import { addRule, formatRule, parseRuleWords } from '../../plugins/route/rule.js';
import { waitForCarrier } from '../../plugins/attach/wait.js';
import { resolveContainer } from '../../plugins/shared/container-ref.js';
import { Netns } from '../../native/netns.js';

interface AttachFlags {
  ifname?: string;
  hostIfname?: string;
  takeUplink?: boolean;
  bridge?: string;
  uplink?: string;
  force?: boolean;
  create?: boolean;
  directPhys?: boolean;
  addressFamily?: string;
  save?: string;
  restore?: string;
  wait?: boolean;
  timeout?: string;
  json?: boolean;
}

function describe(r: AttachResult): string {
  const where =
    r.mode === 'bridge'
      ? `bridge ${r.bridge}${r.createdBridge ? ' (created)' : ''} via ${r.hostVeth}`
      : r.mode === 'phys'
        ? `NIC ${r.parent} (moved in; detach gives it back)`
        : `macvlan of ${r.parent}`;
  const ip = r.address
    ? ` ${r.address}${r.gateway ? ` gw ${r.gateway}` : ''}${r.keeper ? ` (lease ${r.lease ?? '?'}s, held by pid ${r.keeper.pid})` : ''}`
    : '';
  return `attached ${r.ifname} (${r.mac}, mtu ${r.mtu})${ip} in ${r.container} to ${where}`;
}

function seconds(v: string | undefined, what: string): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+(\.\d+)?$/.test(v)) throw new PluginError(`${what} ${JSON.stringify(v)}`, 'not a number of seconds', `write e.g. ${what} 10`);
  return Number(v) * 1000;
}

/** The name to save a guest by (see stableGuest): a tsnet container's pid is saved as its name. */
export function savedGuestName(container: string): string {
  const pid = /^(?:\/proc\/)?(\d+)(?:\/ns\/net)?$/.exec(container)?.[1];
  const name = pid ? listContainers().find((c) => c.state.status === 'running' && c.state.pid === Number(pid))?.config.name : undefined;
  return stableGuest(container, name, (m) => process.stderr.write(`tsnet: warning: ${m}\n`));
}

/**
 * A tsnet container's own resolv.conf (the file bound onto its /etc/resolv.conf), where a lease's DNS servers
 * go; undefined when `ref` is not a running tsnet container (a named netns gets /etc/netns/NAME/resolv.conf).
 * The keeper rewrites it in place, so the bind mount shows the new content.
 */
export function engineResolvConf(ref: string): string | undefined {
  let c;
  try {
    c = findContainer(ref);
  } catch {
    return undefined; // an ambiguous prefix: resolveContainer says so
  }
  if (!c || c.state.status !== 'running') return undefined;
  const p = join(files.etc(c.config.id), 'resolv.conf');
  return existsSync(p) ? p : undefined;
}

type Outcome = { line: number; outcome: 'done' | 'skipped' | 'failed'; what: string };

async function restoreWords(kind: 'route' | 'rule', w: SavedWords): Promise<Outcome['outcome'] | string> {
  const { netnsPath } = await resolveContainer(w.container);
  const ns = Netns.open(netnsPath);
  try {
    if (kind === 'route') {
      const r = parseRouteWords(w.words, { needTarget: true });
      const present = (await ns.rtnl.routes({ table: r.table ?? 254 })).some(
        (x) => x.dst === (r.dst === 'default' ? 'default' : r.dst) && (!r.via || x.gateway === r.via),
      );
      if (present) return 'skipped';
      await addRoute(ns, r);
      return `route ${formatRoute(r)}`;
    }
    const r = parseRuleWords(w.words, w.family);
    const present = (await ns.rtnl.rules(r.family)).some(
      (x) => x.priority === r.priority && x.from === r.from && x.to === r.to && x.table === (r.table ?? x.table),
    );
    if (present) return 'skipped';
    await addRule(ns, r);
    return `rule ${formatRule(r)}`;
  } finally {
    ns.close();
  }
}

/** Replays a --save file in order, and says what became of each line. */
async function restore(file: string, json: boolean): Promise<void> {
  const entries = readSaved(file);
  const outcomes: Outcome[] = [];
  const say = (o: Outcome) => {
    outcomes.push(o);
    process.stdout.write(json ? `${JSON.stringify(o)}\n` : `${file}:${o.line}: ${o.outcome === 'done' ? '' : `${o.outcome}: `}${o.what}\n`);
  };
  for (const e of entries) {
    try {
      if ('req' in e) {
        const req = e.req;
        const { netnsPath } = await resolveContainer(req.container);
        const ns = Netns.open(netnsPath);
        const present = await ns.rtnl.findLink(req.ifname).finally(() => ns.close());
        if (present) {
          say({ line: e.line, outcome: 'skipped', what: `${req.ifname} already present in ${req.container}` });
          continue;
        }
        const resolvConf = req.dhcp ? engineResolvConf(req.container) : undefined;
        say({ line: e.line, outcome: 'done', what: describe(await attach(req, resolvConf ? { resolvConf } : {})) });
      } else {
        const kind = 'route' in e ? 'route' : 'rule';
        const w = 'route' in e ? e.route : e.rule;
        const r = await restoreWords(kind, w);
        say(
          r === 'skipped'
            ? { line: e.line, outcome: 'skipped', what: `${kind} ${w.words.join(' ')} already present in ${w.container}` }
            : { line: e.line, outcome: 'done', what: `added ${r} in ${w.container}` },
        );
      }
    } catch (err) {
      say({ line: e.line, outcome: 'failed', what: (err as Error).message });
    }
  }
  const failed = outcomes.filter((o) => o.outcome === 'failed').map((o) => String(o.line));
  if (failed.length)
    throw new PluginError(
      `--restore ${file}`,
      `${failed.length} of ${entries.length} lines failed (line${failed.length > 1 ? 's' : ''} ${failed.join(', ')})`,
      'see the messages above; fixed lines can be replayed again, present ones are skipped',
    );
}

/** The timed progress line while waiting for a lease: rewritten in place on a terminal, a line every 5 s otherwise. */
function progressLine(line: string, final: boolean): void {
  if (process.stderr.isTTY) {
    process.stderr.write(`\r\x1b[K${line}${final ? '\n' : ''}`);
    return;
  }
  const secs = /: (\d+)s$/.exec(line);
  if (!secs || Number(secs[1]) % 5 === 0) process.stderr.write(`${line}\n`);
}

/** The -f forms: the client stays in the foreground; Ctrl-C (or SIGTERM) releases the lease and detaches. */
async function holdInForeground(r: AttachResult): Promise<void> {
  process.stderr.write(`holding the lease in the foreground (pid ${r.keeper!.pid}); Ctrl-C releases it and detaches ${r.ifname}\n`);
  let stop = false;
  const onSignal = () => (stop = true);
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  while (!stop && processStart(r.keeper!.pid) === r.keeper!.start) await new Promise((res) => setTimeout(res, 200));
  await stopLeaseKeeper(r.keeper!);
  await detach({ container: r.netnsPath, ifname: r.ifname, missingOk: true });
  process.stderr.write(`released the lease and detached ${r.ifname} from ${r.container}\n`);
}

interface ListedAttachment extends AttachmentRecord {
  /** What the kernel says now: 'present', or why the record is stale. */
  state: string;
}

async function listAttachments(json: boolean): Promise<void> {
  const rows: ListedAttachment[] = [];
  for (const r of readAttachments()) {
    let state = 'present';
    try {
      const ns = Netns.open(r.netnsPath);
      try {
        if (ns.id() !== r.netns) state = 'stale: the container is gone';
        else {
          const l = await ns.rtnl.findLink(r.ifindex);
          if (!l || l.name !== r.ifname) state = `stale: ${r.ifname} is gone`;
        }
      } finally {
        ns.close();
      }
    } catch {
      state = 'stale: the container is gone';
    }
    if (state === 'present' && r.dhcp && processStart(r.dhcp.keeper.pid) !== r.dhcp.keeper.start) state = 'present, lease keeper gone';
    rows.push({ ...r, state });
  }
  if (json) {
    process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
    return;
  }
  const head = ['CONTAINER', 'IFNAME', 'HOST', 'ADDRESSES', 'GATEWAY', 'MAC', 'STATE'];
  const body = rows.map((r) => [
    r.container,
    r.ifname,
    r.mode === 'bridge'
      ? `${r.bridge} (${r.hostVeth})`
      : r.mode === 'phys'
        ? `NIC ${r.phys?.name ?? r.hostIf} (moved in)`
        : `macvlan of ${r.parent}`,
    (r.addresses.join(',') || '-') + (r.dhcp ? ` (${r.dhcp.client})` : ''),
    r.gateway ?? '-',
    r.mac,
    r.state,
  ]);
  const w = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  for (const line of [head, ...body])
    process.stdout.write(
      `${line
        .map((c, i) => c.padEnd(w[i]!))
        .join('  ')
        .trimEnd()}\n`,
    );
}

export function attachCommand(): Command {
  return new Command('attach')
    .description(
      "give a container an extra interface on a host bridge or NIC (pipework's syntax); 'tsnet attach ls [--json]' lists the attachments",
    )
    .usage(
      '[options] <hostif> <container> <ip>/<len>[@<gw>][,<ip>/<len>[@<gw>]…]|0/0 [<mac>|U:<string>][@<vlan>]  |  <hostif> <container> dhcp[:OPTS]|udhcpc[-f]|dhclient[-f]|dhcpcd[-f] [<mac>][@<vlan>]  |  ls  |  --restore FILE  |  --wait',
    )
    .argument('[args...]', '<hostif> <container> <ip>/<len>[@gw]|dhcp [mac][@vlan]')
    .option('-i, --ifname <name>', `interface name inside the container (default ${DEFAULT_IFNAME})`)
    .option('-l, --host-ifname <name>', 'name of the host end of the veth (default: generated)')
    .option(
      '--take-uplink',
      '<hostif> is a NIC: make a bridge holding it (moving its addresses and routes onto the bridge; detach of the last container undoes it)',
    )
    .option('--bridge <name>', 'bridge name for --take-uplink (default br0)')
    .option('--uplink <nic>', 'enslave this NIC into the bridge <hostif>, moving its addresses and routes')
    .option('--force', "use a NIC that carries the host's default route all the same (a macvlan of it, or as the uplink)")
    .option('-a, --address-family <4|6>', 'the addresses are IPv4 (4) or IPv6 (6); one of the other family is refused')
    .option('--create', 'make a missing <hostif> a bridge even though its name does not start with br')
    .option(
      '--direct-phys',
      "move the NIC <hostif> itself into the container (pipework's --direct-phys); detach gives it back to the host with its name, addresses, routes and up state",
    )
    .option('--save <file>', 'append the attachment to FILE, for --restore')
    .option('--restore <file>', 'replay the attachments saved in FILE')
    .option('--wait', 'inside a container: block until the interface (-i, default eth1) has carrier')
    .option('--timeout <seconds>', 'give up --wait or DHCP after this many seconds')
    .option('--json', 'print the result as JSON')
    .action(async (words: string[], f: AttachFlags) => {
      if (f.wait) {
        if (words.length)
          throw new PluginError(
            '--wait',
            `takes no positional arguments (got ${JSON.stringify(words.join(' '))})`,
            "run 'tsnet attach --wait [-i eth1]' inside the container",
          );
        const ifname = f.ifname ?? DEFAULT_IFNAME;
        checkIfname(ifname, 'container interface');
        const t = seconds(f.timeout, '--timeout');
        await waitForCarrier(ifname, t === undefined ? {} : { timeoutMs: t });
        return;
      }
      if (f.restore) {
        if (words.length)
          throw new PluginError(
            '--restore',
            `takes no positional arguments (got ${JSON.stringify(words.join(' '))})`,
            `run 'tsnet attach --restore ${f.restore}' alone`,
          );
        await restore(f.restore, !!f.json);
        return;
      }
      const opts: AttachOptions = {
        ...(f.ifname ? { ifname: f.ifname } : {}),
        ...(f.hostIfname ? { hostIfname: f.hostIfname } : {}),
        ...(f.takeUplink ? { takeUplink: true } : {}),
        ...(f.bridge ? { bridge: f.bridge } : {}),
        ...(f.uplink ? { uplink: f.uplink } : {}),
        ...(f.force ? { force: true } : {}),
        ...(f.create ? { create: true } : {}),
        ...(f.directPhys ? { directPhys: true } : {}),
        ...(f.addressFamily ? { family: f.addressFamily } : {}),
      };
      if (words.length === 1 && words[0] === 'ls') {
        await listAttachments(!!f.json);
        return;
      }
      const req = parseAttachArgs(words, opts);
      const t = seconds(f.timeout, '--timeout');
      const resolvConf = req.dhcp ? engineResolvConf(req.container) : undefined;
      const r = await attach(req, {
        ...(t === undefined ? {} : { dhcpTimeoutMs: t }),
        ...(resolvConf ? { resolvConf } : {}),
        progress: progressLine,
      });
      if (f.save) appendSaved(f.save, { ...req, container: savedGuestName(req.container) });
      process.stdout.write(f.json ? `${JSON.stringify(r)}\n` : `${describe(r)}\n`);
      if (r.keeper && req.dhcpForm && parseDhcpForm(req.dhcpForm)?.foreground) await holdInForeground(r);
    });
}

export function detachCommand(): Command {
  return new Command('detach')
    .description(
      'remove an interface that tsnet attach gave a container; when it was the last on a bridge that took a NIC ' +
        '(--take-uplink, --uplink), the NIC is given back with its addresses and routes, and a bridge tsnet made goes; ' +
        'a NIC moved in with --direct-phys goes back to the host under its name, with its addresses, routes and up state',
    )
    .argument('<container>', CONTAINER_ARG)
    .option('-i, --ifname <name>', `interface name inside the container (default ${DEFAULT_IFNAME})`)
    .option('--force', "delete the interface even if tsnet attach did not make it (the engine's eth0, a foreign one)")
    .option('--save <file>', 'take the attachment out of FILE (written by attach --save)')
    .action(async (container: string, f: { ifname?: string; force?: boolean; save?: string }) => {
      const ifname = f.ifname ?? DEFAULT_IFNAME;
      checkIfname(ifname, 'container interface');
      const saved = f.save ? savedGuestName(container) : undefined;
      await detach({ container, ifname, ...(f.force ? {} : { onlyRecorded: true }) });
      if (f.save) removeSaved(f.save, saved!, ifname);
      process.stdout.write(`detached ${ifname} from ${container}\n`);
    });
}

/** `tsnet attach` and `tsnet detach`, for the main program. */
export function attachCommands(): Command[] {
  return [attachCommand(), detachCommand()];
}
