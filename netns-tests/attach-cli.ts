// Runs the real tsnet attach/detach/route command line in a child process inside a namespace that plays the
// host, and snapshots what the kernel holds in a namespace so tests can assert "nothing half-made".
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI } from '../engine/testing/cli.js';
import { ipj } from './harness.js';

export { CLI };

let root: string | undefined;
/**
 * The state root the CLI runs with (attach keeps its records of taken uplinks there): $TSNET_ROOT when set,
 * else one of this test process's own, removed when it exits — never the host's /var/lib/tsnet.
 */
export function cliRoot(): string {
  if (process.env.TSNET_ROOT) return process.env.TSNET_ROOT;
  if (!root) {
    const made = mkdtempSync(join(tmpdir(), 'tsnet-cli-root-'));
    process.on('exit', () => rmSync(made, { recursive: true, force: true }));
    root = made;
  }
  return root;
}

export interface CliOutcome {
  status: number;
  stdout: string;
  stderr: string;
}

/** `tsnet <args>` run inside hostNs (the namespace that plays the host). */
export function tsnet(hostNs: string, ...args: string[]): CliOutcome {
  const r = spawnSync('ip', ['netns', 'exec', hostNs, process.execPath, CLI, ...args], {
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...process.env, TSNET_ROOT: cliRoot() },
  });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

export function tsnetOk(hostNs: string, ...args: string[]): string {
  const r = tsnet(hostNs, ...args);
  if (r.status !== 0) throw new Error(`tsnet ${args.join(' ')} failed (${r.status}): ${r.stderr}${r.stdout}`);
  return r.stdout;
}

/** Links (name, kind, master, mtu, mac), addresses and routes of a namespace, in a comparable form. */
export function snapshot(ns: string): unknown {
  const links = ipj(ns, '-d', 'link', 'show').map((l: any) => ({
    name: l.ifname,
    kind: l.linkinfo?.info_kind,
    master: l.master,
    mtu: l.mtu,
    mac: l.address,
  }));
  const addrs = ipj(ns, 'addr', 'show').flatMap((l: any) =>
    (l.addr_info ?? []).filter((a: any) => a.scope !== 'link').map((a: any) => `${l.ifname} ${a.local}/${a.prefixlen}`),
  );
  // IPv6 link-local and multicast entries come and go on their own (DAD after link-up): not ours to compare.
  const routes = ipj(ns, 'route', 'show', 'table', 'all')
    .filter((r: any) => !/^(fe80:|ff00:|ff02:)/.test(r.dst) && r.type !== 'multicast')
    .map((r: any) => `${r.dst} ${r.gateway ?? ''} ${r.dev ?? ''} ${r.table ?? ''}`);
  return { links, addrs: addrs.sort(), routes: routes.sort() };
}
