// `tsnet attach … dhcp`: which client (pipework's forms), and the lease keeper that holds the lease for the
// life of the attachment (dhcp-keeper.ts): started here, its first lease awaited with a progress line, and
// stopped by detach (the client releases the lease).
import { accessSync, constants, existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { childProcess } from '../../common/builtins.js';
import type { Netns } from '../../native/netns.js';
import { PluginError, AttachErrorCode } from '../shared/errors.js';
import { nsexecBinary } from './nsexec.js';
import { guardFor, processStart, type DhcpClientKind, type KeeperReport, type KeeperSpec } from './dhcp-keeper.js';

export type { DhcpClientKind };
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

export interface Lease {
  address: string;
  gateway?: string;
  /** Lease time in seconds, as the server gave it. */
  lease?: number;
  dns?: string[];
  /** The keeper process holding the lease (its process group holds the client too). */
  keeper: { pid: number; start?: string };
}

/** pipework's DHCP forms: dhcp[:OPTIONS], udhcpc[-f][:OPTIONS], dhclient[-f][:OPTIONS], dhcpcd[-f][:OPTIONS]. */
export interface DhcpForm {
  /** 'dhcp': whichever client is installed (udhcpc or busybox's first); otherwise that client. */
  client: 'dhcp' | DhcpClientKind;
  /** The -f forms: the client stays in the foreground of `tsnet attach`, which holds the lease until interrupted. */
  foreground: boolean;
  options: string[];
}

export const DHCP_FORM_RE = /^(dhcp|udhcpc|udhcpc-f|dhclient|dhclient-f|dhcpcd|dhcpcd-f)(?::(.*))?$/;

export function parseDhcpForm(word: string): DhcpForm | undefined {
  const m = DHCP_FORM_RE.exec(word);
  if (!m) return undefined;
  const name = m[1]!;
  const foreground = name.endsWith('-f');
  return {
    client: (foreground ? name.slice(0, -2) : name) as DhcpForm['client'],
    foreground,
    options: (m[2] ?? '').split(/\s+/).filter(Boolean),
  };
}

/** The client a form asks for: that client, or (form 'dhcp') the first installed. */
export function clientForForm(form: DhcpForm, path?: string): DhcpClient {
  if (form.client === 'dhcp') return findDhcpClient(path);
  const p = which(form.client, path);
  if (p) return { kind: form.client, argv: [p] };
  const bb = form.client === 'udhcpc' ? which('busybox', path) : undefined;
  if (bb) return { kind: 'udhcpc', argv: [bb, 'udhcpc'] };
  throw new PluginError(
    'dhcp',
    `you asked for the DHCP client ${form.client}, but it is not installed (not in PATH${form.client === 'udhcpc' ? ', and no busybox' : ''})`,
    `install it (${form.client === 'dhclient' ? 'apt-get install isc-dhcp-client' : form.client === 'dhcpcd' ? 'apt-get install dhcpcd5' : 'apt-get install udhcpc'}), or write 'dhcp' to use whichever client is installed`,
    AttachErrorCode.Dhcp,
  );
}

function keeperScript(): string {
  const p = fileURLToPath(new URL('./dhcp-keeper-main.js', import.meta.url));
  if (!existsSync(p))
    throw new PluginError(
      'dhcp',
      `the lease keeper ${p} is missing (this build of tsnet cannot hold a lease)`,
      'run tsnet from its build (npm run build), or give a static IP/LEN[@GW]',
      AttachErrorCode.Unsupported,
    );
  return p;
}

export interface DhcpOptions {
  timeoutMs?: number;
  client?: DhcpClient;
  form?: DhcpForm;
  hostname?: string;
  /** The container's own resolv.conf, for the lease's DNS servers; absent: they go nowhere. */
  resolvConf?: string;
  /** Progress lines while waiting (default: none). */
  progress?: (line: string, final: boolean) => void;
}

/**
 * Starts the lease keeper for ifname inside ctr (which must be up) and waits for its first lease, which it
 * has applied by then. The keeper holds the lease until stopLeaseKeeper, the interface or the container goes.
 */
export async function startLeaseKeeper(ctr: Netns, ifname: string, ifindex: number, opts: DhcpOptions = {}): Promise<Lease> {
  const form = opts.form ?? { client: 'dhcp', foreground: false, options: [] };
  const client = opts.client ?? clientForForm(form);
  const netnsPath = ctr.path ?? '/proc/self/ns/net';
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const spec: KeeperSpec = {
    netnsPath,
    ifname,
    ifindex,
    kind: client.kind,
    argv: client.argv,
    nsexec: nsexecBinary(),
    ...(opts.hostname ? { hostname: opts.hostname } : {}),
    options: form.options,
    guard: guardFor(netnsPath),
    ...(opts.resolvConf ? { resolvConf: opts.resolvConf } : {}),
    timeoutMs,
  };
  const what = `${ifname} in ${ctr.label}`;
  const child = childProcess().spawn(process.execPath, [keeperScript(), JSON.stringify(spec)], {
    detached: true,
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  const t0 = Date.now();
  opts.progress?.(`waiting for a DHCP lease on ${what} (${client.kind}, up to ${Math.round(timeoutMs / 1000)}s)`, false);
  const tick = setInterval(
    () => opts.progress?.(`waiting for a DHCP lease on ${what}: ${Math.round((Date.now() - t0) / 1000)}s`, false),
    1000,
  );
  try {
    const report = await new Promise<KeeperReport>((resolveReport) => {
      let buf = '';
      child.stdout!.on('data', (d: Buffer) => {
        buf += d.toString();
        const nl = buf.indexOf('\n');
        if (nl >= 0) {
          try {
            resolveReport(JSON.parse(buf.slice(0, nl)) as KeeperReport);
          } catch {
            resolveReport({ failed: `the lease keeper said ${JSON.stringify(buf.slice(0, nl))}` });
          }
        }
      });
      child.on('exit', (code) => resolveReport({ failed: `the lease keeper exited (status ${code}) before a lease` }));
      child.on('error', (e) => resolveReport({ failed: `the lease keeper did not start: ${e.message}` }));
    });
    if ('failed' in report) {
      await stopLeaseKeeper({ pid: child.pid! });
      throw new PluginError(
        `dhcp on ${what}`,
        report.failed,
        'check that a DHCP server answers on that segment, or give a static IP/LEN[@GW]',
        AttachErrorCode.Dhcp,
      );
    }
    opts.progress?.(`DHCP lease ${report.bound.address} on ${what} after ${((Date.now() - t0) / 1000).toFixed(1)}s`, true);
    child.stdout!.destroy();
    child.unref();
    const start = processStart(child.pid!);
    return { ...report.bound, keeper: { pid: child.pid!, ...(start ? { start } : {}) } };
  } finally {
    clearInterval(tick);
  }
}

/**
 * Stops a lease keeper and its client (the client releases the lease); waits until the group is gone. The
 * keeper bounds its own stop (a release of at most 10 s, then 3 s for its client to exit), so the group is
 * killed only after that, on a loaded machine too: killed earlier, a client would not have released its lease.
 */
export async function stopLeaseKeeper(k: { pid: number; start?: string }, timeoutMs = 20_000): Promise<void> {
  if (k.start !== undefined && processStart(k.pid) !== k.start) return; // gone (and the pid maybe reused)
  const alive = () => {
    try {
      process.kill(-k.pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  try {
    process.kill(-k.pid, 'SIGTERM');
  } catch {
    return;
  }
  const t0 = Date.now();
  while (alive() && Date.now() - t0 < timeoutMs) await new Promise((r) => setTimeout(r, 50));
  if (alive()) {
    try {
      process.kill(-k.pid, 'SIGKILL');
    } catch {
      /* gone meanwhile */
    }
  }
}
