// What tsnet holds in a namespace that plays the host, read back independently of the code under test: the
// owners of the rules in its nftables table (`nft -j`), the holders of a network's addresses (the store on
// disk), and `tsnet` run there with a private TSNET_ROOT.
import { spawnSync } from 'node:child_process';
import { IpamStore, ipamDir } from '../ipam/store.js';
import { CLI } from './attach-cli.js';

/** The owner tags of the rules in tsnet's table in `ns`, one entry per rule, sorted ([] when no table). */
export function ruleOwners(ns: string): string[] {
  const r = spawnSync('ip', ['netns', 'exec', ns, 'nft', '-j', 'list', 'table', 'inet', 'tsnet'], { encoding: 'utf8' });
  if (r.status !== 0) return [];
  return (JSON.parse(r.stdout).nftables as any[])
    .filter((o) => o.rule)
    .map((o) => String(o.rule.comment ?? '').split('|')[0]!)
    .sort();
}

/** "containerID/ifname" of every holder of an address of `network` under `root`, sorted. */
export async function addressHolders(root: string, network: string): Promise<string[]> {
  const store = new IpamStore(ipamDir(root, network));
  if (!store.exists()) return [];
  return (await store.read())
    .owners()
    .map((o) => `${o.containerID}/${o.ifname}`)
    .sort();
}

/** `tsnet ARGS` inside `ns` with TSNET_ROOT=root: its stdout, or a throw with its stderr. */
export function tsnetIn(ns: string, root: string, ...args: string[]): string {
  const r = spawnSync('ip', ['netns', 'exec', ns, process.execPath, CLI, ...args], {
    encoding: 'utf8',
    env: { ...process.env, TSNET_ROOT: root },
    timeout: 60_000,
  });
  if (r.status !== 0) throw new Error(`tsnet ${args.join(' ')} failed (${r.status}): ${r.stderr}${r.stdout}`);
  return r.stdout;
}
