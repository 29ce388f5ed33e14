// Test support for the engine scenarios that run in a namespace playing the host: the namespace (its lo up), an
// engine with a state root of its own entered into it, the image, the test's bridge networks — all removed at the
// end — and what those tests read in the host namespace: tsnet's nftables table, whether a port can be bound,
// the body an HTTP server answers.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import type { TestContext } from 'node:test';
import { EngineFixture } from '../engine/testing/cli.js';
import { ipj, world, type World } from './harness.js';

export interface EngineHost {
  w: World;
  /** The namespace that plays the host. */
  host: string;
  e: EngineFixture;
  /** Networks removed (`network rm -f`) at the end, after the containers. */
  networks: string[];
  /** Links in the host namespace deleted at the end, after the networks. */
  links: string[];
}

/**
 * A namespace that plays the host (lo up) and an engine run in it with a temp state root; `bins`: an image `img`
 * made from those host binaries (`image from-host img --bin BINS`). At the end: every container, then the networks
 * and links named in `networks` and `links`.
 */
export function engineHost(t: TestContext, label: string, opts: { bins?: string } = {}): EngineHost {
  const w = world(t);
  const host = w.netns(label);
  spawnSync('ip', ['-n', host, 'link', 'set', 'lo', 'up']);
  const e = new EngineFixture(w.tmpdir(), host);
  const h: EngineHost = { w, host, e, networks: [], links: [] };
  w.defer(() => {
    e.removeAll();
    for (const n of h.networks) e.tsnet('network', 'rm', '-f', n);
    for (const l of h.links) spawnSync('ip', ['-n', host, 'link', 'del', l]);
  });
  if (opts.bins) e.ok('image', 'from-host', 'img', '--bin', opts.bins);
  return h;
}

/**
 * A bridge network `t<tag><id>` on bridge `tb<tag><id>`, without masquerade (nothing leaves the host namespace),
 * removed at the end; `veths()` lists the veths the kernel has on its bridge.
 */
export function bridgeNetwork(
  h: EngineHost,
  tag: string,
  subnets: string[],
  opts: { ipv6?: boolean } = {},
): { net: string; bridge: string; veths: () => string[] } {
  const net = `t${tag}${h.w.id}`;
  const bridge = `tb${tag}${h.w.id}`;
  h.networks.push(net);
  h.e.ok(
    'network',
    'create',
    net,
    ...(opts.ipv6 ? ['--ipv6'] : []),
    ...subnets.flatMap((s) => ['--subnet', s]),
    '--bridge',
    bridge,
    '--no-masquerade',
  );
  const veths = (): string[] =>
    ipj(h.host, 'link', 'show', 'type', 'veth')
      .filter((l: any) => l.master === bridge)
      .map((l: any) => l.ifname);
  return { net, bridge, veths };
}

/** `nft list table inet tsnet` in netns NS, or '' when there is no such table. */
export function nftTable(ns: string): string {
  const r = spawnSync('ip', ['netns', 'exec', ns, 'nft', 'list', 'table', 'inet', 'tsnet'], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout : '';
}

/**
 * Exit status of a python3 bind of PORT on the wildcard address in netns NS: 0 bound, 98 in use. `family` 6 binds
 * [::] with IPV6_V6ONLY; `reuseAddr` sets SO_REUSEADDR first (a TIME_WAIT connection does not count as a holder).
 */
export function hostBind(ns: string, port: number, opts: { proto?: 'tcp' | 'udp'; family?: 4 | 6; reuseAddr?: boolean } = {}): number {
  const v6 = opts.family === 6;
  const py = [
    'import socket,sys,errno',
    `s=socket.socket(socket.AF_INET${v6 ? '6' : ''}, socket.SOCK_${opts.proto === 'udp' ? 'DGRAM' : 'STREAM'})`,
    ...(opts.reuseAddr ? ['s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)'] : []),
    ...(v6 ? ['s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)'] : []),
    'try:',
    `  s.bind(("${v6 ? '::' : '0.0.0.0'}", ${port}))`,
    'except OSError as e:',
    '  sys.exit(98 if e.errno == errno.EADDRINUSE else 1)',
  ].join('\n');
  return spawnSync('ip', ['netns', 'exec', ns, 'python3', '-c', py]).status ?? -1;
}

/**
 * A host process listening on TCP PORT (wildcard address) in netns NS, once it listens (python3; `family` 6: [::]
 * with IPV6_V6ONLY). Kill it when done.
 */
export async function hostListener(ns: string, port: number, opts: { family?: 4 | 6 } = {}): Promise<ChildProcess> {
  const v6 = opts.family === 6;
  const py = [
    'import socket,time',
    `s=socket.socket(socket.AF_INET${v6 ? '6' : ''})`,
    ...(v6 ? ['s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)'] : []),
    `s.bind(("${v6 ? '::' : '0.0.0.0'}", ${port}))`,
    's.listen()',
    'print("up",flush=True)',
    'time.sleep(60)',
  ].join('\n');
  const p = spawn('ip', ['netns', 'exec', ns, 'python3', '-c', py], { stdio: ['ignore', 'pipe', 'ignore'] });
  await new Promise<void>((resolve, reject) => {
    p.stdout!.once('data', () => resolve());
    p.once('exit', () => reject(new Error(`the host listener on port ${port} did not start`)));
  });
  return p;
}

/** The body of http://HOST:PORT/ fetched from netns NS with curl (HOST may be an [IPv6] literal), or '' on failure. */
export function httpBody(ns: string, host: string, port: number): string {
  const r = spawnSync('ip', ['netns', 'exec', ns, 'curl', '-s', '-g', '-m', '3', `http://${host}:${port}/`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : '';
}

/** A container command: busybox httpd serving BODY at / on port 80. */
export const HTTPD = (body: string): string => `mkdir -p /www && echo ${body} > /www/index.html && exec busybox httpd -f -p 80 -h /www`;
