// `tsnet attach … dhcp`: runs a DHCP client inside the container's netns (through tsnet-nsexec) until it
// has a lease, then makes sure no client process is left behind. udhcpc (or busybox's applet) only reports
// the lease to our script and tsnet applies it over netlink; dhcpcd and dhclient configure the interface
// themselves, as they do under pipework.
import { spawn } from 'node:child_process';
import { accessSync, constants, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import type { Netns } from '../../native/netns.js';
import { PluginError, AttachErrorCode } from '../shared/errors.js';
import { nsexecBinary } from './nsexec.js';

export type DhcpClientKind = 'udhcpc' | 'dhcpcd' | 'dhclient';
export interface DhcpClient {
  kind: DhcpClientKind;
  /** argv prefix: ['/usr/sbin/udhcpc'] or ['/bin/busybox', 'udhcpc']. */
  argv: string[];
}

function which(name: string, path = process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin'): string | undefined {
  for (const dir of [...path.split(delimiter), '/usr/sbin', '/sbin']) {
    if (!dir) continue;
    const p = join(dir, name);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      /* next */
    }
  }
  return undefined;
}

/** udhcpc, dhcpcd or dhclient from PATH, whichever exists first; then busybox's udhcpc applet. */
export function findDhcpClient(path?: string): DhcpClient {
  for (const kind of ['udhcpc', 'dhcpcd', 'dhclient'] as const) {
    const p = which(kind, path);
    if (p) return { kind, argv: [p] };
  }
  const bb = which('busybox', path);
  if (bb) return { kind: 'udhcpc', argv: [bb, 'udhcpc'] };
  throw new PluginError(
    'dhcp',
    'no DHCP client found (looked for udhcpc, dhcpcd, dhclient and busybox in PATH)',
    'install one (e.g. apt-get install udhcpc or isc-dhcp-client), or give a static IP/LEN[@GW]',
    AttachErrorCode.Dhcp,
  );
}

const UDHCPC_SCRIPT =
  '#!/bin/sh\ncase "$1" in bound|renew) env > "$TSNET_LEASE.tmp" && mv "$TSNET_LEASE.tmp" "$TSNET_LEASE" ;; esac\nexit 0\n';

function maskLen(mask: string): number {
  return mask.split('.').reduce((n, o) => n + (Number(o) >>> 0).toString(2).replace(/0/g, '').length, 0);
}

export interface Lease {
  address: string;
  gateway?: string;
}

/** Runs argv to completion (or timeout) in its own process group, then kills whatever is left of the group. */
function runGroup(
  argv: string[],
  env: NodeJS.ProcessEnv,
  timeoutMs: number,
): Promise<{ code: number | null; stderr: string; timedOut: boolean }> {
  return new Promise((resolveRun, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), { env, detached: true, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    let timedOut = false;
    child.stderr!.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-4000);
    });
    const kill = () => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        /* group already gone */
      }
    };
    const timer = setTimeout(() => {
      timedOut = true;
      kill();
    }, timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      kill();
      resolveRun({ code, stderr, timedOut });
    });
  });
}

function killPidFile(file: string): void {
  try {
    const pid = Number(readFileSync(file, 'utf8').trim());
    if (pid > 1) process.kill(pid, 'SIGTERM');
  } catch {
    /* no daemon left */
  }
}

/**
 * Gets a lease for ifname inside ctr (which must be up) and leaves the interface configured with it.
 * No client process survives this call.
 */
export async function runDhcp(
  ctr: Netns,
  ifname: string,
  opts: { timeoutMs?: number; client?: DhcpClient; hostname?: string } = {},
): Promise<Lease> {
  const client = opts.client ?? findDhcpClient();
  const nsPath = ctr.path ?? '/proc/self/ns/net';
  const nsexec = nsexecBinary();
  const dir = mkdtempSync(join(tmpdir(), 'tsnet-dhcp-'));
  const timeoutMs = opts.timeoutMs ?? 30_000;
  try {
    const lease = join(dir, 'lease.env');
    const pidfile = join(dir, 'client.pid');
    let args: string[];
    switch (client.kind) {
      case 'udhcpc': {
        const script = join(dir, 'script.sh');
        writeFileSync(script, UDHCPC_SCRIPT, { mode: 0o755 });
        const tries = String(Math.max(1, Math.floor(timeoutMs / 3000)));
        args = [
          '-f',
          '-q',
          '-n',
          '-i',
          ifname,
          '-t',
          tries,
          '-T',
          '2',
          '-s',
          script,
          ...(opts.hostname ? ['-x', `hostname:${opts.hostname}`] : []),
        ];
        break;
      }
      case 'dhcpcd':
        args = ['-1', '-q', '-4', '-t', String(Math.ceil(timeoutMs / 1000)), ...(opts.hostname ? ['-h', opts.hostname] : []), ifname];
        break;
      case 'dhclient':
        args = ['-1', '-4', '-pf', pidfile, '-lf', join(dir, 'dhclient.leases'), ifname];
        break;
    }
    const r = await runGroup([nsexec, nsPath, '--', ...client.argv, ...args], { ...process.env, TSNET_LEASE: lease }, timeoutMs);
    killPidFile(pidfile); // dhclient daemonizes (new session) after the lease: stop it, as pipework does
    if (r.timedOut || r.code !== 0)
      throw new PluginError(
        `dhcp on ${ifname} in ${ctr.label}`,
        r.timedOut
          ? `${client.kind} got no lease within ${timeoutMs / 1000}s`
          : `${client.kind} exited with status ${r.code}${r.stderr.trim() ? `: ${r.stderr.trim().split('\n').slice(-2).join(' / ')}` : ''}`,
        'check that a DHCP server answers on that segment, or give a static IP/LEN[@GW]',
        AttachErrorCode.Dhcp,
      );
    if (client.kind === 'udhcpc') {
      if (!existsSync(lease))
        throw new PluginError(
          `dhcp on ${ifname} in ${ctr.label}`,
          'udhcpc exited without reporting a lease',
          'check the DHCP server, or give a static IP/LEN[@GW]',
          AttachErrorCode.Dhcp,
        );
      const env = Object.fromEntries(
        readFileSync(lease, 'utf8')
          .split('\n')
          .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
      ) as Record<string, string>;
      if (!env.ip)
        throw new PluginError(
          `dhcp on ${ifname} in ${ctr.label}`,
          'the lease has no address',
          'check the DHCP server configuration',
          AttachErrorCode.Dhcp,
        );
      const address = `${env.ip}/${env.mask ? Number(env.mask) : env.subnet ? maskLen(env.subnet) : 24}`;
      const gateway = env.router?.split(/\s+/)[0] || undefined;
      await ctr.rtnl.addAddress(ifname, address, {}, true);
      if (gateway) await ctr.rtnl.replaceRoute({ dst: 'default', gateway, oif: await ctr.rtnl.index(ifname) });
      return { address, ...(gateway ? { gateway } : {}) };
    }
    const addr = (await ctr.rtnl.addresses({ link: ifname, family: 2 }))[0];
    if (!addr)
      throw new PluginError(
        `dhcp on ${ifname} in ${ctr.label}`,
        `${client.kind} finished but ${ifname} has no IPv4 address`,
        'check the DHCP server',
        AttachErrorCode.Dhcp,
      );
    const def = (await ctr.rtnl.routes({ family: 2 })).find((x) => x.dst === 'default');
    return { address: addr.cidr, ...(def?.gateway ? { gateway: def.gateway } : {}) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
