import assert from 'node:assert/strict';
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { TsnetError } from '../../common/errors.js';
import { confinementInitConfig, deviceAllowList, resolveSecurity, rootfsInitConfig } from './security.js';

test("the default: Docker's capabilities, no_new_privs, the default seccomp profile, masked and read-only paths", () => {
  const s = resolveSecurity();
  assert.equal(s.privileged, false);
  assert.equal(s.noNewPrivileges, true);
  assert.equal(s.seccomp, 'default');
  const c = confinementInitConfig(s);
  assert.equal(c.caps, '00000000a80425fb');
  assert.equal(c.no_new_privs, 1);
  assert.equal(c.seccomp_default, 'errno:1');
  assert.ok((c.seccomp as string[]).length > 10);
  const r = rootfsInitConfig(s);
  assert.ok((r.mask as string[]).includes('/proc/kcore') && (r.mask as string[]).includes('/sys/firmware'));
  assert.deepEqual(r.ro, ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger']);
  assert.equal(r.sys_rw, undefined);
  assert.ok(deviceAllowList(s)!.includes('c 1:3 rwm'));
  assert.deepEqual(confinementInitConfig(undefined), {}, 'a container from before: as it was');
});

test('--privileged: capabilities untouched, no filter, no no_new_privs, nothing masked, every device', () => {
  const s = resolveSecurity({ privileged: true, capDrop: ['NET_RAW'] });
  assert.deepEqual(confinementInitConfig(s), { caps: undefined, no_new_privs: undefined });
  assert.deepEqual(rootfsInitConfig(s), { mask: [], ro: [], sys_rw: 1 });
  assert.equal(deviceAllowList(s), undefined);
  assert.throws(() => resolveSecurity({ privileged: true, capAdd: ['BOGUS'] }), TsnetError);
});

test('--security-opt: seccomp=unconfined|FILE, no-new-privileges, systempaths; the rest refused', () => {
  assert.equal(confinementInitConfig(resolveSecurity({ securityOpt: ['seccomp=unconfined'] })).seccomp_default, undefined);
  assert.equal(confinementInitConfig(resolveSecurity({ securityOpt: ['seccomp:unconfined'] })).caps, '00000000a80425fb');
  assert.equal(confinementInitConfig(resolveSecurity({ securityOpt: ['no-new-privileges=false'] })).no_new_privs, undefined);
  assert.deepEqual(rootfsInitConfig(resolveSecurity({ securityOpt: ['systempaths=unconfined'] })).mask, []);
  const dir = mkdtempSync(join(tmpdir(), 'tsnet-sec-'));
  try {
    const file = join(dir, 'p.json');
    writeFileSync(
      file,
      JSON.stringify({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_ERRNO', errnoRet: 13 }] }),
    );
    const c = confinementInitConfig(resolveSecurity({ securityOpt: [`seccomp=${file}`] }));
    assert.equal(c.seccomp_default, 'allow');
    assert.deepEqual(c.seccomp, ['errno:13 mkdir']);
    // --privileged with an explicit profile: filtered, as Docker does
    assert.equal(confinementInitConfig(resolveSecurity({ privileged: true, securityOpt: [`seccomp=${file}`] })).seccomp_default, 'allow');
    assert.throws(() => resolveSecurity({ securityOpt: [`seccomp=${join(dir, 'missing.json')}`] }), /cannot read it \(ENOENT\)/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  for (const opt of ['seccomp', 'apparmor=docker-default', 'label=disable', 'no-new-privileges=maybe', 'systempaths=confined', 'bogus'])
    assert.throws(() => resolveSecurity({ securityOpt: [opt] }), TsnetError, opt);
});
