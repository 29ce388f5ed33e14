import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TsnetError } from '../../common/errors.js';
import { DEFAULT_CAPS } from './capabilities.js';
import { DEFAULT_PROFILE, parseDockerProfile, seccompInitConfig } from './seccomp.js';

const namesOf = (lines: string[], action = 'allow') =>
  new Set(lines.filter((l) => l.startsWith(`${action} `) && l.split(' ').length === 2).flatMap((l) => l.split(' ')[1]!.split(',')));

test('the default profile: EPERM by default, x86 ABIs filtered too, what a program needs allowed', () => {
  const c = seccompInitConfig(DEFAULT_PROFILE, DEFAULT_CAPS, 'x64', '6.18.0');
  assert.equal(c.seccomp_default, 'errno:1');
  assert.deepEqual(c.seccomp_arch, ['x86', 'x32']);
  const allowed = namesOf(c.seccomp);
  for (const n of ['read', 'write', 'execve', 'openat', 'wait4', 'rt_sigtimedwait', 'capset', 'prctl', 'arch_prctl', 'ptrace'])
    assert.ok(allowed.has(n), n);
  for (const n of ['mount', 'umount2', 'unshare', 'setns', 'bpf', 'reboot', 'init_module', 'keyctl', 'add_key', 'userfaultfd'])
    assert.ok(!allowed.has(n), `${n} must stay denied`);
  // clone only without namespace flags; clone3 says ENOSYS so libc falls back to clone
  assert.ok(c.seccomp.includes('allow clone 0:masked_eq:2114060288:0'));
  assert.ok(c.seccomp.includes('errno:38 clone3'));
  assert.deepEqual(
    c.seccomp.filter((l) => l.startsWith('allow socket ')),
    ['allow socket 0:lt:38', 'allow socket 0:eq:39', 'allow socket 0:gt:40'],
  );
});

test('the default profile follows the capabilities, the architecture and the kernel', () => {
  const admin = seccompInitConfig(DEFAULT_PROFILE, [...DEFAULT_CAPS, 'CAP_SYS_ADMIN'], 'x64', '6.18.0').seccomp;
  assert.ok(namesOf(admin).has('mount') && namesOf(admin).has('clone3') && namesOf(admin).has('unshare'));
  assert.ok(!admin.some((l) => l.includes('masked_eq')), 'with CAP_SYS_ADMIN clone is allowed outright');
  assert.ok(!admin.includes('errno:38 clone3'));
  const ptrace = seccompInitConfig(DEFAULT_PROFILE, [...DEFAULT_CAPS, 'CAP_SYS_PTRACE'], 'x64', '6.1.0').seccomp;
  assert.ok(namesOf(ptrace).has('kcmp'));
  assert.ok(!namesOf(seccompInitConfig(DEFAULT_PROFILE, DEFAULT_CAPS, 'x64', '4.4.0').seccomp).has('ptrace'), 'ptrace only from 4.8');
  const arm = seccompInitConfig(DEFAULT_PROFILE, DEFAULT_CAPS, 'arm64', '6.1.0');
  assert.deepEqual(arm.seccomp_arch, ['arm']);
  assert.ok(namesOf(arm.seccomp).has('cacheflush') && !namesOf(arm.seccomp).has('arch_prctl'));
  assert.deepEqual(seccompInitConfig(DEFAULT_PROFILE, DEFAULT_CAPS, 'riscv64', '6.1.0').seccomp_arch, []);
});

test('a Docker-format profile: actions, errnoRet, args, includes/excludes, archMap', () => {
  const p = parseDockerProfile(
    JSON.stringify({
      defaultAction: 'SCMP_ACT_ERRNO',
      defaultErrnoRet: 38,
      archMap: [
        { architecture: 'SCMP_ARCH_X86_64', subArchitectures: ['SCMP_ARCH_X86'] },
        { architecture: 'SCMP_ARCH_RISCV64', subArchitectures: null },
      ],
      syscalls: [
        { names: ['read', 'write'], action: 'SCMP_ACT_ALLOW' },
        { name: 'mkdir', action: 'SCMP_ACT_ERRNO', errnoRet: 13 },
        { names: ['kill'], action: 'SCMP_ACT_KILL_PROCESS', args: [{ index: 1, value: 9, op: 'SCMP_CMP_EQ' }] },
        { names: ['mount'], action: 'SCMP_ACT_ALLOW', includes: { caps: ['CAP_SYS_ADMIN'] } },
        { names: ['modify_ldt'], action: 'SCMP_ACT_ALLOW', includes: { arches: ['amd64', 'x86'] } },
        { names: ['uname'], action: 'SCMP_ACT_LOG', excludes: { minKernel: '5.0' } },
        { names: ['clone'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 2114060288, op: 'SCMP_CMP_MASKED_EQ' }] },
      ],
    }),
    'p.json',
  );
  const c = seccompInitConfig(p, DEFAULT_CAPS, 'x64', '6.1.0');
  assert.equal(c.seccomp_default, 'errno:38');
  assert.deepEqual(c.seccomp_arch, ['x86']);
  assert.deepEqual(c.seccomp, [
    'allow read,write',
    'errno:13 mkdir',
    'kill_process kill 1:eq:9',
    'allow modify_ldt',
    'allow clone 0:masked_eq:2114060288:0',
  ]);
  assert.ok(seccompInitConfig(p, DEFAULT_CAPS, 'x64', '4.19.0').seccomp.includes('log uname'));
  assert.ok(seccompInitConfig(p, [...DEFAULT_CAPS, 'CAP_SYS_ADMIN'], 'x64', '6.1.0').seccomp.includes('allow mount'));
});

test('a profile tsnet cannot apply is refused with the entry named', () => {
  const bad = (doc: unknown, re: RegExp) =>
    assert.throws(
      () => parseDockerProfile(typeof doc === 'string' ? doc : JSON.stringify(doc), 'p.json'),
      (e: TsnetError) => e instanceof TsnetError && e.thing === '--security-opt seccomp=p.json' && re.test(e.reason),
    );
  bad('{', /not JSON/);
  bad({ defaultAction: 'SCMP_ACT_NOTIFY' }, /defaultAction: action "SCMP_ACT_NOTIFY" is not supported/);
  bad({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['read'], action: 'SCMP_ACT_TRACE' }] }, /syscalls\[0\]: action/);
  bad(
    {
      defaultAction: 'SCMP_ACT_ALLOW',
      syscalls: [{ names: ['read'], action: 'SCMP_ACT_ALLOW', args: [{ index: 6, value: 1, op: 'SCMP_CMP_EQ' }] }],
    },
    /index must be 0-5/,
  );
  bad(
    {
      defaultAction: 'SCMP_ACT_ALLOW',
      syscalls: [{ names: ['read'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 1, op: 'SCMP_CMP_LIKE' }] }],
    },
    /op "SCMP_CMP_LIKE"/,
  );
  bad({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['re ad'], action: 'SCMP_ACT_ALLOW' }] }, /not a name/);
  bad({ defaultAction: 'SCMP_ACT_ALLOW', flags: ['SECCOMP_FILTER_FLAG_LOG'] }, /"flags" are not supported/);
  bad({ defaultAction: 'SCMP_ACT_ALLOW', architectures: ['SCMP_ARCH_X86_64'], archMap: [{ architecture: 'SCMP_ARCH_X86_64' }] }, /both/);
});
