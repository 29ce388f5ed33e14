// The lease keeper: one process per DHCP attachment that holds the lease for the life of the attachment, as
// the CNI `dhcp` plugin's daemon does. It runs the DHCP client in the container's netns (through
// tsnet-nsexec) in the foreground, never in its own configuration mode: the client only reports each event
// (bound, renew, rebind, expiry…) to a script of ours, and the keeper applies it over netlink — the address
// with the lease's lifetime (so it expires if no one renews it), the router as the default route, the DNS
// servers to the container's own resolv.conf or nowhere. No client ever writes the host's files.
//
// The keeper ends — releasing the lease (udhcpc -R) and taking its client with it — on SIGTERM (detach), when
// the interface goes, and when the container goes (its /run/netns/NAME is removed or replaced, or its pid
// exits). Its process group holds only it and its client, so `kill(-pid)` leaves nothing behind.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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

/** The client's argv (after its own argv prefix): foreground, events to `script`, never configuring itself. */
export function clientArgs(spec: Pick<KeeperSpec, 'kind' | 'ifname' | 'hostname' | 'options'>, script: string, dir: string): string[] {
  const h = spec.hostname;
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
      // -d foreground; -sf our script instead of dhclient-script (which writes /etc/resolv.conf).
      return [
        '-d',
        '-4',
        '-sf',
        script,
        '-pf',
        join(dir, 'dhclient.pid'),
        '-lf',
        join(dir, 'dhclient.leases'),
        ...(h ? ['-H', h] : []),
        ...spec.options,
        spec.ifname,
      ];
    case 'dhcpcd':
      // -B foreground; -c our script instead of dhcpcd-run-hooks (which write /etc/resolv.conf).
      return ['-B', '-4', '-c', script, ...(h ? ['-h', h] : []), ...spec.options, spec.ifname];
  }
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
  const dir = mkdtempSync(join(tmpdir(), 'tsnet-dhcp-'));
  const script = join(dir, 'event.sh');
  writeFileSync(script, SCRIPT, { mode: 0o700 });
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
    const argv = [spec.nsexec, spec.netnsPath, '--', ...spec.argv, ...clientArgs(spec, script, dir)];
    const c = spawn(argv[0]!, argv.slice(1), {
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
    if (c && c.exitCode === null) {
      c.kill('SIGTERM'); // udhcpc -R sends a DHCPRELEASE on its way out
      await new Promise<void>((r) => {
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
