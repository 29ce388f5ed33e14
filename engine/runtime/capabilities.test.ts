import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TsnetError } from '../../common/errors.js';
import { ALL_CAPS, capMask, capName, DEFAULT_CAPS, resolveCaps } from './capabilities.js';

test("Docker's default set is CapEff 00000000a80425fb", () => {
  assert.equal(DEFAULT_CAPS.length, 14);
  assert.equal(capMask(DEFAULT_CAPS), '00000000a80425fb');
  assert.equal(capMask(ALL_CAPS), '000001ffffffffff');
  assert.equal(ALL_CAPS.indexOf('CAP_NET_ADMIN'), 12);
  assert.equal(ALL_CAPS.indexOf('CAP_SYS_ADMIN'), 21);
});

test('capability names: any case, with or without CAP_, ALL; anything else is refused', () => {
  assert.equal(capName('net_admin'), 'CAP_NET_ADMIN');
  assert.equal(capName('CAP_SYS_PTRACE'), 'CAP_SYS_PTRACE');
  assert.equal(capName('all'), 'ALL');
  assert.throws(
    () => capName('NET_ADMINS'),
    (e: TsnetError) => e instanceof TsnetError && /not a Linux capability/.test(e.reason),
  );
});

test('--cap-add/--cap-drop combine as Docker combines them', () => {
  assert.deepEqual(
    resolveCaps(),
    [...DEFAULT_CAPS].sort((a, b) => ALL_CAPS.indexOf(a) - ALL_CAPS.indexOf(b)),
  );
  assert.equal(capMask(resolveCaps(['NET_ADMIN'])), '00000000a80435fb');
  assert.equal(capMask(resolveCaps(['NET_ADMIN'], ['NET_RAW'])), '00000000a80415fb');
  assert.deepEqual(resolveCaps(['CHOWN'], ['ALL']), ['CAP_CHOWN']);
  assert.deepEqual(resolveCaps([], ['ALL']), []);
  assert.equal(resolveCaps(['ALL'], ['SYS_ADMIN']).length, ALL_CAPS.length - 1);
  assert.ok(!resolveCaps(['ALL'], ['SYS_ADMIN']).includes('CAP_SYS_ADMIN'));
  // added and dropped: the add wins, as in Docker
  assert.ok(resolveCaps(['NET_RAW'], ['NET_RAW']).includes('CAP_NET_RAW'));
});
