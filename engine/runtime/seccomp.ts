// Seccomp for containers: Docker's default profile as data, the Docker profile format (`--security-opt
// seccomp=FILE`), and their rendering into the init helper's `seccomp…` config lines (native/init/tsnet-init.c
// builds the filter with libseccomp).
//
// DEFAULT_PROFILE follows moby's profiles/seccomp/default.json: deny with EPERM, allow the syscalls a normal
// program makes, allow more when the container holds the capability that makes them safe (mount with
// CAP_SYS_ADMIN, ptrace with CAP_SYS_PTRACE …), clone without namespace flags, clone3 answered with ENOSYS
// (so libc falls back to clone, whose flags the filter can see), socket for every family but AF_ALG and
// AF_VSOCK, personality only for the harmless personas; architecture-specific entries for each architecture
// Docker knows.
import { readFileSync } from 'node:fs';
import { release } from 'node:os';
import { TsnetError } from '../../common/errors.js';
import type { Capability } from './capabilities.js';

export type SeccompAction = 'allow' | `errno:${number}` | 'kill_thread' | 'kill_process' | 'trap' | 'log';
export type SeccompOp = 'ne' | 'lt' | 'le' | 'eq' | 'ge' | 'gt' | 'masked_eq';

export interface SeccompArg {
  index: number;
  op: SeccompOp;
  /** For masked_eq: the mask. */
  value: number;
  /** For masked_eq: what the masked argument must equal. */
  valueTwo?: number;
}

export interface SeccompRule {
  names: string[];
  action: SeccompAction;
  /** All must hold. */
  args?: SeccompArg[];
  /** Only when the container holds every one of these capabilities. */
  ifCaps?: Capability[];
  /** Only when the container holds none of these. */
  unlessCaps?: Capability[];
  /** Only on these architectures (Node's process.arch names). */
  arches?: string[];
  /** Never on these architectures. */
  unlessArches?: string[];
  /** Only on kernels at least this new, [major, minor]. */
  minKernel?: [number, number];
  /** Only on kernels older than this. */
  belowKernel?: [number, number];
}

export interface SeccompProfile {
  defaultAction: SeccompAction;
  /** Per native architecture (process.arch), the other ABIs the filter also covers (libseccomp names). */
  subArches?: Record<string, string[]>;
  rules: SeccompRule[];
}

const EPERM = 1;
const ENOSYS = 38;
const words = (s: TemplateStringsArray) => s[0]!.trim().split(/\s+/);

/** Docker's default profile. */
export const DEFAULT_PROFILE: SeccompProfile = {
  defaultAction: `errno:${EPERM}`,
  subArches: { x64: ['x86', 'x32'], arm64: ['arm'], s390x: ['s390'] },
  rules: [
    {
      action: 'allow',
      names: words`
        accept accept4 access adjtimex alarm
        bind brk
        cachestat capget capset chdir chmod chown chown32 clock_adjtime clock_adjtime64 clock_getres clock_getres_time64
        clock_gettime clock_gettime64 clock_nanosleep clock_nanosleep_time64 close close_range connect copy_file_range creat
        dup dup2 dup3
        epoll_create epoll_create1 epoll_ctl epoll_ctl_old epoll_pwait epoll_pwait2 epoll_wait epoll_wait_old eventfd eventfd2
        execve execveat exit exit_group
        faccessat faccessat2 fadvise64 fadvise64_64 fallocate fanotify_mark fchdir fchmod fchmodat fchmodat2 fchown fchown32
        fchownat fcntl fcntl64 fdatasync fgetxattr flistxattr flock fork fremovexattr fsetxattr fstat fstat64 fstatat64 fstatfs
        fstatfs64 fsync ftruncate ftruncate64 futex futex_requeue futex_time64 futex_wait futex_waitv futex_wake futimesat
        get_robust_list get_thread_area getcpu getcwd getdents getdents64 getegid getegid32 geteuid geteuid32 getgid getgid32
        getgroups getgroups32 getitimer getpeername getpgid getpgrp getpid getppid getpriority getrandom getresgid getresgid32
        getresuid getresuid32 getrlimit getrusage getsid getsockname getsockopt gettid gettimeofday getuid getuid32 getxattr
        getxattrat
        inotify_add_watch inotify_init inotify_init1 inotify_rm_watch io_cancel io_destroy io_getevents io_pgetevents
        io_pgetevents_time64 io_setup io_submit ioctl ioprio_get ioprio_set ipc
        kill
        landlock_add_rule landlock_create_ruleset landlock_restrict_self lchown lchown32 lgetxattr link linkat listen listmount
        listxattr listxattrat llistxattr _llseek lremovexattr lseek lsetxattr lstat lstat64
        madvise map_shadow_stack membarrier memfd_create memfd_secret mincore mkdir mkdirat mknod mknodat mlock mlock2 mlockall mmap
        mmap2 mprotect mq_getsetattr mq_notify mq_open mq_timedreceive mq_timedreceive_time64 mq_timedsend mq_timedsend_time64
        mq_unlink mremap mseal msgctl msgget msgrcv msgsnd msync munlock munlockall munmap
        name_to_handle_at nanosleep newfstatat _newselect
        open openat openat2
        pause pidfd_open pidfd_send_signal pipe pipe2 pkey_alloc pkey_free pkey_mprotect poll ppoll ppoll_time64 prctl pread64
        preadv preadv2 prlimit64 process_mrelease pselect6 pselect6_time64 pwrite64 pwritev pwritev2
        read readahead readlink readlinkat readv recv recvfrom recvmmsg recvmmsg_time64 recvmsg remap_file_pages removexattr
        removexattrat rename renameat renameat2 restart_syscall riscv_hwprobe rmdir rseq rt_sigaction rt_sigpending rt_sigprocmask
        rt_sigqueueinfo rt_sigreturn rt_sigsuspend rt_sigtimedwait rt_sigtimedwait_time64 rt_tgsigqueueinfo
        sched_get_priority_max sched_get_priority_min sched_getaffinity sched_getattr sched_getparam sched_getscheduler
        sched_rr_get_interval sched_rr_get_interval_time64 sched_setaffinity sched_setattr sched_setparam sched_setscheduler
        sched_yield seccomp select semctl semget semop semtimedop semtimedop_time64 send sendfile sendfile64 sendmmsg sendmsg sendto
        set_robust_list set_thread_area set_tid_address setfsgid setfsgid32 setfsuid setfsuid32 setgid setgid32 setgroups
        setgroups32 setitimer setpgid setpriority setregid setregid32 setresgid setresgid32 setresuid setresuid32 setreuid
        setreuid32 setrlimit setsid setsockopt setuid setuid32 setxattr setxattrat shmat shmctl shmdt shmget shutdown sigaltstack
        signalfd signalfd4 sigprocmask sigreturn socketcall socketpair splice stat stat64 statfs statfs64 statmount statx symlink
        symlinkat sync sync_file_range syncfs sysinfo
        tee tgkill time timer_create timer_delete timer_getoverrun timer_gettime timer_gettime64 timer_settime timer_settime64
        timerfd_create timerfd_gettime timerfd_gettime64 timerfd_settime timerfd_settime64 times tkill truncate truncate64
        ugetrlimit umask uname unlink unlinkat uretprobe utime utimensat utimensat_time64 utimes
        vfork vmsplice
        wait4 waitid waitpid write writev
          `,
    },
    { action: 'allow', names: words`process_vm_readv process_vm_writev ptrace`, minKernel: [4, 8] },
    // every address family but AF_ALG (38) and AF_VSOCK (40): three rules, since one rule holds one comparison per argument
    { action: 'allow', names: ['socket'], args: [{ index: 0, op: 'lt', value: 38 }] },
    { action: 'allow', names: ['socket'], args: [{ index: 0, op: 'eq', value: 39 }] },
    { action: 'allow', names: ['socket'], args: [{ index: 0, op: 'gt', value: 40 }] },
    // PER_LINUX, UNAME26, PER_LINUX32, PER_LINUX32|UNAME26, and the query (0xffffffff)
    ...[0x0, 0x8, 0x20000, 0x20008, 0xffffffff].map((p): SeccompRule => ({
      action: 'allow',
      names: ['personality'],
      args: [{ index: 0, op: 'eq', value: p }],
    })),
    { action: 'allow', names: ['arch_prctl'], arches: ['x64'] },
    { action: 'allow', names: ['modify_ldt'], arches: ['x64', 'ia32'] },
    {
      action: 'allow',
      names: words`arm_fadvise64_64 arm_sync_file_range sync_file_range2 breakpoint cacheflush set_tls`,
      arches: ['arm', 'arm64'],
    },
    { action: 'allow', names: words`sync_file_range2 swapcontext`, arches: ['ppc64'] },
    { action: 'allow', names: words`s390_pci_mmio_read s390_pci_mmio_write s390_runtime_instr`, arches: ['s390', 's390x'] },
    { action: 'allow', names: ['riscv_flush_icache'], arches: ['riscv64'] },
    { action: 'allow', names: ['open_by_handle_at'], ifCaps: ['CAP_DAC_READ_SEARCH'] },
    {
      action: 'allow',
      names: words`
        bpf clone clone3 fanotify_init fsconfig fsmount fsopen fspick lookup_dcookie lsm_get_self_attr lsm_list_modules
        lsm_set_self_attr mount mount_setattr move_mount open_tree perf_event_open quotactl quotactl_fd setdomainname
        sethostname setns syslog umount umount2 unshare
      `,
      ifCaps: ['CAP_SYS_ADMIN'],
    },
    // clone without any CLONE_NEW* flag (mask 0x7e020000: NEWNS, NEWCGROUP, NEWUTS, NEWIPC, NEWUSER, NEWPID, NEWNET)
    {
      action: 'allow',
      names: ['clone'],
      args: [{ index: 0, op: 'masked_eq', value: 0x7e020000, valueTwo: 0 }],
      unlessCaps: ['CAP_SYS_ADMIN'],
      unlessArches: ['s390', 's390x'],
    },
    // s390's clone takes the flags second
    {
      action: 'allow',
      names: ['clone'],
      args: [{ index: 1, op: 'masked_eq', value: 0x7e020000, valueTwo: 0 }],
      unlessCaps: ['CAP_SYS_ADMIN'],
      arches: ['s390', 's390x'],
    },
    { action: `errno:${ENOSYS}`, names: ['clone3'], unlessCaps: ['CAP_SYS_ADMIN'] },
    { action: 'allow', names: ['reboot'], ifCaps: ['CAP_SYS_BOOT'] },
    { action: 'allow', names: ['chroot'], ifCaps: ['CAP_SYS_CHROOT'] },
    { action: 'allow', names: words`delete_module init_module finit_module`, ifCaps: ['CAP_SYS_MODULE'] },
    { action: 'allow', names: ['acct'], ifCaps: ['CAP_SYS_PACCT'] },
    {
      action: 'allow',
      names: words`kcmp pidfd_getfd process_madvise process_vm_readv process_vm_writev ptrace`,
      ifCaps: ['CAP_SYS_PTRACE'],
    },
    { action: 'allow', names: words`iopl ioperm`, ifCaps: ['CAP_SYS_RAWIO'] },
    { action: 'allow', names: words`settimeofday stime clock_settime clock_settime64`, ifCaps: ['CAP_SYS_TIME'] },
    { action: 'allow', names: ['vhangup'], ifCaps: ['CAP_SYS_TTY_CONFIG'] },
    { action: 'allow', names: words`get_mempolicy mbind set_mempolicy set_mempolicy_home_node`, ifCaps: ['CAP_SYS_NICE'] },
    { action: 'allow', names: ['syslog'], ifCaps: ['CAP_SYSLOG'] },
    { action: 'allow', names: ['bpf'], ifCaps: ['CAP_BPF'] },
    { action: 'allow', names: ['perf_event_open'], ifCaps: ['CAP_PERFMON'] },
  ],
};

/** The init helper's config keys for a profile, given the container's capabilities, the machine and kernel. */
export function seccompInitConfig(
  profile: SeccompProfile,
  caps: readonly string[],
  arch: string = process.arch,
  kernel: string = release(),
): { seccomp_default: string; seccomp_arch: string[]; seccomp: string[] } {
  const [kMajor = 0, kMinor = 0] = kernel.split(/[.-]/).map(Number);
  const atLeast = ([major, minor]: [number, number]) => kMajor > major || (kMajor === major && kMinor >= minor);
  const applies = (r: SeccompRule) =>
    (!r.arches || r.arches.includes(arch)) &&
    !r.unlessArches?.includes(arch) &&
    (!r.minKernel || atLeast(r.minKernel)) &&
    (!r.belowKernel || !atLeast(r.belowKernel)) &&
    (r.ifCaps ?? []).every((c) => caps.includes(c)) &&
    !(r.unlessCaps ?? []).some((c) => caps.includes(c));
  const cond = (a: SeccompArg) => `${a.index}:${a.op}:${a.value}${a.op === 'masked_eq' ? `:${a.valueTwo ?? 0}` : ''}`;
  return {
    seccomp_default: profile.defaultAction,
    seccomp_arch: profile.subArches?.[arch] ?? [],
    seccomp: profile.rules.filter(applies).map((r) => [r.action, r.names.join(','), ...(r.args ?? []).map(cond)].join(' ')),
  };
}

// ---- Docker's profile format (`docker run --security-opt seccomp=FILE` takes the same files) ----

/** The architecture names a Docker profile's includes/excludes.arches use (moby's goToNative) → process.arch. */
const PROFILE_ARCH: Record<string, string> = {
  amd64: 'x64',
  x86: 'ia32',
  arm64: 'arm64',
  arm: 'arm',
  ppc: 'ppc',
  ppc64le: 'ppc64',
  s390: 's390',
  s390x: 's390x',
  riscv64: 'riscv64',
  loongarch64: 'loong64',
  mipsel: 'mipsel',
  mips64: 'mips64',
  mipsel64: 'mips64el',
};
/** A Docker profile's SCMP_ARCH_… (archMap architecture) → Node's process.arch. */
const SCMP_NATIVE: Record<string, string> = {
  SCMP_ARCH_X86_64: 'x64',
  SCMP_ARCH_X86: 'ia32',
  SCMP_ARCH_AARCH64: 'arm64',
  SCMP_ARCH_ARM: 'arm',
  SCMP_ARCH_PPC64LE: 'ppc64',
  SCMP_ARCH_S390X: 's390x',
  SCMP_ARCH_RISCV64: 'riscv64',
};
const ACTIONS: Record<string, SeccompAction | undefined> = {
  SCMP_ACT_ALLOW: 'allow',
  SCMP_ACT_KILL: 'kill_thread',
  SCMP_ACT_KILL_THREAD: 'kill_thread',
  SCMP_ACT_KILL_PROCESS: 'kill_process',
  SCMP_ACT_TRAP: 'trap',
  SCMP_ACT_LOG: 'log',
};
const OPS: Record<string, SeccompOp> = {
  SCMP_CMP_NE: 'ne',
  SCMP_CMP_LT: 'lt',
  SCMP_CMP_LE: 'le',
  SCMP_CMP_EQ: 'eq',
  SCMP_CMP_GE: 'ge',
  SCMP_CMP_GT: 'gt',
  SCMP_CMP_MASKED_EQ: 'masked_eq',
};

type Json = Record<string, unknown>;

/** Parses a profile in Docker's JSON format; every error names the file and the entry. */
export function parseDockerProfile(text: string, file: string): SeccompProfile {
  const bad = (reason: string, fix = "see Docker's seccomp profile format (moby's profiles/seccomp/default.json)") =>
    new TsnetError(`--security-opt seccomp=${file}`, reason, fix);
  let doc: Json;
  try {
    doc = JSON.parse(text) as Json;
  } catch (e) {
    throw bad(`not JSON (${(e as Error).message})`, 'give a seccomp profile in JSON');
  }
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) throw bad('not a JSON object');
  if (doc.flags !== undefined && !(Array.isArray(doc.flags) && doc.flags.length === 0))
    throw bad('"flags" are not supported', 'remove "flags" from the profile');
  if (doc.listenerPath) throw bad('"listenerPath" (SCMP_ACT_NOTIFY) is not supported', 'remove it and the rules that notify');
  const action = (a: unknown, errnoRet: unknown, where: string): SeccompAction => {
    if (a === 'SCMP_ACT_ERRNO') {
      const n = errnoRet ?? EPERM;
      if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > 4095) throw bad(`${where}: errnoRet ${String(n)} is not an errno`);
      return `errno:${n}`;
    }
    const mapped = ACTIONS[String(a)];
    if (!mapped)
      throw bad(`${where}: action ${JSON.stringify(a)} is not supported`, `use one of SCMP_ACT_ERRNO, ${Object.keys(ACTIONS).join(', ')}`);
    return mapped;
  };
  const strings = (v: unknown, where: string): string[] => {
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) throw bad(`${where} must be a list of strings`);
    return v as string[];
  };
  const libArch = (s: string) => s.replace(/^SCMP_ARCH_/, '').toLowerCase();

  const subArches: Record<string, string[]> = {};
  for (const m of (doc.archMap as Json[] | undefined) ?? []) {
    const native = SCMP_NATIVE[String(m.architecture)];
    if (native) subArches[native] = strings(m.subArchitectures, 'archMap subArchitectures').map(libArch);
  }
  const listed = strings(doc.architectures, 'architectures').map(libArch);
  if (listed.length && Object.keys(subArches).length) throw bad('both "architectures" and "archMap" are given', 'keep one of them');
  if (listed.length) for (const native of Object.values(SCMP_NATIVE)) subArches[native] = listed;

  const calls = doc.syscalls ?? [];
  if (!Array.isArray(calls)) throw bad('"syscalls" must be a list');
  const rules = (calls as Json[]).map((c, i): SeccompRule => {
    const where = `syscalls[${i}]`;
    if (c.name !== undefined && c.names !== undefined) throw bad(`${where} has both "name" and "names"`, 'keep one of them');
    const names = c.names !== undefined ? strings(c.names, `${where}.names`) : typeof c.name === 'string' ? [c.name] : [];
    if (!names.length) throw bad(`${where} names no syscall`);
    if (names.some((n) => !/^[a-z0-9_]+$/.test(n))) throw bad(`${where}: a syscall name is not a name`);
    const args = ((c.args as Json[] | null | undefined) ?? []).map((a, j): SeccompArg => {
      const op = OPS[String(a.op)];
      const index = a.index;
      if (!op) throw bad(`${where}.args[${j}]: op ${JSON.stringify(a.op)} is not known`, `use one of ${Object.keys(OPS).join(', ')}`);
      if (typeof index !== 'number' || !Number.isInteger(index) || index < 0 || index > 5)
        throw bad(`${where}.args[${j}]: index must be 0-5`);
      for (const v of [a.value, a.valueTwo ?? 0])
        if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw bad(`${where}.args[${j}]: values must be integers ≥ 0`);
      return { index, op, value: a.value as number, ...(a.valueTwo !== undefined ? { valueTwo: a.valueTwo as number } : {}) };
    });
    const inc = (c.includes ?? {}) as Json;
    const exc = (c.excludes ?? {}) as Json;
    const version = (v: unknown, key: string): [number, number] | undefined => {
      if (v === undefined || v === null) return undefined;
      const m = /^(\d+)\.(\d+)/.exec(String(v));
      if (!m) throw bad(`${where}: ${key}.minKernel ${JSON.stringify(v)} is not a version`);
      return [Number(m[1]), Number(m[2])];
    };
    const minKernel = version(inc.minKernel, 'includes');
    const belowKernel = version(exc.minKernel, 'excludes');
    const arches = strings(inc.arches, `${where}.includes.arches`);
    const unlessArches = strings(exc.arches, `${where}.excludes.arches`);
    const ifCaps = strings(inc.caps, `${where}.includes.caps`);
    const unlessCaps = strings(exc.caps, `${where}.excludes.caps`);
    return {
      names,
      action: action(c.action, c.errnoRet, where),
      ...(args.length ? { args } : {}),
      ...(ifCaps.length ? { ifCaps: ifCaps as Capability[] } : {}),
      ...(unlessCaps.length ? { unlessCaps: unlessCaps as Capability[] } : {}),
      ...(arches.length ? { arches: arches.map((a) => PROFILE_ARCH[a] ?? a) } : {}),
      ...(unlessArches.length ? { unlessArches: unlessArches.map((a) => PROFILE_ARCH[a] ?? a) } : {}),
      ...(minKernel ? { minKernel } : {}),
      ...(belowKernel ? { belowKernel } : {}),
    };
  });
  return { defaultAction: action(doc.defaultAction, doc.defaultErrnoRet, 'defaultAction'), subArches, rules };
}

/** Reads and parses `--security-opt seccomp=FILE`. */
export function loadSeccompFile(file: string): SeccompProfile {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new TsnetError(
      `--security-opt seccomp=${file}`,
      `cannot read it (${(e as NodeJS.ErrnoException).code})`,
      'give the path of a JSON profile',
    );
  }
  return parseDockerProfile(text, file);
}
