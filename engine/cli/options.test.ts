import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TsnetError } from '../../common/errors.js';
import { parseLimits, securityOptions } from './options.js';

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
