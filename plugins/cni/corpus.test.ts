// A corpus of malformed invocations against a bundled plugin executable (the probe: it records every verb
// that reaches plugin code). Each must be answered with the spec's error JSON and the right code, exit non-zero,
// never reach plugin code, and (as root) leave the host's links, addresses and routes as they were.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { isRoot, ipj, world } from '../../netns-tests/harness.js';
import { addonPath, bundleProbe } from './testdata/bundle.js';

interface Case {
  name: string;
  env: Record<string, string | undefined>;
  stdin?: string;
  code: number;
}

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the plugin as a runtime would, inside `hostNs` (a namespace playing the host) when given. */
function runPlugin(
  file: string,
  env: Record<string, string | undefined>,
  stdin: string,
  hostNs?: string,
  timeoutMs = 10_000,
): Promise<Run> {
  return new Promise((resolve) => {
    const clean: Record<string, string> = {};
    for (const [k, v] of Object.entries(env)) if (v !== undefined) clean[k] = v;
    // nsenter (not `ip netns exec`) keeps /proc and /sys as they are, so /proc/self/ns/net is the plugin's own.
    const child = hostNs
      ? spawn('nsenter', [`--net=/run/netns/${hostNs}`, file], { env: clean, timeout: timeoutMs })
      : spawn(file, [], { env: clean, timeout: timeoutMs });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b) => (stdout += b));
    child.stderr.on('data', (b) => (stderr += b));
    child.stdin.on('error', () => {});
    child.on('close', (status) => resolve({ status, stdout, stderr }));
    child.stdin.end(stdin);
  });
}

/** Links, addresses and routes of the namespace playing the host, without counters. */
function hostState(ns: string): string {
  const links = ipj(ns, 'link', 'show').map((l: any) => ({
    ifname: l.ifname,
    flags: l.flags,
    mtu: l.mtu,
    master: l.master,
    address: l.address,
    operstate: l.operstate,
  }));
  const addrs = ipj(ns, 'addr', 'show').map((l: any) => ({
    ifname: l.ifname,
    addr: (l.addr_info ?? []).map((a: any) => `${a.local}/${a.prefixlen}`),
  }));
  const routes = [...ipj(ns, 'route', 'show', 'table', 'all'), ...ipj(ns, '-6', 'route', 'show', 'table', 'all')];
  return JSON.stringify({ links, addrs, routes });
}

function conf(extra: Record<string, unknown> = {}, v = '1.0.0'): string {
  return JSON.stringify({ cniVersion: v, name: 'corpus', type: 'probe', ...extra });
}

test('malformed env and stdin: spec error JSON, right code, non-zero exit, nothing touched', { timeout: 180_000 }, async (t) => {
  const w = world(t);
  const dir = w.tmpdir();
  const probe = await bundleProbe(dir);
  const marker = join(dir, 'reached');
  const fifo = join(dir, 'fifo');
  execFileSync('mkfifo', [fifo]);
  // A real netns when root, so stdin cases get past the env/netns checks of ADD; otherwise DEL (netns optional).
  const netns = isRoot ? `/run/netns/${w.netns('corpus')}` : undefined;
  // As root the plugin runs in a namespace that plays the host, with a bridge and an address to be left alone;
  // other test files may change the real host's links meanwhile.
  const hostNs = isRoot ? w.netns('corpushost') : undefined;
  if (hostNs) {
    execFileSync('ip', ['-n', hostNs, 'link', 'add', 'hbr0', 'type', 'bridge']);
    // No IPv6 on it: no link-local address (with its routes) appearing while the corpus runs.
    execFileSync('ip', ['netns', 'exec', hostNs, 'sh', '-c', 'echo 1 > /proc/sys/net/ipv6/conf/hbr0/disable_ipv6']);
    execFileSync('ip', ['-n', hostNs, 'addr', 'add', '10.123.0.1/24', 'dev', 'hbr0']);
    execFileSync('ip', ['-n', hostNs, 'link', 'set', 'hbr0', 'up']);
  }
  const verb = isRoot ? 'ADD' : 'DEL';
  const common = { PATH: process.env.PATH, TSNET_PROBE_MARKER: marker, TSNET_NATIVE: addonPath() };
  const good = {
    ...common,
    CNI_COMMAND: verb,
    CNI_CONTAINERID: 'corpus-1',
    CNI_NETNS: netns,
    CNI_IFNAME: 'eth0',
    CNI_PATH: '/usr/lib/cni',
  };
  const envCase = (name: string, over: Record<string, string | undefined>, code = 4, stdin = conf()): Case => ({
    name,
    env: { ...good, CNI_COMMAND: 'ADD', CNI_NETNS: netns ?? '/run/netns/none', ...over },
    stdin,
    code,
  });
  const stdinCase = (name: string, stdin: string, code: number): Case => ({ name, env: good, stdin, code });

  const cases: Case[] = [
    envCase('no CNI_COMMAND', { CNI_COMMAND: undefined }),
    envCase('empty CNI_COMMAND', { CNI_COMMAND: '' }),
    envCase('lowercase command', { CNI_COMMAND: 'add' }),
    envCase('unknown command', { CNI_COMMAND: 'GET' }),
    envCase('ADD without CNI_CONTAINERID', { CNI_CONTAINERID: undefined }),
    envCase('ADD without CNI_NETNS', { CNI_NETNS: undefined }),
    envCase('ADD without CNI_IFNAME', { CNI_IFNAME: undefined }),
    envCase('ADD without CNI_PATH', { CNI_PATH: undefined }),
    envCase('DEL without CNI_CONTAINERID', { CNI_COMMAND: 'DEL', CNI_CONTAINERID: undefined }),
    envCase('DEL without CNI_IFNAME', { CNI_COMMAND: 'DEL', CNI_IFNAME: undefined }),
    envCase('CHECK without CNI_NETNS', { CNI_COMMAND: 'CHECK', CNI_NETNS: undefined }),
    envCase('GC without CNI_PATH', { CNI_COMMAND: 'GC', CNI_PATH: undefined }, 4, conf({}, '1.1.0')),
    envCase('STATUS without CNI_PATH', { CNI_COMMAND: 'STATUS', CNI_PATH: undefined }, 4, conf({}, '1.1.0')),
    envCase('ifname with /', { CNI_IFNAME: 'eth/0' }),
    envCase('ifname path traversal', { CNI_IFNAME: '../lo' }),
    envCase('ifname .', { CNI_IFNAME: '.' }),
    envCase('ifname ..', { CNI_IFNAME: '..' }),
    envCase('ifname with :', { CNI_IFNAME: 'eth0:1' }),
    envCase('ifname with space', { CNI_IFNAME: 'eth 0' }),
    envCase('ifname with newline', { CNI_IFNAME: 'eth\n0' }),
    envCase('ifname 16 bytes', { CNI_IFNAME: 'abcdefghijklmnop' }),
    envCase('ifname 18 bytes of UTF-8', { CNI_IFNAME: 'ééééééééé' }),
    envCase('DEL ifname with /', { CNI_COMMAND: 'DEL', CNI_IFNAME: 'a/b' }),
    envCase('containerID path traversal', { CNI_CONTAINERID: '../../etc' }),
    envCase('containerID leading dash', { CNI_CONTAINERID: '-rf' }),
    envCase('containerID with /', { CNI_CONTAINERID: 'a/b' }),
    envCase('containerID with space', { CNI_CONTAINERID: 'a b' }),
    envCase('containerID leading dot', { CNI_CONTAINERID: '.hidden' }),
    envCase('containerID with ;', { CNI_CONTAINERID: 'a;rm' }),
    envCase('DEL containerID with /', { CNI_COMMAND: 'DEL', CNI_CONTAINERID: '../x' }),
    envCase('netns is a regular file', { CNI_NETNS: '/etc/hostname' }),
    envCase('netns does not exist', { CNI_NETNS: '/run/netns/tsnet-corpus-missing' }),
    envCase("netns is the plugin's own", { CNI_NETNS: '/proc/self/ns/net' }),
    envCase("netns is the plugin's own, by path", { CNI_NETNS: hostNs ? `/run/netns/${hostNs}` : '/proc/1/ns/net' }),
    envCase('netns is a mount namespace', { CNI_NETNS: '/proc/self/ns/mnt' }),
    envCase('netns is relative', { CNI_NETNS: 'run/netns/x' }),
    envCase('netns is a char device', { CNI_NETNS: '/dev/null' }),
    envCase('netns is a directory', { CNI_NETNS: '/tmp' }),
    envCase('netns is a FIFO (must not block)', { CNI_NETNS: fifo }),
    envCase('CHECK netns is a regular file', { CNI_COMMAND: 'CHECK', CNI_NETNS: '/etc/hostname' }),
    envCase('DEL netns exists but is a regular file', { CNI_COMMAND: 'DEL', CNI_NETNS: '/etc/hostname' }),
    envCase('CNI_ARGS without =', { CNI_ARGS: 'garbage' }),
    envCase('CNI_ARGS empty key', { CNI_ARGS: '=x;A=1' }),
    stdinCase('empty stdin', '', 6),
    stdinCase('truncated JSON', '{"cniVersion":"1.0.0","name":"corpus","ty', 6),
    stdinCase('not JSON', 'cniVersion=1.0.0', 6),
    stdinCase('invalid UTF-8', Buffer.from([0x7b, 0xff, 0xfe, 0x7d]).toString('latin1'), 6),
    stdinCase('trailing garbage', `${conf()} x`, 6),
    stdinCase('deeply nested then truncated', '{"a":'.repeat(5000), 6),
    stdinCase('JSON array', '[]', 7),
    stdinCase('JSON string', '"corpus"', 7),
    stdinCase('JSON null', 'null', 7),
    stdinCase('missing name', JSON.stringify({ cniVersion: '1.0.0', type: 'probe' }), 7),
    stdinCase('missing type', JSON.stringify({ cniVersion: '1.0.0', name: 'corpus' }), 7),
    stdinCase('missing cniVersion', JSON.stringify({ name: 'corpus', type: 'probe' }), 7),
    stdinCase('cniVersion is a number', JSON.stringify({ cniVersion: 1, name: 'corpus', type: 'probe' }), 7),
    stdinCase('unknown cniVersion 9.9.9', conf({}, '9.9.9'), 1),
    stdinCase('unsupported cniVersion 0.2.0', conf({}, '0.2.0'), 1),
    stdinCase('empty cniVersion', conf({}, ''), 1),
    stdinCase('name path traversal', JSON.stringify({ cniVersion: '1.0.0', name: '../../etc', type: 'probe' }), 7),
    stdinCase('name with space', JSON.stringify({ cniVersion: '1.0.0', name: 'my net', type: 'probe' }), 7),
    stdinCase('name is a number', JSON.stringify({ cniVersion: '1.0.0', name: 7, type: 'probe' }), 7),
    stdinCase('type with /', JSON.stringify({ cniVersion: '1.0.0', name: 'corpus', type: '../bin/sh' }), 7),
    stdinCase('mtu is a string', conf({ mtu: '1500' }), 7),
    stdinCase('mtu too small', conf({ mtu: 10 }), 7),
    stdinCase('mtu too large', conf({ mtu: 70000 }), 7),
    stdinCase('mtu not integer', conf({ mtu: 1500.5 }), 7),
    stdinCase('vlan negative', conf({ vlan: -1 }), 7),
    stdinCase('isGateway is a string', conf({ isGateway: 'true' }), 7),
    stdinCase('hairpinMode is a number', conf({ hairpinMode: 1 }), 7),
    stdinCase('bridge name too long', conf({ bridge: 'a-very-long-bridge-name' }), 7),
    stdinCase('bridge name with /', conf({ bridge: 'br/0' }), 7),
    stdinCase('ipam is a string', conf({ ipam: 'host-local' }), 7),
    stdinCase('ipam without type', conf({ ipam: { subnet: '10.0.0.0/24' } }), 7),
    stdinCase('ipMasq is a string', conf({ ipMasq: 'yes' }), 7),
    stdinCase('dns.nameservers is a string', conf({ dns: { nameservers: '1.1.1.1' } }), 7),
    stdinCase('capabilities not booleans', conf({ capabilities: { portMappings: 'yes' } }), 7),
    stdinCase('runtimeConfig is an array', conf({ runtimeConfig: [] }), 7),
    stdinCase('prevResult ips not an array', conf({ prevResult: { cniVersion: '1.0.0', ips: 3 } }), 7),
    stdinCase('prevResult address without prefix', conf({ prevResult: { cniVersion: '1.0.0', ips: [{ address: '10.0.0.2' }] } }), 7),
    stdinCase(
      'prevResult interface index out of range',
      conf({ prevResult: { cniVersion: '1.0.0', interfaces: [], ips: [{ address: '10.0.0.2/24', interface: 2 }] } }),
      7,
    ),
    stdinCase('prevResult of unknown version', conf({ prevResult: { cniVersion: '0.1.0' } }), 1),
    stdinCase('prevResult is a string', conf({ prevResult: 'x' }), 7),
    envCase('CHECK on 0.3.1', { CNI_COMMAND: 'CHECK' }, 1, conf({}, '0.3.1')),
    envCase('GC on 1.0.0', { CNI_COMMAND: 'GC' }, 1, conf({}, '1.0.0')),
    envCase('STATUS on 0.4.0', { CNI_COMMAND: 'STATUS' }, 1, conf({}, '0.4.0')),
  ];
  assert.ok(cases.length >= 50, `corpus has ${cases.length} cases`);

  const before = hostNs ? hostState(hostNs) : '';
  const failures: string[] = [];
  // Two at a time: the machine has two cores.
  const queue = [...cases];
  const worker = async () => {
    for (let c = queue.shift(); c; c = queue.shift()) {
      const r = await runPlugin(probe, c.env, c.stdin ?? conf(), hostNs);
      let j: any;
      try {
        j = JSON.parse(r.stdout);
      } catch {
        failures.push(
          `${c.name}: stdout is not JSON: ${JSON.stringify(r.stdout.slice(0, 200))} (exit ${r.status}, stderr ${r.stderr.slice(0, 200)})`,
        );
        continue;
      }
      if (r.status === 0 || r.status === null) failures.push(`${c.name}: exit status ${r.status}`);
      if (j.code !== c.code) failures.push(`${c.name}: code ${j.code}, want ${c.code} (${j.msg})`);
      if (typeof j.msg !== 'string' || !j.msg) failures.push(`${c.name}: no msg`);
      if (typeof j.cniVersion !== 'string') failures.push(`${c.name}: no cniVersion in the error`);
    }
  };
  await Promise.all([worker(), worker()]);
  assert.deepEqual(failures, []);
  assert.equal(existsSync(marker) ? readFileSync(marker, 'utf8') : '', '', 'no malformed invocation reached plugin code');
  if (hostNs) assert.equal(hostState(hostNs), before, 'host links, addresses and routes unchanged');

  // Controls: a well-formed call does reach the plugin; transient and internal errors map to 11 and 999.
  const ok = await runPlugin(probe, good, conf());
  assert.equal(ok.status, 0, ok.stdout);
  assert.match(readFileSync(marker, 'utf8'), new RegExp(`^${verb} corpus-1 eth0`));
  rmSync(marker);
  if (isRoot) {
    const tr = await runPlugin(probe, good, conf({ args: { fail: 'transient' } }));
    assert.equal(JSON.parse(tr.stdout).code, 11);
    assert.notEqual(tr.status, 0);
    const int = await runPlugin(probe, good, conf({ args: { fail: 'internal' } }));
    assert.equal(JSON.parse(int.stdout).code, 999);
  }
});
