// The lease keeper: one process per DHCP attachment that holds the lease for the life of the attachment, as
// the CNI `dhcp` plugin's daemon does. It runs the DHCP client in the container's netns (through
// tsnet-nsexec) in the foreground, never in its own configuration mode: the client only reports each event
// (bound, renew, rebind, expiry…) to a script of ours, and the keeper applies it over netlink — the address
// with the lease's lifetime (so it expires if no one renews it), the router as the default route, the DNS
// servers to the container's own resolv.conf or nowhere. No client ever writes the host's files.
//
// The client runs with its own configuration file and in a mount namespace of its own where /run, its
// database directory and /etc/resolv.conf are private (clientMounts): whatever it or a hook writes, the host's
// files stay as they were.
//
// The keeper ends — releasing the lease (udhcpc -R, dhcpcd's `release`, dhclient -r) and taking its client
// with it — on SIGTERM (detach), when the interface goes, and when the container goes (its /run/netns/NAME is
// removed or replaced, or its pid exits). Its process group holds only it and its client, so `kill(-pid)`
// leaves nothing behind.
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { childProcess } from '../../common/builtins.js';
import { Netns } from '../../native/netns.js';

export type DhcpClientKind = 'udhcpc' | 'dhcpcd' | 'dhclient';

/** How the keeper knows the container is still there. */
export interface Guard {
  /** A bind-mounted netns file (/run/netns/NAME): gone or another inode means the container is gone. */
  path?: string;
  dev?: number;
  ino?: number;
  /** A process whose netns it is: gone (or another process with that pid) means the container is gone. */
  pid?: number;
  starttime?: string;
}

export interface KeeperSpec {
  netnsPath: string;
  ifname: string;
  ifindex: number;
  kind: DhcpClientKind;
  argv: string[];
  nsexec: string;
  hostname?: string;
  /** Extra client options (pipework's dhcp:OPTIONS / udhcpc:OPTIONS). */
  options: string[];
  guard: Guard;
  /** Where the lease's DNS servers go (the container's own resolv.conf); absent: nowhere. */
  resolvConf?: string;
  /** Give up (and exit) when there is no first lease within this many ms. */
  timeoutMs: number;
}

/** What the keeper reports on stdout (one JSON line), once: the first lease or why there is none. */
export type KeeperReport = { bound: { address: string; gateway?: string; lease?: number; dns?: string[] } } | { failed: string };

export function processStart(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

export function guardFor(netnsPath: string): Guard {
  const m = /^\/proc\/(\d+)\/ns\/net$/.exec(netnsPath);
  if (m) {
    const pid = Number(m[1]);
    const starttime = processStart(pid);
    return { pid, ...(starttime ? { starttime } : {}) };
  }
  const st = statSync(netnsPath);
  return { path: netnsPath, dev: st.dev, ino: st.ino };
}

export function guardHolds(g: Guard): boolean {
  if (g.pid !== undefined) {
    const s = processStart(g.pid);
    return s !== undefined && (g.starttime === undefined || s === g.starttime);
  }
  if (g.path) {
    try {
      const st = statSync(g.path);
      return st.ino === g.ino && st.dev === g.dev;
    } catch {
      return false;
    }
  }
  return true;
}

const BEGIN = '@@tsnet-lease-begin';
const END = '@@tsnet-lease-end';
/** The client's event script: prints the event and its environment, framed, on the client's stdout. */
const SCRIPT = `#!/bin/sh\necho "${BEGIN} $1"\nenv\necho "${END}"\nexit 0\n`;

function maskLen(mask: string): number {
  return mask.split('.').reduce((n, o) => n + (Number(o) >>> 0).toString(2).replace(/0/g, '').length, 0);
}

export interface LeaseEvent {
  /** 'bound' (a lease to apply), 'lost' (the address must go), or 'other'. */
  kind: 'bound' | 'lost' | 'other';
  address?: string;
  gateway?: string;
  lease?: number;
  dns?: string[];
  old?: string;
}

/** Reads one script event of udhcpc ($1 and its variables) or of dhclient/dhcpcd ($reason and new_*). */
export function parseLeaseEvent(kind: DhcpClientKind, arg: string, env: Record<string, string>): LeaseEvent {
  if (kind === 'udhcpc') {
    if (arg === 'bound' || arg === 'renew') {
      if (!env.ip) return { kind: 'other' };
      const len = env.mask ? Number(env.mask) : env.subnet ? maskLen(env.subnet) : 24;
      const gateway = env.router?.split(/\s+/)[0];
      const dns = env.dns?.split(/\s+/).filter(Boolean);
      return {
        kind: 'bound',
        address: `${env.ip}/${len}`,
        ...(gateway ? { gateway } : {}),
        ...(env.lease ? { lease: Number(env.lease) } : {}),
        ...(dns?.length ? { dns } : {}),
      };
    }
    return arg === 'deconfig' ? { kind: 'lost' } : { kind: 'other' };
  }
  const reason = env.reason ?? arg;
  if (['BOUND', 'RENEW', 'REBIND', 'REBOOT', 'BOUND6', 'RENEW6', 'REBIND6'].includes(reason) && env.new_ip_address) {
    const len = env.new_subnet_cidr ? Number(env.new_subnet_cidr) : env.new_subnet_mask ? maskLen(env.new_subnet_mask) : 24;
    const gateway = env.new_routers?.split(/\s+/)[0];
    const dns = env.new_domain_name_servers?.split(/\s+/).filter(Boolean);
    return {
      kind: 'bound',
      address: `${env.new_ip_address}/${len}`,
      ...(gateway ? { gateway } : {}),
      ...(env.new_dhcp_lease_time ? { lease: Number(env.new_dhcp_lease_time) } : {}),
      ...(dns?.length ? { dns } : {}),
      ...(env.old_ip_address && env.old_ip_address !== env.new_ip_address ? { old: env.old_ip_address } : {}),
    };
  }
  if (['EXPIRE', 'FAIL', 'RELEASE', 'STOP', 'NAK', 'STOPPED', 'EXPIRE6', 'RELEASE6'].includes(reason)) return { kind: 'lost' };
  return { kind: 'other' };
}

/**
 * The client's own configuration file, written into the keeper's directory (so the host's
 * /etc/dhcp/dhclient.conf or /etc/dhcpcd.conf, with their hooks and `persistent`, never apply): the hostname
 * sent is the container's, and dhcpcd releases its lease when it stops. udhcpc takes all of it on its command
 * line (undefined).
 */
export function clientConfig(spec: Pick<KeeperSpec, 'kind' | 'hostname'>): string | undefined {
  const h = spec.hostname;
  switch (spec.kind) {
    case 'udhcpc':
      return undefined;
    case 'dhclient':
      return [
        ...(h ? [`send host-name "${h}";`] : []),
        'request subnet-mask, broadcast-address, time-offset, routers, domain-name, domain-name-servers, domain-search, interface-mtu;',
        '',
      ].join('\n');
    case 'dhcpcd':
      // release: a DHCPRELEASE when it stops; nogateway: the keeper sets the default route (one, not two).
      return [
        ...(h ? [`hostname ${h}`] : []),
        'release',
        'nogateway',
        'noipv4ll',
        'option domain_name_servers, domain_name, domain_search, interface_mtu',
        '',
      ].join('\n');
  }
}

/** The file name of clientConfig's file in the keeper's directory. */
export const CONFIG_FILE = 'client.conf';

/**
 * The client's argv (after its own argv prefix): foreground, events to `script`, never configuring the host.
 * `release`: dhclient's second invocation that makes the running one release its lease and stop.
 */
export function clientArgs(
  spec: Pick<KeeperSpec, 'kind' | 'ifname' | 'hostname' | 'options'>,
  script: string,
  dir: string,
  release = false,
): string[] {
  const h = spec.hostname;
  const conf = join(dir, CONFIG_FILE);
  switch (spec.kind) {
    case 'udhcpc':
      // -f foreground, -R release on exit; retries forever (no -n/-q): the lease is held, not just taken.
      return [
        '-f',
        '-R',
        '-i',
        spec.ifname,
        '-s',
        script,
        '-t',
        '3',
        '-T',
        '2',
        '-A',
        '3',
        ...(h ? ['-x', `hostname:${h}`] : []),
        ...spec.options,
      ];
    case 'dhclient':
      // -d foreground; -sf our script instead of dhclient-script (which writes /etc/resolv.conf); every file it
      // keeps (pid, leases, DUID, configuration) in the keeper's directory. -r: release and stop the running one.
      return [
        ...(release ? ['-r'] : ['-d']),
        '-4',
        '-cf',
        conf,
        '-sf',
        script,
        '-pf',
        join(dir, 'dhclient.pid'),
        '-lf',
        join(dir, 'dhclient.leases'),
        '-df',
        join(dir, 'dhclient.duid'),
        ...(release ? [] : spec.options),
        spec.ifname,
      ];
    case 'dhcpcd':
      // -B foreground; -f our configuration; -c our script instead of dhcpcd-run-hooks (which write
      // /etc/resolv.conf). Its database and run directories are private to it (clientMounts).
      return ['-B', '-4', '-f', conf, '-c', script, ...spec.options, spec.ifname];
  }
}

/**
 * What the client sees of the host's files: a mount namespace of its own (through tsnet-nsexec) with empty
 * tmpfs on /run and on the clients' database directories, and the keeper's own empty file over
 * /etc/resolv.conf — whatever a client (or a hook a user option brings in) writes there, the host's files
 * stay as they were. `dir` (the keeper's, holding the script) must not be under any of them.
 */
export function clientMounts(dir: string): string[] {
  return [
    '--tmpfs',
    '/run',
    '--tmpfs',
    '/var/lib/dhcpcd',
    '--tmpfs',
    '/var/lib/dhcp',
    '--bind',
    `${join(dir, 'resolv.conf')}:/etc/resolv.conf`,
  ];
}

const PRIVATE_DIRS = ['/run', '/var/run', '/var/lib/dhcpcd', '/var/lib/dhcp'];

/** The keeper's directory: under the temporary directory, unless that is hidden from the client. */
function keeperDir(): string {
  const base = tmpdir();
  const hidden = PRIVATE_DIRS.some((d) => base === d || base.startsWith(`${d}/`));
  return mkdtempSync(join(hidden ? '/tmp' : base, 'tsnet-dhcp-'));
}

function log(msg: string): void {
  try {
    process.stderr.write(`tsnet-dhcp-keeper[${process.pid}]: ${msg}\n`);
  } catch {
    /* no one listens any more */
  }
}

/** Runs the keeper until the attachment, the container or the keeper itself is told to go. */
export async function runKeeper(spec: KeeperSpec): Promise<void> {
  const ns = Netns.open(spec.netnsPath);
  const dir = keeperDir();
  const script = join(dir, 'event.sh');
  writeFileSync(script, SCRIPT, { mode: 0o700 });
  writeFileSync(join(dir, 'resolv.conf'), '');
  const conf = clientConfig(spec);
  if (conf !== undefined) writeFileSync(join(dir, CONFIG_FILE), conf);
  let child: ChildProcess | undefined;
  let stopping = false;
  let reported = false;
  let applied: string | undefined;
  const report = (r: KeeperReport) => {
    if (reported) return;
    reported = true;
    try {
      process.stdout.write(`${JSON.stringify(r)}\n`);
    } catch {
      /* the attach command is gone */
    }
  };
  process.stdout.on('error', () => undefined);
  process.stderr.on('error', () => undefined);

  const apply = async (ev: LeaseEvent) => {
    if (ev.kind === 'bound' && ev.address) {
      const lft = ev.lease && ev.lease > 0 ? { validLft: ev.lease, preferredLft: ev.lease } : {};
      if (applied && applied !== ev.address) await ns.rtnl.deleteAddress(spec.ifindex, applied).catch(() => undefined);
      await ns.rtnl.addAddress(spec.ifindex, ev.address, lft, true);
      applied = ev.address;
      if (ev.gateway) await ns.rtnl.replaceRoute({ dst: 'default', gateway: ev.gateway, oif: spec.ifindex });
      if (spec.resolvConf && ev.dns?.length) {
        try {
          writeFileSync(spec.resolvConf, ev.dns.map((d) => `nameserver ${d}\n`).join(''));
        } catch (e) {
          log(`cannot write ${spec.resolvConf}: ${(e as Error).message}`);
        }
      }
      report({
        bound: {
          address: ev.address,
          ...(ev.gateway ? { gateway: ev.gateway } : {}),
          ...(ev.lease ? { lease: ev.lease } : {}),
          ...(ev.dns ? { dns: ev.dns } : {}),
        },
      });
    } else if (ev.kind === 'lost' && applied) {
      await ns.rtnl.deleteAddress(spec.ifindex, applied).catch(() => undefined);
      applied = undefined;
    }
  };

  let chain = Promise.resolve();
  const start = () => {
    const argv = [spec.nsexec, ...clientMounts(dir), spec.netnsPath, '--', ...spec.argv, ...clientArgs(spec, script, dir)];
    const c = childProcess().spawn(argv[0]!, argv.slice(1), {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin' },
    });
    child = c;
    let buf = '';
    let block: { arg: string; lines: string[] } | undefined;
    c.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (line.startsWith(BEGIN)) block = { arg: line.slice(BEGIN.length).trim(), lines: [] };
        else if (line === END && block) {
          const env: Record<string, string> = {};
          for (const l of block.lines) {
            const eq = l.indexOf('=');
            if (eq > 0) env[l.slice(0, eq)] = l.slice(eq + 1);
          }
          const ev = parseLeaseEvent(spec.kind, block.arg, env);
          block = undefined;
          chain = chain.then(() => apply(ev)).catch((e) => log(`applying the lease failed: ${(e as Error).message}`));
        } else if (block) block.lines.push(line);
      }
    });
    c.stderr!.on('data', () => undefined);
    c.on('exit', (code) => {
      if (child === c) child = undefined;
      if (!stopping) {
        log(`${spec.kind} exited (${code}); restarting it`);
        setTimeout(() => {
          if (!stopping) start();
        }, 1000);
      }
    });
  };

  let resolveDone: () => void;
  const done = new Promise<void>((r) => (resolveDone = r));
  const stop = async (why: string) => {
    if (stopping) return;
    stopping = true;
    log(`stopping: ${why}`);
    clearInterval(poll);
    clearTimeout(firstLease);
    const c = child;
    const running = (p: ChildProcess) => p.exitCode === null && p.signalCode === null;
    if (c && running(c)) {
      if (spec.kind === 'dhclient') {
        // dhclient releases only when told to by a second invocation (-r), which stops the running one.
        const argv = [spec.nsexec, ...clientMounts(dir), spec.netnsPath, '--', ...spec.argv, ...clientArgs(spec, script, dir, true)];
        const rel = childProcess().spawn(argv[0]!, argv.slice(1), {
          stdio: 'ignore',
          env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin' },
        });
        await new Promise<void>((r) => {
          const t = setTimeout(() => {
            rel.kill('SIGKILL');
            r();
          }, 10_000); // dhclient -r waits for the running one to go (about a second), then releases
          rel.once('exit', () => {
            clearTimeout(t);
            r();
          });
          rel.once('error', () => {
            clearTimeout(t);
            r();
          });
        });
      }
      // udhcpc -R and dhcpcd (release in its configuration) send a DHCPRELEASE on their way out
      if (running(c)) c.kill('SIGTERM');
      await new Promise<void>((r) => {
        if (!running(c)) return r();
        const t = setTimeout(() => {
          c.kill('SIGKILL');
          r();
        }, 3000);
        c.once('exit', () => {
          clearTimeout(t);
          r();
        });
      });
    }
    await chain;
    ns.close();
    rmSync(dir, { recursive: true, force: true });
    resolveDone();
  };
  process.on('SIGTERM', () => void stop('told to (detach)'));
  process.on('SIGINT', () => void stop('interrupted'));
  process.on('SIGHUP', () => undefined);
  const firstLease = setTimeout(() => {
    if (reported) return;
    report({ failed: `${spec.kind} got no lease within ${Math.round(spec.timeoutMs / 1000)}s` });
    void stop('no lease');
  }, spec.timeoutMs);
  const poll = setInterval(() => {
    if (!guardHolds(spec.guard)) return void stop('the container is gone');
    ns.rtnl
      .findLink(spec.ifindex)
      .then((l) => {
        if (!l || l.name !== spec.ifname) void stop(`${spec.ifname} is gone`);
      })
      .catch(() => void stop('its netns is unreadable'));
  }, 1000);
  start();
  await done;
}
