// A failing bridge ADD leaves the host as it found it: what can be checked is checked before the kernel is
// touched, and a bridge the ADD made is removed when a later step fails — never one that was there before, nor
// one that has a port by the time the failure is handled. The plugin runs as a runtime execs it, inside a
// namespace that plays the host; the host's links are read with `ip -j`, the addresses from the store.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { IpamStore, ipamDir } from '../ipam/store.js';
import { cni, cniOk, REPO } from './cni-exec.js';
import { ip, ipj, needsRoot, world } from './harness.js';

const SUBNET = '10.71.0.0/24';

async function held(root: string, network: string): Promise<number> {
  const store = new IpamStore(ipamDir(root, network));
  if (!store.exists()) return 0;
  return (await store.read()).size;
}

const hostLinks = (ns: string): string[] =>
  ipj(ns, 'link', 'show')
    .map((l: any) => l.ifname as string)
    .sort();

interface BadInput {
  what: string;
  ipam?: Record<string, unknown>;
  extra?: Record<string, unknown>;
  args?: string;
  /** The CNI code the error must carry. */
  code: number;
}

// 7: invalid network config; 101: tsnet-ipam's "requested address unavailable"; 50: plugin not available.
const BAD: BadInput[] = [
  { what: 'a subnet with a prefix over 32', ipam: { subnet: '10.71.0.0/33' }, code: 7 },
  { what: 'a subnet with host bits set', ipam: { subnet: '10.71.0.9/24' }, code: 7 },
  { what: 'a subnet that is no CIDR', ipam: { subnet: 'ten-seventy-one' }, code: 7 },
  { what: 'a rangeStart outside the subnet', ipam: { subnet: SUBNET, rangeStart: '10.72.0.5' }, code: 7 },
  { what: 'a range set with a bad subnet', ipam: { ranges: [[{ subnet: '10.71.0.0/24' }], [{ subnet: '300.1.0.0/16' }]] }, code: 7 },
  { what: 'a route whose dst is no CIDR', ipam: { subnet: SUBNET, routes: [{ dst: '10.80.0.0/40' }] }, code: 7 },
  { what: 'a route whose gw is no address', ipam: { subnet: SUBNET, routes: [{ dst: '10.80.0.0/16', gw: '10.71.0.300' }] }, code: 7 },
  { what: 'a missing IPAM plugin', ipam: { type: 'no-such-ipam', subnet: SUBNET }, code: 50 },
  { what: 'runtimeConfig.ips: the gateway', extra: { runtimeConfig: { ips: ['10.71.0.1/24'] } }, code: 101 },
  { what: 'runtimeConfig.ips: the network address', extra: { runtimeConfig: { ips: ['10.71.0.0'] } }, code: 101 },
  { what: 'runtimeConfig.ips: the broadcast address', extra: { runtimeConfig: { ips: ['10.71.0.255'] } }, code: 101 },
  { what: 'runtimeConfig.ips: out of range', extra: { runtimeConfig: { ips: ['10.99.0.5'] } }, code: 101 },
  { what: 'CNI_ARGS IP=: the gateway', args: 'IP=10.71.0.1', code: 101 },
  { what: 'CNI_ARGS IP=: out of range', args: 'IP=192.168.7.7', code: 101 },
];

describe('bridge plugin: a failing ADD leaves the host as it found it', { skip: needsRoot }, () => {
  it(`${BAD.length} bad inputs: non-zero, a spec error, the host's links unchanged, no address held`, async (t) => {
    const w = world(t);
    const host = w.netns('host');
    const ctr = w.netns('ctr');
    const root = w.tmpdir();
    const bridge = `tbr${w.id}`;
    const net = `net${w.id}`;
    const before = hostLinks(host);
    const ctrBefore = hostLinks(ctr);
    const problems: string[] = [];
    // Every link the host's kernel makes or removes meanwhile, to prove the bridge was never even made.
    const monitor = spawn('ip', ['-n', host, '-o', 'monitor', 'link'], { stdio: ['ignore', 'pipe', 'ignore'] });
    w.defer(() => void monitor.kill('SIGKILL'));
    let events = '';
    monitor.stdout.setEncoding('utf8').on('data', (d: string) => (events += d));
    const mark = async (name: string) => {
      // A link made and removed, again until the monitor reports its removal: from then on it has
      // reported everything the kernel did before.
      const reported = () => new RegExp(`^Deleted [^\\n]*\\b${name}:`, 'm').test(events);
      for (let i = 0; i < 100; i++) {
        ip(host, 'link', 'add', name, 'type', 'bridge');
        ip(host, 'link', 'del', name);
        for (let j = 0; j < 10 && !reported(); j++) await new Promise((r) => setTimeout(r, 10));
        if (reported()) return;
      }
      throw new Error(`ip monitor reported nothing: ${events}`);
    };
    await mark('mark0');
    const from = events.length;
    for (const bad of BAD) {
      const conf = {
        cniVersion: '1.0.0',
        name: net,
        type: 'bridge',
        bridge,
        isDefaultGateway: true,
        ipMasq: true,
        ipam: { type: 'tsnet-ipam', subnet: SUBNET, ...bad.ipam },
        ...bad.extra,
      };
      if (bad.ipam && !('subnet' in bad.ipam)) delete (conf.ipam as Record<string, unknown>).subnet;
      const r = cni({
        hostNs: host,
        plugin: 'bridge',
        command: 'ADD',
        conf,
        netns: `/run/netns/${ctr}`,
        containerId: `c-${w.id}`,
        ...(bad.args ? { args: bad.args } : {}),
        env: { TSNET_ROOT: root },
      });
      // Every input is tried on a clean host (what one left is recorded, then removed), so each counts.
      const wrong: string[] = [];
      if (r.status === 0) wrong.push('ADD succeeded');
      if (r.json?.code !== bad.code) wrong.push(`CNI code ${r.json?.code}, not ${bad.code}`);
      if (typeof r.json?.msg !== 'string') wrong.push('no msg');
      const left = hostLinks(host).filter((l) => !before.includes(l));
      if (left.length) wrong.push(`left ${left.join(', ')} on the host`);
      for (const l of left) spawnSync('ip', ['-n', host, 'link', 'del', l]);
      if (hostLinks(ctr).length !== ctrBefore.length) wrong.push('left an interface in the container');
      const n = await held(root, net);
      if (n) wrong.push(`${n} address(es) held`);
      if (wrong.length) problems.push(`${bad.what}: ${wrong.join('; ')} (${r.json?.msg ?? r.stdout + r.stderr})`);
    }
    assert.deepEqual(problems, []);
    await mark('mark1');
    const seen = events.slice(from, events.indexOf('mark1'));
    assert.doesNotMatch(
      seen,
      new RegExp(bridge),
      `the bridge was never made: every input was refused before the kernel was touched\n${seen}`,
    );
    const tables = spawnSync('ip', ['netns', 'exec', host, 'nft', 'list', 'tables'], { encoding: 'utf8' }).stdout;
    assert.doesNotMatch(tables, /tsnet/, 'no firewall table either');
  });

  it('a failure found only when allocating removes the bridge this ADD made, and keeps one that was there', async (t) => {
    const w = world(t);
    const host = w.netns('host');
    const a = w.netns('a');
    const b = w.netns('b');
    const root = w.tmpdir();
    const net = `net${w.id}`;
    const conf = (bridge: string) => ({
      cniVersion: '1.0.0',
      name: net,
      type: 'bridge',
      bridge,
      isDefaultGateway: true,
      ipam: { type: 'tsnet-ipam', subnet: SUBNET },
    });
    const env = { TSNET_ROOT: root };
    // Container a holds 10.71.0.5 on the network (its bridge tbrA).
    const brA = `tbA${w.id}`;
    cniOk({
      hostNs: host,
      plugin: 'bridge',
      command: 'ADD',
      conf: conf(brA),
      netns: `/run/netns/${a}`,
      containerId: 'ca',
      args: 'IP=10.71.0.5',
      env,
    });
    // b asks for the same address through a second bridge of the same network: only the store knows it is taken.
    const brB = `tbB${w.id}`;
    const before = hostLinks(host);
    const r = cni({
      hostNs: host,
      plugin: 'bridge',
      command: 'ADD',
      conf: conf(brB),
      netns: `/run/netns/${b}`,
      containerId: 'cb',
      args: 'IP=10.71.0.5',
      env,
    });
    assert.notEqual(r.status, 0);
    assert.equal(r.json?.code, 101, r.stdout + r.stderr);
    assert.match(r.json.msg, /10\.71\.0\.5/);
    assert.deepEqual(hostLinks(host), before, 'the bridge this ADD made is gone, and nothing else');
    assert.equal(await held(root, net), 1, "only a's address is held");

    // The same failure on a bridge that existed before the ADD leaves the bridge alone.
    ip(host, 'link', 'add', brB, 'type', 'bridge');
    const r2 = cni({
      hostNs: host,
      plugin: 'bridge',
      command: 'ADD',
      conf: conf(brB),
      netns: `/run/netns/${b}`,
      containerId: 'cb',
      args: 'IP=10.71.0.5',
      env,
    });
    assert.notEqual(r2.status, 0);
    assert.ok(hostLinks(host).includes(brB), 'a bridge that was there before the ADD stays');
    assert.deepEqual(hostLinks(b), ['lo']);
    assert.equal(await held(root, net), 1);
    cniOk({ hostNs: host, plugin: 'bridge', command: 'DEL', conf: conf(brA), netns: `/run/netns/${a}`, containerId: 'ca', env });
  });

  it('a bridge this ADD made is kept when another container has a port on it by the time the failure is handled', async (t) => {
    const w = world(t);
    const host = w.netns('host');
    const bridge = `tbr${w.id}`;
    const mod = join(REPO, 'dist', 'plugins', 'shared', 'bridge-port.js');
    const netnsMod = join(REPO, 'dist', 'native', 'netns.js');
    // removeBridgeIfUnused is what the ADD's rollback runs for a bridge it made: with a port on it, it stays;
    // without one, it goes.
    const run = (body: string) => {
      const r = spawnSync(
        'ip',
        [
          'netns',
          'exec',
          host,
          process.execPath,
          '--input-type=module',
          '-e',
          `const bp = await import(${JSON.stringify(mod)}); const { Netns } = await import(${JSON.stringify(netnsMod)});
           const h = Netns.current(); const br = await h.rtnl.link(${JSON.stringify(bridge)}); ${body}; process.exit(0);`,
        ],
        { encoding: 'utf8' },
      );
      if (r.status !== 0) throw new Error(r.stderr || r.stdout);
      return r.stdout.trim();
    };
    ip(host, 'link', 'add', bridge, 'type', 'bridge');
    ip(host, 'link', 'add', 'p0', 'type', 'veth', 'peer', 'name', 'p1');
    ip(host, 'link', 'set', 'p0', 'master', bridge);
    assert.equal(run('console.log(await bp.removeBridgeIfUnused(h, br))'), 'false');
    assert.ok(hostLinks(host).includes(bridge), 'a bridge with a port stays');
    ip(host, 'link', 'del', 'p0');
    assert.equal(run('console.log(await bp.removeBridgeIfUnused(h, br))'), 'true');
    assert.ok(!hostLinks(host).includes(bridge), 'an unused bridge goes');
    // A bridge of that name made again since (another index) is not the one the ADD made.
    ip(host, 'link', 'add', bridge, 'type', 'bridge');
    assert.equal(run('console.log(await bp.removeBridgeIfUnused(h, { ...br, index: br.index + 1000 }))'), 'false');
    assert.ok(hostLinks(host).includes(bridge));
  });
});
