// `tsnet cni …` end to end with the reference plugins: add prints the result JSON, check and del succeed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ipj, needsRoot, world } from '../../netns-tests/harness.js';
import { ResultCache } from '../../plugins/cni/cache.js';
import { cniCommands, defaultContainerId, netnsPath } from './cni-commands.js';
import { Invoker } from '../../plugins/cni/invoke.js';

async function runCli(args: string[], invoker: () => Invoker): Promise<string> {
  let out = '';
  await cniCommands({ invoker, out: (s) => void (out += s) })
    .exitOverride()
    .parseAsync(args, { from: 'user' });
  return out;
}

test('netns argument and default container ID', () => {
  assert.equal(netnsPath('blue'), '/run/netns/blue');
  assert.equal(netnsPath('/proc/42/ns/net'), '/proc/42/ns/net');
  assert.equal(defaultContainerId('/run/netns/a'), defaultContainerId('/run/netns/a'));
  assert.match(defaultContainerId('/run/netns/a'), /^tsnet-[0-9a-f]{24}$/);
});

const skip = needsRoot || (!existsSync('/usr/lib/cni/bridge') && 'reference plugins not installed');

test('cni add/check/del with a reference bridge conflist', { skip }, async (t) => {
  const w = world(t);
  const ns = w.netns('cli');
  const br = w.linkName('br');
  const dir = w.tmpdir();
  const confDir = join(dir, 'net.d');
  mkdirSync(confDir);
  const s = `10.${200 + Math.floor(Math.random() * 50)}.${Math.floor(Math.random() * 256)}`;
  writeFileSync(
    join(confDir, 'cli.conflist'),
    JSON.stringify({
      cniVersion: '1.0.0',
      name: `cli-${w.id}`,
      plugins: [{ type: 'bridge', bridge: br, ipam: { type: 'host-local', subnet: `${s}.0/24`, dataDir: join(dir, 'ipam') } }],
    }),
  );
  const invoker = () => new Invoker({ path: ['/usr/lib/cni'], cache: new ResultCache(join(dir, 'cache')) });
  const res = JSON.parse(
    await runCli(['add', `cli-${w.id}`, ns, '--ifname', 'net1', '--conf-dir', confDir, '--args', 'IgnoreUnknown=1;FOO=bar'], invoker),
  );
  assert.equal(res.cniVersion, '1.0.0');
  assert.ok(ipj(ns, 'addr', 'show', 'dev', 'net1')[0].addr_info.some((a: any) => `${a.local}/${a.prefixlen}` === res.ips[0].address));
  assert.deepEqual(JSON.parse(await runCli(['check', `cli-${w.id}`, ns, '--ifname', 'net1', '--conf-dir', confDir], invoker)), {
    ok: true,
  });
  await runCli(['del', `cli-${w.id}`, ns, '--ifname', 'net1', '--conf-dir', confDir], invoker);
  assert.equal(
    ipj(ns, 'link', 'show').some((l: any) => l.ifname === 'net1'),
    false,
  );
});
