import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TsnetError } from '../../common/errors.js';
import { parseDriverOpts, parseLimits, securityOptions } from './options.js';

test('sizes and cpu limits: --memory, --cpus and --pids-limit', () => {
  assert.deepEqual(parseLimits({ memory: '64m', cpus: '1.5', pidsLimit: '20' }), { memory: 64 * 1024 * 1024, cpus: 1.5, pidsLimit: 20 });
  assert.throws(() => parseLimits({ pidsLimit: '0' }), TsnetError);
  assert.throws(() => parseLimits({ cpus: '-1' }), TsnetError);
});

test('--cap-add/--cap-drop take comma lists too; --security-opt is kept as given', () => {
  assert.deepEqual(securityOptions({ capAdd: ['NET_ADMIN,SYS_PTRACE'], capDrop: ['NET_RAW'], securityOpt: ['seccomp=unconfined'] }), {
    privileged: false,
    capAdd: ['NET_ADMIN', 'SYS_PTRACE'],
    capDrop: ['NET_RAW'],
    securityOpt: ['seccomp=unconfined'],
  });
});

test("network create -o: icc and docker's bridge driver keys", () => {
  assert.deepEqual(parseDriverOpts(['icc=false']), { icc: false });
  assert.deepEqual(parseDriverOpts(['com.docker.network.bridge.enable_icc=false']), { icc: false });
  assert.deepEqual(
    parseDriverOpts([
      'com.docker.network.bridge.enable_icc=true',
      'com.docker.network.bridge.name=br-web',
      'com.docker.network.bridge.enable_ip_masquerade=false',
      'com.docker.network.driver.mtu=1400',
    ]),
    { icc: true, bridge: 'br-web', ipMasq: false, mtu: 1400 },
  );
  assert.deepEqual(parseDriverOpts(['bridge=br-x', 'mtu=1450', 'masquerade=false']), { bridge: 'br-x', mtu: 1450, ipMasq: false });
  assert.deepEqual(parseDriverOpts(), {});
  assert.throws(() => parseDriverOpts(['icc=maybe']), /'maybe' is not true or false/);
  assert.throws(() => parseDriverOpts(['nosuch=1']), /unknown driver option 'nosuch'.*known: icc/);
  assert.throws(() => parseDriverOpts(['com.docker.network.driver.mtu=9']), /not an MTU/);
  assert.throws(() => parseDriverOpts(['com.docker.network.bridge.name=a/b']), /interface name/);
});
