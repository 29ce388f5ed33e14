// The overlay's world for netns tests: three (or n) namespaces that play hosts on one underlay switch (a bridge in
// another namespace), etcd started in its own namespace on an address of that switch, tsnetd (`tsnet daemon
// --store`) in each host with the host's own state root, and the overlay CNI executable called in a host.
// Traffic flows only between these namespaces; everything goes with the world.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ip, ipj, killAtEnd, sh, type World } from './harness.js';
import { OUR_CNI, REPO } from './cni-exec.js';
import { startEtcd, type EtcdServer } from '../ipam/cluster/testing/etcd.js';

export const CLI = join(REPO, 'dist', 'engine', 'cli', 'main.js');

export interface Outcome {
  status: number;
  json: any;
  stderr: string;
}

/** One CNI call of the overlay executable inside hostNs, without blocking the test (calls run in parallel). */
export function overlay(
  hostNs: string,
  command: 'ADD' | 'DEL',
  conf: object,
  containerId: string,
  netns: string,
  root: string,
): Promise<Outcome> {
  return new Promise((resolve) => {
    const p = spawn('ip', ['netns', 'exec', hostNs, join(OUR_CNI, 'overlay')], {
      env: {
        PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin',
        TSNET_ROOT: root, // the host's state root, as its tsnetd's: its record of its lease, blocks and addresses
        CNI_COMMAND: command,
        CNI_CONTAINERID: containerId,
        CNI_NETNS: `/run/netns/${netns}`,
        CNI_IFNAME: 'eth0',
        CNI_PATH: OUR_CNI,
      },
    });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (err += d));
    p.stdin.end(JSON.stringify(conf));
    p.on('close', (status) => {
      let json: any;
      try {
        json = out.trim() ? JSON.parse(out) : undefined;
      } catch {
        json = undefined;
      }
      resolve({ status: status ?? -1, json, stderr: err });
    });
  });
}

/** Polls until fn() holds (each try bounded by the kernel/ping timeouts, not by a guess at speed). */
export async function eventually(what: string, fn: () => boolean, tries = 60, debug: () => string = () => ''): Promise<void> {
  for (let i = 0; i < tries; i++) {
    if (fn()) return;
    await sleep(200);
  }
  assert.fail(`never happened: ${what}\n${debug()}`);
}

export interface Cluster {
  hosts: string[];
  /** Each host's state root (its tsnetd's and its plugins'). */
  roots: string[];
  etcd: EtcdServer;
  daemons: Map<string, ChildProcess>;
  logs: Map<string, () => string>;
  store: string;
}

export async function cluster(w: World, n: number): Promise<Cluster> {
  const sw = w.netns('ovsw');
  ip(sw, 'link', 'add', 'br0', 'type', 'bridge');
  ip(sw, 'link', 'set', 'br0', 'up');
  const plug = (ns: string, i: number, addr: string) => {
    ip(sw, 'link', 'add', `p${i}`, 'type', 'veth', 'peer', 'name', 'u0', 'netns', ns);
    ip(sw, 'link', 'set', `p${i}`, 'master', 'br0', 'up');
    ip(ns, 'addr', 'add', `${addr}/24`, 'dev', 'u0');
    ip(ns, 'link', 'set', 'u0', 'up');
    ip(ns, 'link', 'set', 'lo', 'up');
  };
  const etcdNs = w.netns('ovetcd');
  plug(etcdNs, 0, '198.18.0.100');
  const etcd = await startEtcd({ address: '198.18.0.100', port: 2379, netns: etcdNs });
  w.defer(() => etcd.dispose());
  const hosts: string[] = [];
  for (let i = 1; i <= n; i++) {
    const h = w.netns(`ovh${i}`);
    plug(h, i, `198.18.0.${i}`);
    hosts.push(h);
  }
  const dir = w.tmpdir();
  const c: Cluster = {
    hosts,
    roots: hosts.map((_, i) => join(dir, `root${i}`)),
    etcd,
    daemons: new Map(),
    logs: new Map(),
    store: etcd.url,
  };
  for (const [i, h] of hosts.entries()) {
    const d = spawn(
      'ip',
      [
        'netns',
        'exec',
        h,
        process.execPath,
        CLI,
        'daemon',
        '--store',
        c.store,
        '--host-name',
        `h${i + 1}`,
        '--socket',
        join(dir, `h${i}.sock`),
      ],
      {
        stdio: ['ignore', 'ignore', 'pipe'],
        env: { ...process.env, TSNET_ROOT: c.roots[i]! },
      },
    );
    let log = '';
    d.stderr?.on('data', (b) => (log = (log + b).slice(-3000)));
    c.logs.set(h, () => log);
    c.daemons.set(h, d);
    killAtEnd(w, d);
  }
  return c;
}

export function addrOf(ns: string): string | undefined {
  const links = ipj(ns, 'addr', 'show', 'dev', 'eth0');
  return links[0]?.addr_info?.find((a: any) => a.family === 'inet')?.local;
}

export function fdb(hostNs: string, dev: string): { mac: string; dst?: string }[] {
  const out = sh('bridge', '-n', hostNs, '-j', 'fdb', 'show', 'dev', dev);
  return (out.trim() ? JSON.parse(out) : []) as { mac: string; dst?: string }[];
}
