import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dispatch, type Outcome } from './skel.js';
import { probePlugin } from './testdata/probe-plugin.js';
import { schemaCheck } from './validate.js';
import { bridgeValidator } from './validators.js';
import { ifnameProblem, parseCniArgs } from './env.js';
import { SUPPORTED_VERSIONS, type NetConf } from './types.js';

const NS = '/proc/self/ns/mnt'; // nsfs, not our netns; the stub below calls it a network namespace
const stub = { nsType: () => 0x40000000 };
const base = { CNI_CONTAINERID: 'ctr-1', CNI_NETNS: NS, CNI_IFNAME: 'eth0', CNI_PATH: '/usr/lib/cni' };
const conf = (extra: Record<string, unknown> = {}, v = '1.0.0') => JSON.stringify({ cniVersion: v, name: 'net1', type: 'probe', ...extra });

async function run(
  env: Record<string, string | undefined>,
  stdin: string,
  opts: Record<string, unknown> = {},
  hooks: object = stub,
): Promise<Outcome> {
  const o = await dispatch(probePlugin, { name: 'probe', validate: schemaCheck(bridgeValidator), ...opts }, env, stdin, hooks);
  return o;
}
function code(o: Outcome): number | undefined {
  return (o.stdout as { code?: number } | undefined)?.code;
}

test('VERSION answers the supported versions, echoing a supported request version', async () => {
  const o = await run({ CNI_COMMAND: 'VERSION' }, '{"cniVersion":"0.4.0"}');
  assert.deepEqual(o, { exitCode: 0, stdout: { cniVersion: '0.4.0', supportedVersions: [...SUPPORTED_VERSIONS] } });
  const o2 = await run({ CNI_COMMAND: 'VERSION' }, 'garbage', { supportedVersions: ['1.0.0'] });
  assert.deepEqual(o2.stdout, { cniVersion: '1.1.0', supportedVersions: ['1.0.0'] });
});

test('ADD returns the result in the config version', async () => {
  const o = await run({ CNI_COMMAND: 'ADD', ...base }, conf({}, '0.3.1'));
  assert.equal(o.exitCode, 0);
  assert.equal((o.stdout as { cniVersion: string }).cniVersion, '0.3.1');
});

test('env required per verb', async () => {
  for (const [cmd, need] of [
    ['ADD', ['CNI_CONTAINERID', 'CNI_NETNS', 'CNI_IFNAME', 'CNI_PATH']],
    ['CHECK', ['CNI_CONTAINERID', 'CNI_NETNS', 'CNI_IFNAME', 'CNI_PATH']],
    ['DEL', ['CNI_CONTAINERID', 'CNI_IFNAME', 'CNI_PATH']],
    ['GC', ['CNI_PATH']],
    ['STATUS', ['CNI_PATH']],
  ] as const) {
    for (const k of need) {
      const env: Record<string, string | undefined> = { CNI_COMMAND: cmd, ...base };
      delete env[k];
      const o = await run(env, conf({}, '1.1.0'));
      assert.equal(code(o), 4, `${cmd} without ${k}`);
      assert.match((o.stdout as { msg: string }).msg, new RegExp(k));
    }
  }
  // DEL tolerates no netns and a gone netns
  assert.equal((await run({ CNI_COMMAND: 'DEL', ...base, CNI_NETNS: undefined }, conf())).exitCode, 0);
  assert.equal((await run({ CNI_COMMAND: 'DEL', ...base, CNI_NETNS: '/run/netns/gone-for-good-xyz' }, conf())).exitCode, 0);
  // GC/STATUS need no container
  assert.equal((await run({ CNI_COMMAND: 'GC', CNI_PATH: '/x' }, conf({}, '1.1.0'))).exitCode, 0);
  assert.equal((await run({ CNI_COMMAND: 'STATUS', CNI_PATH: '/x' }, conf({}, '1.1.0'))).exitCode, 0);
});

test('verb floors: CHECK from 0.4.0, GC and STATUS from 1.1.0 (code 1)', async () => {
  assert.equal(code(await run({ CNI_COMMAND: 'CHECK', ...base }, conf({}, '0.3.1'))), 1);
  assert.equal((await run({ CNI_COMMAND: 'CHECK', ...base }, conf({}, '0.4.0'))).exitCode, 0);
  assert.equal(code(await run({ CNI_COMMAND: 'GC', ...base }, conf({}, '1.0.0'))), 1);
  assert.equal(code(await run({ CNI_COMMAND: 'STATUS', ...base }, conf({}, '1.0.0'))), 1);
  assert.equal(code(await run({ CNI_COMMAND: 'ADD', ...base }, conf({}, '0.2.0'))), 1);
  assert.equal(code(await run({ CNI_COMMAND: 'ADD', ...base }, conf({}, '1.0.0'), { supportedVersions: ['0.4.0'] })), 1);
  assert.equal(code(await run({ CNI_COMMAND: 'GC', ...base }, conf({}, '1.0.0'), { supportedVersions: ['1.0.0'] })), 1);
});

test('error codes: decode 6, config 7, transient 11, internal 999', async () => {
  const env = { CNI_COMMAND: 'ADD', ...base };
  assert.equal(code(await run(env, '{"cniVersion":')), 6);
  assert.equal(code(await run(env, '')), 6);
  assert.equal(code(await run(env, '[1]')), 7);
  const bad = await run(env, conf({ mtu: 9 }));
  assert.equal(code(bad), 7);
  assert.equal((bad.stdout as { msg: string }).msg, 'probe.mtu: must be integer between 68 and 65535 (got 9)');
  const t = await run(env, conf({ args: { fail: 'transient' } }));
  assert.equal(code(t), 11);
  const i = await run(env, conf({ args: { fail: 'internal' } }));
  assert.equal(code(i), 999);
  assert.equal((i.stdout as { msg: string }).msg, 'boom');
  assert.equal((i.stdout as { cniVersion: string }).cniVersion, '1.0.0', 'error JSON carries the config version');
});

test('netns checks: missing, not nsfs, our own netns, not a network namespace', async () => {
  const env = { CNI_COMMAND: 'ADD', ...base };
  const msg = async (netns: string, hooks: object = stub) => {
    const o = await run({ ...env, CNI_NETNS: netns }, conf(), {}, hooks);
    assert.equal(code(o), 4, netns);
    return (o.stdout as { msg: string }).msg;
  };
  assert.match(await msg('/run/netns/does-not-exist-abc'), /cannot be opened: ENOENT/);
  assert.match(await msg('/etc/hostname'), /not a namespace file/);
  assert.match(await msg('/proc/self/ns/net'), /own network namespace/);
  assert.match(await msg(NS, { nsType: () => 0x00020000 }), /not a network namespace/);
  assert.match(await msg('relative/path'), /not an absolute path/);
});

test('config validation names the field', async () => {
  const env = { CNI_COMMAND: 'ADD', ...base };
  const m = async (c: Record<string, unknown>) => {
    const o = await run(env, JSON.stringify(c));
    assert.equal(code(o), 7, JSON.stringify(c));
    return (o.stdout as { msg: string }).msg;
  };
  assert.equal(await m({ cniVersion: '1.0.0', type: 'probe' }), 'netconf.name: is required');
  assert.equal(await m({ cniVersion: '1.0.0', name: 'n' }), 'netconf.type: is required');
  assert.equal(await m({ name: 'n', type: 'probe' }), 'netconf.cniVersion: is required');
  assert.match(await m({ cniVersion: 1, name: 'n', type: 'probe' }), /^netconf\.cniVersion: must be a version string/);
  assert.match(await m({ cniVersion: '1.0.0', name: '../x', type: 'probe' }), /^netconf\.name: must be a network name/);
  assert.match(await m({ cniVersion: '1.0.0', name: 'n', type: 'probe', bridge: 'a/b' }), /^probe\.bridge: must be an interface name/);
  assert.match(
    await m({ cniVersion: '1.0.0', name: 'n', type: 'probe', isGateway: 'yes' }),
    /^probe\.isGateway: must be true or false \(got "yes"\)/,
  );
  assert.match(await m({ cniVersion: '1.0.0', name: 'n', type: 'probe', vlan: 5000 }), /^probe\.vlan: must be integer between 0 and 4094/);
  assert.equal(await m({ cniVersion: '1.0.0', name: 'n', type: 'probe', ipam: {} }), 'probe.ipam.type: is required');
  assert.match(
    await m({ cniVersion: '1.0.0', name: 'n', type: 'probe', prevResult: { cniVersion: '1.0.0', ips: 3 } }),
    /prevResult\.ips: must be an array/,
  );
});

test('ifname and CNI_ARGS rules', () => {
  for (const bad of ['', '.', '..', 'a/b', 'a:b', 'a b', 'a\tb', 'x'.repeat(16), 'ééééééééé'])
    assert.ok(ifnameProblem(bad), JSON.stringify(bad));
  for (const good of ['eth0', 'x'.repeat(15), 'veth-1.2_3']) assert.equal(ifnameProblem(good), undefined);
  assert.deepEqual(parseCniArgs('A=1;B=x=y;;IgnoreUnknown=1'), { A: '1', B: 'x=y', IgnoreUnknown: '1' });
  assert.throws(() => parseCniArgs('A'), /not KEY=VALUE/);
});

test('validate hook receives the parsed config', async () => {
  let got: NetConf | undefined;
  await dispatch(probePlugin, { name: 'p', validate: (c) => void (got = c) }, { CNI_COMMAND: 'DEL', ...base }, conf({ x: 1 }), stub);
  assert.equal(got?.x, 1);
});
