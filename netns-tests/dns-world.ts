// Test world for container DNS: a namespace that plays the host, with a mount namespace of its own in which
// /etc/resolv.conf is the test's ("the host's resolver"), so the tsnet-dns resolver, started from inside, sees
// that file — as it would see the real one — and forwards to a resolver the test runs: dnsmasq on 127.0.0.53
// of the host namespace, a loopback stub as systemd-resolved's. No query leaves the namespaces the test made.
// The engine runs inside both namespaces (nsenter), with a private TSNET_ROOT.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { CLI, type Out } from '../engine/testing/cli.js';
import { sh, world, type World } from './harness.js';

export const hasDnsmasq = existsSync('/usr/sbin/dnsmasq');

/** The resolver's processes for a DNS state dir: pid → 'supervisor' | 'worker', from /proc. */
export function resolverProcesses(dnsDir: string): Map<number, 'supervisor' | 'worker'> {
  const out = new Map<number, 'supervisor' | 'worker'>();
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    let argv: string[];
    try {
      argv = readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0');
    } catch {
      continue;
    }
    const i = argv.findIndex((a) => a === 'serve' || a === 'serve-worker');
    if (i > 0 && argv[i + 1] === dnsDir && argv[i - 1]!.endsWith('tsnet-dns'))
      out.set(Number(p), argv[i] === 'serve' ? 'supervisor' : 'worker');
  }
  return out;
}

export function pidOf(procs: Map<number, string>, role: string): number | undefined {
  return [...procs].find(([, r]) => r === role)?.[0];
}

/** Sockets bound to port 53 (UDP, or TCP listening) in a namespace, as `ss` reports them, less the test's stub resolver on 127.0.0.53. */
export function port53Sockets(netns: string): string[] {
  const r = spawnSync('ip', ['netns', 'exec', netns, 'ss', '-Hlnut', 'sport = :53'], { encoding: 'utf8' });
  return r.stdout
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.includes('127.0.0.53:53'));
}

export interface DnsWorld {
  w: World;
  /** The namespace that plays the host. */
  host: string;
  root: string;
  dnsDir: string;
  /** `tsnet ARGS` inside the host's namespaces. */
  tsnet(...args: string[]): Out;
  ok(...args: string[]): string;
  /** A command inside the host's namespaces. */
  run(cmd: string, ...args: string[]): Out;
  inspect(ref: string): any;
}

async function waitFor(what: string, cond: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * The world: host namespace (lo up), its mount namespace with the test's resolv.conf (`nameserver
 * 127.0.0.53`), dnsmasq there answering `upstreamNames` (name → IPv4) and NXDOMAIN for anything else.
 */
export async function dnsWorld(t: TestContext, upstreamNames: Record<string, string>): Promise<DnsWorld> {
  const w = world(t);
  const host = w.netns('dnshost');
  sh('ip', '-n', host, 'link', 'set', 'lo', 'up');
  const dir = w.tmpdir();
  const root = join(dir, 'root');
  const resolv = join(dir, 'resolv.conf');
  writeFileSync(resolv, 'nameserver 127.0.0.53\noptions edns0\n');

  // dnsmasq as the host's stub resolver, on 127.0.0.53 of the host namespace only.
  const dnsmasq = spawn(
    'ip',
    [
      'netns',
      'exec',
      host,
      '/usr/sbin/dnsmasq',
      '--keep-in-foreground',
      '--conf-file=/dev/null',
      '--no-resolv',
      '--no-hosts',
      '--bind-interfaces',
      '--listen-address=127.0.0.53',
      '--user=root',
      '--pid-file=',
      ...Object.entries(upstreamNames).map(([n, ip]) => `--address=/${n}/${ip}`),
      '--address=/#/',
    ],
    { stdio: 'ignore' },
  );
  w.defer(() => void dnsmasq.kill('SIGKILL'));

  // The mount namespace: /etc/resolv.conf is the test's; mounts made inside (the engine's netns files) stay inside.
  const holder: ChildProcess = spawn(
    'unshare',
    ['--mount', '--propagation', 'slave', 'sh', '-c', `mount --bind ${resolv} /etc/resolv.conf && echo ready && exec sleep 3600`],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let ready = '';
  holder.stdout!.setEncoding('utf8');
  holder.stdout!.on('data', (d: string) => (ready += d));
  await waitFor('the mount namespace', () => ready.includes('ready'));
  const enter = [`--mount=/proc/${holder.pid}/ns/mnt`, `--net=/run/netns/${host}`];
  const env = { ...process.env, TSNET_ROOT: root };
  const run = (cmd: string, ...args: string[]): Out => {
    const r = spawnSync('nsenter', [...enter, cmd, ...args], { env, encoding: 'utf8', timeout: 60_000 });
    return { status: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
  };
  const tsnet = (...args: string[]) => run(process.execPath, CLI, ...args);
  const ok = (...args: string[]) => {
    const r = tsnet(...args);
    if (r.status !== 0) throw new Error(`tsnet ${args.join(' ')} exited ${r.status}: ${r.stderr}${r.stdout}`);
    return r.stdout;
  };
  const dnsDir = join(root, 'dns');
  // Cleanup, in reverse: containers, networks, then anything of the resolver still there, then the holder.
  w.defer(() => {
    holder.kill('SIGKILL');
  });
  w.defer(() => {
    for (const pid of resolverProcesses(dnsDir).keys()) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  });
  w.defer(() => {
    const ids = existsSync(join(root, 'containers')) ? readdirSync(join(root, 'containers')) : [];
    for (const id of ids) tsnet('rm', '-f', id);
    for (const n of tsnet('network', 'ls', '-q').stdout.split('\n').filter(Boolean)) tsnet('network', 'rm', '-f', n);
  });
  await waitFor('dnsmasq', () =>
    spawnSync('ip', ['netns', 'exec', host, 'ss', '-Hlun', 'sport = :53']).stdout.toString().includes('127.0.0.53'),
  );
  const inspect = (ref: string) => JSON.parse(ok('inspect', ref))[0];
  return { w, host, root, dnsDir, tsnet, ok, run, inspect };
}

/** What `nslookup NAME` inside a container answers: its addresses, or [] when the name is not found. */
export function lookup(d: DnsWorld, container: string, name: string): string[] {
  const r = d.tsnet('exec', container, 'busybox', 'nslookup', '-type=a', name);
  const body = r.stdout
    .split(/\n\s*\n/)
    .slice(1)
    .join('\n'); // after the "Server:/Address:" block
  return [...body.matchAll(/^Address:\s*([0-9a-f.:]+)\s*$/gim)].map((m) => m[1]!).sort();
}
