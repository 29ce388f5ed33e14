/*
 * tsnet-init — the process that becomes a tsnet container.
 *
 * Usage
 *   tsnet-init run CONFIG        start a container described by CONFIG (see below)
 *   tsnet-init exec CONFIG       run a command inside a running container (joins its namespaces and cgroups)
 *   tsnet-init whiteouts DIR     convert docker-style whiteouts in an extracted layer to overlayfs form
 *                                (.wh.NAME -> char device 0:0 NAME, .wh..wh..opq -> trusted.overlay.opaque=y)
 *
 * CONFIG is a line file written by the engine: `key=value`, one per line, keys may repeat (lists keep their
 * order). In values, `\n` means a newline and `\\` a backslash; nothing else is escaped.
 *
 *   run keys
 *     rootfs=DIR        where the overlay is mounted (inside the container's private mount namespace)
 *     lower=DIR         an image layer, repeated, top-most first (overlayfs lowerdir order)
 *     upper=DIR work=DIR the container's writable layer and overlayfs work dir
 *     netns=PATH        network namespace to join (/run/netns/X or /proc/PID/ns/net); absent = stay (host mode)
 *     lo_up=1           bring `lo` up after joining netns (fresh namespaces for none/bridge)
 *     hostname=NAME     UTS hostname
 *     cgroup=DIR        a cgroup directory to join (repeated: one per v1 hierarchy, or one v2 dir)
 *     bind=DST<TAB>SRC  bind-mount host file SRC at DST inside the container (for /etc/hosts, resolv.conf, hostname)
 *     env=K=V           environment of the command (repeated); the helper's own environment is not passed
 *     cwd=DIR           working directory inside the container (default /)
 *     pidfile=PATH      written (atomically) with "<pid>\n" — the container's pid 1 as seen from the host —
 *                       once the command has been exec'd
 *     exitfile=PATH     written (atomically) with "<code>\n" when the container ends (128+N if killed by signal N)
 *     arg=WORD          the command and its arguments (repeated, at least one)
 *     holdfds=N         fds 3..3+N-1 are kept open by the supervisor (close-on-exec; not in the container)
 *     onexit=WORD       a command (repeated words) the supervisor execs after writing exitfile (engine cleanup hook)
 *     notify=FD         a unix stream socket (fd >= 3+holdfds; close-on-exec, not in the container) on which the
 *                       supervisor tells the engine "pid <pid>\n" once the command is exec'd and "exit <code>\n"
 *                       once it ended (after writing exitfile), then reads one byte: an answer means the engine
 *                       has done the cleanup itself (a foreground `tsnet run`) and the supervisor exits with the
 *                       code, without the hook; end of file (the engine closed it, or died) means it execs onexit
 *     go=1              (with notify) the engine starts the helper before the container's network is ready: the
 *                       container's pid 1 joins its namespaces and cgroups (joining a v1 cgroup waits for an RCU
 *                       grace period, ~10-20 ms here, spent so while the engine adds the network), builds the
 *                       rootfs (the bind= sources must exist: the engine fills them in place later), confines
 *                       itself, and then waits for the engine's word on notify: "go\n" (network added, /etc files
 *                       written: the command is exec'd) or "no\n" (the engine gave up and cleans up itself: the
 *                       helper exits 125, with no exitfile and no hook). End of file first (the engine died) is a
 *                       setup failure like any other: exitfile, then onexit
 *     mask=PATH         a path (inside the container) hidden after pivot_root: /dev/null bound over a file, an
 *                       empty read-only tmpfs over a directory; absent paths are skipped (repeated)
 *     ro=PATH           a path made read-only (bound onto itself, remounted ro,nosuid,nodev,noexec) (repeated)
 *     sys_rw=1          mount /sys read-write (default: read-only)
 *
 *   confinement keys (run and exec; applied to the container's pid 1 and to the command, after the setup
 *   that needs privilege, right before the command is exec'd):
 *     caps=HEX          the capabilities kept, as a 64-bit mask: the bounding set is cut to it, permitted and
 *                       effective set to it (as far as the helper holds them), inheritable and ambient cleared.
 *                       Absent: capabilities are left as the helper has them (--privileged)
 *     no_new_privs=1    prctl(PR_SET_NO_NEW_PRIVS)
 *     seccomp_default=ACTION   a seccomp filter is loaded (libseccomp) with this default action:
 *                       allow | errno:N | kill_thread | kill_process | trap | log
 *     seccomp_arch=NAME an architecture the filter also covers besides the native one, e.g. x86, x32 (repeated)
 *     seccomp=ACTION NAME[,NAME…] [ARG:OP:VALUE[:VALUE2]]…   a rule (repeated): the syscalls, by name (names
 *                       libseccomp does not know are skipped), and conditions on their arguments, all of which
 *                       must hold: ARG 0-5, OP ne lt le eq ge gt masked_eq (VALUE = mask, VALUE2 = datum)
 *     seccomp_cache=DIR where compiled filters are kept (by a hash of libseccomp's version and the seccomp
 *                       lines, which the file holds too and must match): the same filter is compiled once
 *
 *   exec keys: pid=PID (the container's pid 1), cgroup=, env=, cwd=, arg= and the confinement keys as above.
 *
 * Process layout (run)
 *   supervisor (host pid ns, stays outside the container's cgroup) — unshare(CLONE_NEWPID) then fork:
 *     reaper = pid 1 of the new pid ns: unshares mount/uts/ipc, joins netns + cgroup, unshares the cgroup
 *     namespace (the container sees its own cgroup as the root), builds the rootfs, pivot_root, masks and
 *     read-only paths, then confines itself (capabilities, no_new_privs, seccomp: what the command gets too,
 *     so the container's pid 1 is no way around them), forks the command (pid 2) and, like tini, forwards
 *     signals to it and reaps every zombie; it exits with the command's exit code as soon as the command exits
 *     (the kernel then kills whatever else is left in the pid namespace). It keeps no fd but 0, 1, 2.
 *   A CLOEXEC pipe tells the supervisor whether the command was exec'd (EOF) or why setup failed (text).
 *   The supervisor writes pidfile, waits, writes exitfile, then execs onexit. Signals it receives
 *   (TERM, INT, HUP, QUIT, USR1, USR2) are forwarded to the reaper.
 *   stdout/stderr are whatever the engine gave the supervisor (a log file for -d, pipes in the foreground).
 *   Every other fd the helper inherited is closed as it starts (run and exec): nothing but 0, 1, 2 crosses
 *   into a container or the exit hook.
 *
 * Exit codes: the command's; 125 when the container could not be set up; 126 cannot exec; 127 not found.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <inttypes.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <sys/mman.h>
#include <ftw.h>
#include <limits.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <sys/xattr.h>
#include <unistd.h>

#define MAX_LIST 1024

struct list {
  char *v[MAX_LIST + 1];
  int n;
};

struct config {
  const char *rootfs, *upper, *work, *netns, *hostname, *cwd, *pidfile, *exitfile, *seccomp_default, *seccomp_cache;
  int lo_up, sys_rw, no_new_privs, has_caps, holdfds, notify, go;
  uint64_t caps;
  long pid;
  struct list lower, cgroup, bind, env, arg, onexit, mask, ro, seccomp_arch, seccomp;
};

static int sync_fd = -1; /* write end of the setup-status pipe, in the reaper and the command */
static int go_fd = -1;   /* go=1: the reaper's end of the supervisor's go socket, in the reaper until the engine's word */

static void mkdirs(const char *path, mode_t mode);

/* TSNET_TRACE set: a phase timestamp on stderr, in the engine's format (common/trace.ts):
 * `tsnet-trace <pid> <epoch ms> <phase>` — the supervisor's side of a container's start and end. */
static void trace(const char *phase) {
  static int on = -1;
  if (on < 0) on = getenv("TSNET_TRACE") && *getenv("TSNET_TRACE");
  if (!on) return;
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  char buf[128];
  int n = snprintf(buf, sizeof buf, "tsnet-trace %d %lld.%03ld %s\n", (int)getpid(),
                   (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000, (ts.tv_nsec / 1000) % 1000, phase);
  /* stderr may be the pipe of a CLI that is gone: that must not SIGPIPE the supervisor (its hook cleans up) */
  sigset_t pipe_set, old;
  sigemptyset(&pipe_set);
  sigaddset(&pipe_set, SIGPIPE);
  sigprocmask(SIG_BLOCK, &pipe_set, &old);
  if (n > 0 && write(2, buf, (size_t)n) < 0 && errno == EPIPE) {
    struct timespec zero = {0, 0};
    sigtimedwait(&pipe_set, NULL, &zero);
  }
  sigprocmask(SIG_SETMASK, &old, NULL);
}

static void die(const char *fmt, ...) {
  char buf[1024];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(buf, sizeof buf - 2, fmt, ap);
  va_end(ap);
  if (n < 0) n = 0;
  if (n > (int)sizeof buf - 2) n = sizeof buf - 2;
  if (errno) n += snprintf(buf + n, sizeof buf - n, ": %s", strerror(errno));
  if (n > (int)sizeof buf - 2) n = sizeof buf - 2;
  buf[n++] = '\n';
  if (sync_fd >= 0) {
    if (write(sync_fd, buf, n) < 0) { /* nothing better to do */ }
  } else {
    if (write(2, "tsnet-init: ", 12) < 0 || write(2, buf, n) < 0) { /* ignore */ }
  }
  _exit(125);
}

static void push(struct list *l, char *s) {
  if (l->n >= MAX_LIST) { errno = 0; die("config: too many entries"); }
  l->v[l->n++] = s;
  l->v[l->n] = NULL;
}

static char *unescape(char *s) {
  char *r = s, *w = s;
  while (*r) {
    if (r[0] == '\\' && r[1] == 'n') { *w++ = '\n'; r += 2; }
    else if (r[0] == '\\' && r[1] == '\\') { *w++ = '\\'; r += 2; }
    else *w++ = *r++;
  }
  *w = 0;
  return s;
}

static void load_config(const char *path, struct config *c) {
  memset(c, 0, sizeof *c);
  FILE *f = fopen(path, "r");
  if (!f) die("config %s: cannot open", path);
  char *line = NULL;
  size_t cap = 0;
  ssize_t len;
  while ((len = getline(&line, &cap, f)) >= 0) {
    if (len > 0 && line[len - 1] == '\n') line[--len] = 0;
    if (!len || line[0] == '#') continue;
    char *eq = strchr(line, '=');
    if (!eq) { errno = 0; die("config %s: line without '=': %s", path, line); }
    *eq = 0;
    char *k = line, *v = strdup(unescape(eq + 1));
    if (!strcmp(k, "rootfs")) c->rootfs = v;
    else if (!strcmp(k, "upper")) c->upper = v;
    else if (!strcmp(k, "work")) c->work = v;
    else if (!strcmp(k, "netns")) c->netns = *v ? v : NULL;
    else if (!strcmp(k, "lo_up")) c->lo_up = atoi(v);
    else if (!strcmp(k, "holdfds")) c->holdfds = atoi(v);
    else if (!strcmp(k, "notify")) c->notify = atoi(v);
    else if (!strcmp(k, "go")) c->go = atoi(v);
    else if (!strcmp(k, "hostname")) c->hostname = v;
    else if (!strcmp(k, "cwd")) c->cwd = v;
    else if (!strcmp(k, "pidfile")) c->pidfile = v;
    else if (!strcmp(k, "exitfile")) c->exitfile = v;
    else if (!strcmp(k, "pid")) c->pid = atol(v);
    else if (!strcmp(k, "lower")) push(&c->lower, v);
    else if (!strcmp(k, "cgroup")) push(&c->cgroup, v);
    else if (!strcmp(k, "bind")) push(&c->bind, v);
    else if (!strcmp(k, "env")) push(&c->env, v);
    else if (!strcmp(k, "arg")) push(&c->arg, v);
    else if (!strcmp(k, "onexit")) push(&c->onexit, v);
    else if (!strcmp(k, "mask")) push(&c->mask, v);
    else if (!strcmp(k, "ro")) push(&c->ro, v);
    else if (!strcmp(k, "sys_rw")) c->sys_rw = atoi(v);
    else if (!strcmp(k, "no_new_privs")) c->no_new_privs = atoi(v);
    else if (!strcmp(k, "caps")) {
      char *end;
      errno = 0;
      c->caps = strtoull(v, &end, 16);
      if (errno || !*v || *end) { errno = 0; die("config %s: caps=%s is not a hex mask", path, v); }
      c->has_caps = 1;
    }
    else if (!strcmp(k, "seccomp_default")) c->seccomp_default = v;
    else if (!strcmp(k, "seccomp_cache")) c->seccomp_cache = v;
    else if (!strcmp(k, "seccomp_arch")) push(&c->seccomp_arch, v);
    else if (!strcmp(k, "seccomp")) push(&c->seccomp, v);
    else { errno = 0; die("config %s: unknown key '%s'", path, k); }
  }
  free(line);
  fclose(f);
  if (!c->arg.n) { errno = 0; die("config %s: no command (arg=)", path); }
}

/* Replaces path (temp file + rename: never half a file), without fsync: the pid and exit files describe a
 * process, which a power loss ends anyway (the engine then reads the container as killed). */
static void write_atomic(const char *path, const char *text) {
  if (!path) return;
  char tmp[PATH_MAX];
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) { perror(tmp); return; }
  if (write(fd, text, strlen(text)) < 0) perror(tmp);
  close(fd);
  if (rename(tmp, path) < 0) perror(path);
}

/* ---- fds ---- */
#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

/* Closes (or, with CLOSE_RANGE_CLOEXEC, marks close-on-exec) every fd from 3 up. */
static void close_from_3(unsigned flags) {
  if (syscall(SYS_close_range, 3U, ~0U, flags) == 0) return;
  /* kernels before 5.9 (5.11 for CLOEXEC): walk /proc/self/fd */
  DIR *d = opendir("/proc/self/fd");
  if (!d) return;
  int dfd = dirfd(d);
  struct dirent *e;
  while ((e = readdir(d))) {
    int fd = atoi(e->d_name);
    if (fd < 3 || fd == dfd) continue;
    if (flags & CLOSE_RANGE_CLOEXEC) fcntl(fd, F_SETFD, fcntl(fd, F_GETFD) | FD_CLOEXEC);
    else close(fd);
  }
  closedir(d);
}

/* ---- confinement: capabilities, no_new_privs, seccomp ---- */

/* Bounding set cut to c->caps, ambient and inheritable cleared, permitted = effective = c->caps (as far as
 * this process holds them: a capability it lacks cannot be given). Root's execve then yields exactly that
 * bounding set as the command's permitted and effective sets. */
static void apply_caps(const struct config *c) {
  for (int cap = 0; prctl(PR_CAPBSET_READ, cap, 0, 0, 0) >= 0; cap++) {
    if (cap < 64 && (c->caps >> cap) & 1) continue;
    if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0) die("drop capability %d from the bounding set", cap);
  }
  if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL) die("clear ambient capabilities");
  struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct data[2];
  memset(data, 0, sizeof data);
  if (syscall(SYS_capget, &hdr, data) < 0) die("capget");
  uint32_t lo = (uint32_t)c->caps, hi = (uint32_t)(c->caps >> 32);
  data[0].permitted &= lo;
  data[1].permitted &= hi;
  data[0].effective = data[0].permitted;
  data[1].effective = data[1].permitted;
  data[0].inheritable = data[1].inheritable = 0;
  if (syscall(SYS_capset, &hdr, data) < 0) die("capset");
}

static uint32_t seccomp_action(const char *s, const char *rule) {
  if (!strcmp(s, "allow")) return SCMP_ACT_ALLOW;
  if (!strncmp(s, "errno:", 6)) return SCMP_ACT_ERRNO((uint16_t)atoi(s + 6));
  if (!strcmp(s, "kill_thread") || !strcmp(s, "kill")) return SCMP_ACT_KILL_THREAD;
  if (!strcmp(s, "kill_process")) return SCMP_ACT_KILL_PROCESS;
  if (!strcmp(s, "trap")) return SCMP_ACT_TRAP;
  if (!strcmp(s, "log")) return SCMP_ACT_LOG;
  errno = 0;
  die("seccomp rule '%s': unknown action '%s'", rule, s);
  return 0;
}

static enum scmp_compare seccomp_op(const char *s, const char *rule) {
  static const struct { const char *name; enum scmp_compare op; } ops[] = {
      {"ne", SCMP_CMP_NE}, {"lt", SCMP_CMP_LT}, {"le", SCMP_CMP_LE},       {"eq", SCMP_CMP_EQ},
      {"ge", SCMP_CMP_GE}, {"gt", SCMP_CMP_GT}, {"masked_eq", SCMP_CMP_MASKED_EQ}};
  for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
    if (!strcmp(s, ops[i].name)) return ops[i].op;
  errno = 0;
  die("seccomp rule '%s': unknown comparison '%s'", rule, s);
  return SCMP_CMP_EQ;
}

/* One `seccomp=` line: ACTION NAME[,NAME…] [ARG:OP:VALUE[:VALUE2]]… */
static void seccomp_rule(scmp_filter_ctx ctx, const char *line) {
  char *copy = strdup(line), *save = NULL;
  char *act = strtok_r(copy, " ", &save), *names = strtok_r(NULL, " ", &save);
  if (!act || !names) { errno = 0; die("seccomp rule '%s': expected ACTION NAME[,NAME…] [ARG:OP:VALUE]…", line); }
  uint32_t action = seccomp_action(act, line);
  struct scmp_arg_cmp cmp[6];
  unsigned ncmp = 0;
  for (char *t; (t = strtok_r(NULL, " ", &save));) {
    if (ncmp == 6) { errno = 0; die("seccomp rule '%s': more than 6 conditions", line); }
    char *f[4] = {0}, *s2 = NULL;
    int nf = 0;
    for (char *x = strtok_r(t, ":", &s2); x && nf < 4; x = strtok_r(NULL, ":", &s2)) f[nf++] = x;
    if (nf < 3) { errno = 0; die("seccomp rule '%s': condition '%s' is not ARG:OP:VALUE[:VALUE2]", line, t); }
    int arg = atoi(f[0]);
    if (arg < 0 || arg > 5) { errno = 0; die("seccomp rule '%s': argument index %d out of 0-5", line, arg); }
    cmp[ncmp].arg = arg;
    cmp[ncmp].op = seccomp_op(f[1], line);
    cmp[ncmp].datum_a = strtoull(f[2], NULL, 0);
    cmp[ncmp].datum_b = f[3] ? strtoull(f[3], NULL, 0) : 0;
    ncmp++;
  }
  char *s3 = NULL;
  for (char *name = strtok_r(names, ",", &s3); name; name = strtok_r(NULL, ",", &s3)) {
    int nr = seccomp_syscall_resolve_name(name);
    if (nr == __NR_SCMP_ERROR) continue; /* unknown to this libseccomp (newer than it): stays denied */
    int rc = seccomp_rule_add_array(ctx, action, nr, ncmp, cmp);
    /* -EACCES: the rule's action is the filter's default (libseccomp refuses redundant rules) */
    if (rc < 0 && rc != -EACCES) { errno = -rc; die("seccomp rule '%s': %s", line, name); }
  }
  free(copy);
}

/* The filter, compiled before the helper leaves the host's mount namespace, loaded by confine(). */
static struct sock_fprog seccomp_prog;

/* What identifies a filter: libseccomp's version and every seccomp line of the config. */
static char *seccomp_key(const struct config *c, size_t *len) {
  const struct scmp_version *v = seccomp_version();
  size_t cap = 64 + strlen(c->seccomp_default);
  for (int i = 0; i < c->seccomp_arch.n; i++) cap += strlen(c->seccomp_arch.v[i]) + 8;
  for (int i = 0; i < c->seccomp.n; i++) cap += strlen(c->seccomp.v[i]) + 2;
  char *k = malloc(cap);
  size_t n = snprintf(k, cap, "libseccomp %u.%u.%u\n%s\n", v->major, v->minor, v->micro, c->seccomp_default);
  for (int i = 0; i < c->seccomp_arch.n; i++) n += snprintf(k + n, cap - n, "arch %s\n", c->seccomp_arch.v[i]);
  for (int i = 0; i < c->seccomp.n; i++) n += snprintf(k + n, cap - n, "%s\n", c->seccomp.v[i]);
  *len = n;
  return k;
}

static uint64_t fnv1a(const char *p, size_t n) {
  uint64_t h = 0xcbf29ce484222325ULL;
  while (n--) h = (h ^ (unsigned char)*p++) * 0x100000001b3ULL;
  return h;
}

/* Reads all of fd into a malloc'd buffer. */
static char *read_all(int fd, size_t *len) {
  size_t cap = 16384, n = 0;
  char *b = malloc(cap);
  for (ssize_t r; (r = read(fd, b + n, cap - n)) != 0;) {
    if (r < 0) {
      if (errno == EINTR) continue;
      free(b);
      return NULL;
    }
    n += r;
    if (n == cap) b = realloc(b, cap *= 2);
  }
  *len = n;
  return b;
}

/* A cache file is "<key length, 4 bytes><key><BPF instructions>"; its name is a hash of the key, and the key
 * is compared whole, so a file only ever serves the filter it was made for. */
static int seccomp_from_cache(const char *path, const char *key, size_t klen) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  size_t n;
  char *b = read_all(fd, &n);
  close(fd);
  uint32_t stored;
  if (!b || n < 4 || (memcpy(&stored, b, 4), stored != klen) || n < 4 + klen || memcmp(b + 4, key, klen) ||
      (n - 4 - klen) % sizeof(struct sock_filter) || n - 4 - klen == 0 ||
      (n - 4 - klen) / sizeof(struct sock_filter) > BPF_MAXINSNS) {
    free(b);
    return 0;
  }
  seccomp_prog.len = (n - 4 - klen) / sizeof(struct sock_filter);
  seccomp_prog.filter = malloc(n - 4 - klen);
  memcpy(seccomp_prog.filter, b + 4 + klen, n - 4 - klen);
  free(b);
  return 1;
}

static void seccomp_to_cache(const char *dir, const char *path, const char *key, size_t klen) {
  mkdirs(dir, 0700);
  char tmp[PATH_MAX + 32];
  snprintf(tmp, sizeof tmp, "%s.%d.tmp", path, (int)getpid());
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return; /* no cache: the next container compiles again */
  uint32_t kl = klen;
  size_t blen = seccomp_prog.len * sizeof(struct sock_filter);
  int ok = write(fd, &kl, 4) == 4 && write(fd, key, klen) == (ssize_t)klen && write(fd, seccomp_prog.filter, blen) == (ssize_t)blen;
  close(fd);
  if (!ok || rename(tmp, path) < 0) unlink(tmp);
}

/* Compiles the config's seccomp lines with libseccomp into seccomp_prog, or takes it from seccomp_cache=DIR
 * (compiling the default profile for three x86 ABIs takes libseccomp tens of ms; a cached one, none). */
static void prepare_seccomp(const struct config *c) {
  if (!c->seccomp_default) return;
  size_t klen;
  char *key = seccomp_key(c, &klen), path[PATH_MAX];
  if (c->seccomp_cache) {
    snprintf(path, sizeof path, "%s/%016" PRIx64 ".bpf", c->seccomp_cache, fnv1a(key, klen));
    if (seccomp_from_cache(path, key, klen)) {
      free(key);
      return;
    }
  }
  scmp_filter_ctx ctx = seccomp_init(seccomp_action(c->seccomp_default, "seccomp_default"));
  if (!ctx) { errno = 0; die("seccomp_init failed"); }
  seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2); /* a binary tree over the syscall numbers */
  for (int i = 0; i < c->seccomp_arch.n; i++) {
    uint32_t arch = seccomp_arch_resolve_name(c->seccomp_arch.v[i]);
    if (!arch) { errno = 0; die("seccomp: unknown architecture '%s'", c->seccomp_arch.v[i]); }
    int rc = seccomp_arch_add(ctx, arch);
    if (rc < 0 && rc != -EEXIST) { errno = -rc; die("seccomp: add architecture %s", c->seccomp_arch.v[i]); }
  }
  for (int i = 0; i < c->seccomp.n; i++) seccomp_rule(ctx, c->seccomp.v[i]);
  int mfd = memfd_create("tsnet-seccomp", MFD_CLOEXEC);
  if (mfd < 0) die("seccomp: memfd_create");
  int rc = seccomp_export_bpf(ctx, mfd);
  if (rc < 0) { errno = -rc; die("seccomp: export filter"); }
  seccomp_release(ctx);
  size_t n;
  lseek(mfd, 0, SEEK_SET);
  char *b = read_all(mfd, &n);
  close(mfd);
  if (!b || !n || n % sizeof(struct sock_filter) || n / sizeof(struct sock_filter) > BPF_MAXINSNS) {
    errno = 0;
    die("seccomp: the compiled filter has %zu bytes", n);
  }
  seccomp_prog.filter = (struct sock_filter *)b;
  seccomp_prog.len = n / sizeof(struct sock_filter);
  if (c->seccomp_cache) seccomp_to_cache(c->seccomp_cache, path, key, klen);
  free(key);
}

static void load_seccomp(void) {
  if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &seccomp_prog) < 0) die("seccomp: load filter");
}

/* What the command runs under. Loading a filter without no_new_privs needs CAP_SYS_ADMIN, so then it goes
 * first (as runc does); with no_new_privs it comes last, so capset and prctl need not be in its allow-list. */
static void confine(const struct config *c) {
  if (c->no_new_privs && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) die("prctl no_new_privs");
  if (c->seccomp_default && !c->no_new_privs) load_seccomp();
  if (c->has_caps) apply_caps(c);
  if (c->seccomp_default && c->no_new_privs) load_seccomp();
}

/* Opens <dir>/cgroup.procs for each cgroup dir, so the fds can be written after leaving the host mount ns. */
static int open_cgroups(const struct list *cg, int *fds) {
  for (int i = 0; i < cg->n; i++) {
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/cgroup.procs", cg->v[i]);
    fds[i] = open(p, O_WRONLY | O_CLOEXEC);
    if (fds[i] < 0) die("cgroup %s: cannot open cgroup.procs", cg->v[i]);
  }
  return cg->n;
}

static void join_cgroups(const int *fds, int n) {
  for (int i = 0; i < n; i++) {
    if (write(fds[i], "0", 1) < 0) die("joining cgroup (fd %d)", fds[i]);
    close(fds[i]);
  }
}

static void set_env(const struct list *env) {
  clearenv();
  for (int i = 0; i < env->n; i++) putenv(env->v[i]);
  if (!getenv("PATH")) setenv("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", 1);
}

static void lo_up(void) {
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) die("socket for lo");
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  strcpy(ifr.ifr_name, "lo");
  if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0) die("lo: SIOCGIFFLAGS");
  ifr.ifr_flags |= IFF_UP;
  if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0) die("lo: SIOCSIFFLAGS");
  close(s);
}

static void mkdirs(const char *path, mode_t mode) {
  char p[PATH_MAX];
  snprintf(p, sizeof p, "%s", path);
  for (char *s = p + 1; *s; s++) {
    if (*s == '/') {
      *s = 0;
      mkdir(p, mode);
      *s = '/';
    }
  }
  mkdir(p, mode);
}

static void do_mount(const char *src, const char *dst, const char *type, unsigned long flags, const char *data) {
  if (mount(src, dst, type, flags, data) < 0) die("mount %s on %s (%s)", src ? src : "none", dst, type ? type : "bind");
}

static void make_dev(const char *root) {
  char p[PATH_MAX];
  snprintf(p, sizeof p, "%s/dev", root);
  mkdir(p, 0755);
  do_mount("tmpfs", p, "tmpfs", MS_NOSUID | MS_STRICTATIME, "mode=755,size=65536k");
  static const struct { const char *name; unsigned maj, min; mode_t mode; } devs[] = {
      {"null", 1, 3, 0666}, {"zero", 1, 5, 0666}, {"full", 1, 7, 0666},
      {"random", 1, 8, 0666}, {"urandom", 1, 9, 0666}, {"tty", 5, 0, 0666},
  };
  mode_t old = umask(0);
  for (size_t i = 0; i < sizeof devs / sizeof devs[0]; i++) {
    snprintf(p, sizeof p, "%s/dev/%s", root, devs[i].name);
    if (mknod(p, S_IFCHR | devs[i].mode, makedev(devs[i].maj, devs[i].min)) < 0) die("mknod %s", p);
  }
  umask(old);
  snprintf(p, sizeof p, "%s/dev/pts", root);
  mkdir(p, 0755);
  do_mount("devpts", p, "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620");
  snprintf(p, sizeof p, "%s/dev/ptmx", root);
  if (symlink("pts/ptmx", p) < 0) die("symlink %s", p);
  snprintf(p, sizeof p, "%s/dev/shm", root);
  mkdir(p, 01777);
  do_mount("shm", p, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=1777,size=65536k");
  snprintf(p, sizeof p, "%s/dev/mqueue", root);
  mkdir(p, 01777);
  do_mount("mqueue", p, "mqueue", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL); /* the container's own IPC namespace */
  static const char *links[][2] = {
      {"/proc/self/fd", "fd"}, {"/proc/self/fd/0", "stdin"}, {"/proc/self/fd/1", "stdout"}, {"/proc/self/fd/2", "stderr"}};
  for (size_t i = 0; i < 4; i++) {
    snprintf(p, sizeof p, "%s/dev/%s", root, links[i][1]);
    if (symlink(links[i][0], p) < 0) die("symlink %s", p);
  }
}

static void bind_file(const char *root, char *spec) {
  char *tab = strchr(spec, '\t');
  if (!tab) { errno = 0; die("bind '%s': expected DST<TAB>SRC", spec); }
  *tab = 0;
  const char *dst = spec, *src = tab + 1;
  char p[PATH_MAX];
  snprintf(p, sizeof p, "%s%s", root, dst);
  char *slash = strrchr(p, '/');
  if (slash && slash != p) {
    *slash = 0;
    mkdirs(p, 0755);
    *slash = '/';
  }
  struct stat st;
  if (lstat(p, &st) < 0 || !S_ISREG(st.st_mode)) {
    if (lstat(p, &st) == 0) unlink(p); /* a dangling symlink (Debian's /etc/resolv.conf) would escape */
    int fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) die("create bind target %s", p);
    close(fd);
  }
  do_mount(src, p, NULL, MS_BIND, NULL);
}

/* Docker's masked paths: /dev/null over a file, an empty read-only tmpfs over a directory. */
static void mask_path(const char *path) {
  struct stat st;
  if (stat(path, &st) < 0) {
    if (errno == ENOENT) return;
    die("mask %s", path);
  }
  if (S_ISDIR(st.st_mode)) do_mount("tmpfs", path, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=555");
  else do_mount("/dev/null", path, NULL, MS_BIND, NULL);
}

/* Docker's read-only paths: bound onto themselves, then that mount made read-only. */
static void readonly_path(const char *path) {
  if (mount(path, path, NULL, MS_BIND | MS_REC, NULL) < 0) {
    if (errno == ENOENT) return;
    die("bind %s read-only", path);
  }
  do_mount(NULL, path, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
}

static void setup_rootfs(const struct config *c) {
  const char *root = c->rootfs;
  if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) die("make / private");
  /* overlay: lowerdir=top:...:bottom,upperdir=,workdir= */
  size_t cap = 256;
  for (int i = 0; i < c->lower.n; i++) cap += strlen(c->lower.v[i]) + 1;
  cap += strlen(c->upper) + strlen(c->work);
  char *data = malloc(cap);
  strcpy(data, "lowerdir=");
  for (int i = 0; i < c->lower.n; i++) {
    if (i) strcat(data, ":");
    strcat(data, c->lower.v[i]);
  }
  strcat(data, ",upperdir=");
  strcat(data, c->upper);
  strcat(data, ",workdir=");
  strcat(data, c->work);
  if (c->lower.n == 0) { errno = 0; die("config: no image layer (lower=)"); }
  if (mount("overlay", root, "overlay", 0, data) < 0) die("mount overlay on %s (%s)", root, data);
  free(data);

  char p[PATH_MAX];
  snprintf(p, sizeof p, "%s/proc", root);
  mkdir(p, 0555);
  do_mount("proc", p, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
  make_dev(root);
  snprintf(p, sizeof p, "%s/sys", root);
  mkdir(p, 0555);
  unsigned long sysro = c->sys_rw ? 0 : MS_RDONLY, sysfl = MS_NOSUID | MS_NODEV | MS_NOEXEC;
  if (mount("sysfs", p, "sysfs", sysro | sysfl, NULL) < 0 && mount("sysfs", p, "sysfs", sysfl, NULL) < 0) {
    /* sysfs cannot be mounted when we share the host netns without owning it: /sys itself, bound without
     * its submounts (MS_REC would bring the host's cgroup hierarchies mounted under it) */
    do_mount("/sys", p, NULL, MS_BIND, NULL);
  }
  /* a mount that came out read-write (or the bind) is made read-only */
  if (sysro) do_mount(NULL, p, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | sysfl, NULL);
  snprintf(p, sizeof p, "%s/tmp", root);
  mkdir(p, 01777);
  for (int i = 0; i < c->bind.n; i++) bind_file(root, c->bind.v[i]);

  if (chdir(root) < 0) die("chdir %s", root);
  if (syscall(SYS_pivot_root, ".", ".") < 0) die("pivot_root %s", root);
  if (umount2(".", MNT_DETACH) < 0) die("detach old root");
  if (chdir("/") < 0) die("chdir /");
  for (int i = 0; i < c->mask.n; i++) mask_path(c->mask.v[i]);
  for (int i = 0; i < c->ro.n; i++) readonly_path(c->ro.v[i]);
}

static pid_t child_pid = -1;

static void forward(int sig) {
  if (child_pid > 0) kill(child_pid, sig);
}

/* The signals the supervisor passes on to the container's process. */
static const int fwdsigs[] = {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2};

/* Installs forward() for every signal in fwdsigs: they go on to child_pid. */
static void forward_signals(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = forward;
  sa.sa_flags = SA_RESTART;
  for (size_t i = 0; i < sizeof fwdsigs / sizeof fwdsigs[0]; i++) sigaction(fwdsigs[i], &sa, NULL);
}

static int status_code(int st) {
  if (WIFEXITED(st)) return WEXITSTATUS(st);
  if (WIFSIGNALED(st)) return 128 + WTERMSIG(st);
  return 125;
}

static void exec_command(const struct config *c) {
  set_env(&c->env);
  const char *cwd = c->cwd && *c->cwd ? c->cwd : "/";
  if (chdir(cwd) < 0) die("working directory %s", cwd);
  execvp(c->arg.v[0], c->arg.v);
  int e = errno;
  char buf[600];
  int n = snprintf(buf, sizeof buf, "exec %.500s: %s\n", c->arg.v[0], strerror(e));
  if (sync_fd >= 0) {
    if (write(sync_fd, buf, n) < 0) { /* ignore */ }
  } else if (write(2, "tsnet-init: ", 12) < 0 || write(2, buf, n) < 0) { /* ignore */ }
  _exit(e == ENOENT ? 127 : 126);
}

/* pid 1 of the container: fork the command, forward signals, reap everything, exit with the command's code. */
static void reaper(const struct config *c, const int *cgfds, int ncg, int netfd) {
  if (unshare(CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC) < 0) die("unshare mount/uts/ipc");
  if (netfd >= 0) {
    if (setns(netfd, CLONE_NEWNET) < 0) die("join network namespace %s", c->netns);
    close(netfd);
  }
  if (c->lo_up) lo_up();
  join_cgroups(cgfds, ncg);
  /* after joining: the container's cgroup is the root of what it sees (and of any cgroupfs it could mount) */
  if (unshare(CLONE_NEWCGROUP) < 0) die("unshare cgroup namespace");
  if (c->hostname && sethostname(c->hostname, strlen(c->hostname)) < 0) die("sethostname %s", c->hostname);
  setup_rootfs(c);

  sigset_t all, old;
  sigfillset(&all);
  sigprocmask(SIG_BLOCK, &all, &old);
  /* nothing but 0, 1, 2 and the setup-status pipe (close-on-exec) reaches the command; pid 1 keeps only 0-2 */
  close_from_3(CLOSE_RANGE_CLOEXEC);
  confine(c);
  if (go_fd >= 0) {
    /* go=1: all set up (the /etc files are bound already: the engine writes them in place), but the command needs
     * the network and those files' content: wait for the engine (a byte: go; end of file: not) */
    char b;
    ssize_t n;
    do n = read(go_fd, &b, 1);
    while (n < 0 && errno == EINTR);
    close(go_fd);
    go_fd = -1;
    if (n != 1) { errno = 0; die("the engine gave up before the container's network was ready"); }
  }
  child_pid = fork();
  if (child_pid < 0) die("fork command");
  if (child_pid == 0) {
    sigprocmask(SIG_SETMASK, &old, NULL);
    setsid();
    exec_command(c);
  }
  sync_fd = -1;
  close_from_3(0);
  prctl(PR_SET_NAME, "tsnet-init", 0, 0, 0);
  for (;;) {
    siginfo_t si;
    int sig = sigwaitinfo(&all, &si);
    if (sig < 0) {
      if (errno == EINTR) continue;
      /* a custom seccomp profile may deny the wait for signals: then only reap (blocking) */
      int st;
      pid_t p = waitpid(-1, &st, 0);
      if (p == child_pid) _exit(status_code(st));
      continue;
    }
    if (sig != SIGCHLD) {
      kill(child_pid, sig);
      continue;
    }
    int st;
    pid_t p;
    while ((p = waitpid(-1, &st, WNOHANG)) > 0) {
      if (p == child_pid) _exit(status_code(st));
    }
  }
}

/* A line to the engine on the notify socket (no SIGPIPE when it is gone). 0 when sent. */
static int notify(int fd, const char *msg) {
  if (!fd) return -1;
  size_t len = strlen(msg), off = 0;
  while (off < len) {
    ssize_t n = send(fd, msg + off, len - off, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return -1;
    off += (size_t)n;
  }
  return 0;
}

/* go=1: the engine's word before the command starts: 1 = "go", -1 = "no" (it cleans up itself), 0 = end of file
 * or anything else (it died). */
static int engine_word(int fd) {
  char line[8];
  size_t got = 0;
  while (got < sizeof line) {
    ssize_t n = read(fd, line + got, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return 0;
    if (line[got++] == '\n') break;
  }
  if (got == 3 && !memcmp(line, "go\n", 3)) return 1;
  if (got == 3 && !memcmp(line, "no\n", 3)) return -1;
  return 0;
}

/* After "exit": the engine's answer. A byte = it cleaned up (no hook); end of file or an error = it did not. */
static int engine_cleaned_up(int fd) {
  char b;
  for (;;) {
    ssize_t n = read(fd, &b, 1);
    if (n < 0 && errno == EINTR) continue;
    return n == 1;
  }
}

static int cmd_run(const char *path) {
  trace("helper-start");
  struct config c;
  load_config(path, &c);
  /* whatever the engine's caller left open stays out of the container and the exit hook; the supervisor keeps
   * only fds 3 .. 3+holdfds-1 (the published ports' bound sockets: their reservation lasts as long as it does),
   * close-on-exec so the exit hook does not hold them, and the container's init closes them */
  if (c.holdfds < 0 || c.holdfds > 4096) { errno = 0; die("config %s: holdfds=%d out of range", path, c.holdfds); }
  if (c.notify && (c.notify < 3 + c.holdfds || c.notify > 8192)) {
    errno = 0;
    die("config %s: notify=%d must follow the held fds (>= %d)", path, c.notify, 3 + c.holdfds);
  }
  if (c.go && !c.notify) { errno = 0; die("config %s: go=1 needs notify=", path); }
  if (c.holdfds || c.notify) {
    unsigned keep = 3U + (unsigned)c.holdfds; /* fds 3 .. keep-1, and notify */
    if (c.notify > (int)keep && syscall(SYS_close_range, keep, (unsigned)c.notify - 1, 0) != 0) { errno = 0; die("close_range"); }
    if (syscall(SYS_close_range, c.notify ? (unsigned)c.notify + 1 : keep, ~0U, 0) != 0) { errno = 0; die("close_range"); }
    for (int fd = 3; fd < 3 + c.holdfds; fd++)
      if (fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) die("held fd %d", fd);
    if (c.notify && fcntl(c.notify, F_SETFD, FD_CLOEXEC) < 0) die("notify fd %d", c.notify);
  } else close_from_3(0);
  if (!c.rootfs || !c.upper || !c.work) { errno = 0; die("config %s: rootfs, upper and work are required", path); }
  prepare_seccomp(&c); /* in the host's mount namespace, where the cache is */
  int cgfds[MAX_LIST];
  int ncg = open_cgroups(&c.cgroup, cgfds);
  int netfd = -1;
  if (c.netns) {
    netfd = open(c.netns, O_RDONLY | O_CLOEXEC);
    if (netfd < 0) die("network namespace %s", c.netns);
  }
  int pfd[2], gop[2] = {-1, -1};
  if (pipe2(pfd, O_CLOEXEC) < 0) die("pipe");
  /* a socket, not a pipe: a send to a reaper that died must not SIGPIPE the supervisor (MSG_NOSIGNAL) */
  if (c.go && socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, gop) < 0) die("socketpair");
  /* unshare(CLONE_NEWPID) only changes where children go; the supervisor returns to its own pid ns right
   * after the fork, or the exit hook it execs could not even create threads once the container's ns died */
  int ownpid = open("/proc/self/ns/pid", O_RDONLY | O_CLOEXEC);
  if (ownpid < 0) die("open /proc/self/ns/pid");
  if (unshare(CLONE_NEWPID) < 0) die("unshare pid namespace");

  sigset_t fwd, old;
  sigemptyset(&fwd);
  for (size_t i = 0; i < sizeof fwdsigs / sizeof fwdsigs[0]; i++) sigaddset(&fwd, fwdsigs[i]);
  sigprocmask(SIG_BLOCK, &fwd, &old);

  pid_t pid = fork();
  if (pid < 0) die("fork container init");
  if (pid == 0) {
    close(pfd[0]);
    sync_fd = pfd[1];
    if (gop[1] >= 0) close(gop[1]);
    go_fd = gop[0];
    prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
    sigprocmask(SIG_SETMASK, &old, NULL);
    reaper(&c, cgfds, ncg, netfd);
    _exit(125);
  }
  /* the supervisor's stderr may be the pipe of a CLI that died: a write there must fail (EPIPE), not end it before
   * its exit hook (which inherits this; Node ignores SIGPIPE anyway) */
  signal(SIGPIPE, SIG_IGN);
  if (setns(ownpid, CLONE_NEWPID) < 0) perror("tsnet-init: return to own pid namespace");
  close(ownpid);
  close(pfd[1]);
  for (int i = 0; i < ncg; i++) close(cgfds[i]);
  if (netfd >= 0) close(netfd);
  child_pid = pid;
  forward_signals();

  if (c.go) {
    /* the container's pid 1 joins its namespaces and cgroups meanwhile; it goes on on a byte, gives up on EOF */
    close(gop[0]);
    int word = engine_word(c.notify);
    trace(word > 0 ? "helper-go" : "helper-no-go");
    if (word > 0 && send(gop[1], "g", 1, MSG_NOSIGNAL) != 1) { /* the reaper died: its error is on the status pipe */ }
    close(gop[1]);
    if (word < 0) {
      /* the engine gave up (its network setup failed) and undoes what it made itself: no exitfile, no hook */
      int st;
      while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
      return 125;
    }
  }

  /* setup status: EOF = the command was exec'd; text = why not */
  char msg[1100];
  size_t got = 0;
  ssize_t n;
  while (got < sizeof msg - 1 && (n = read(pfd[0], msg + got, sizeof msg - 1 - got)) != 0) {
    if (n < 0) {
      if (errno == EINTR) continue;
      break;
    }
    got += n;
  }
  close(pfd[0]);
  msg[got] = 0;
  if (got) {
    if (write(2, "tsnet-init: ", 12) < 0 || write(2, msg, got) < 0) { /* ignore */ }
  } else {
    char buf[32];
    snprintf(buf, sizeof buf, "%d\n", pid);
    write_atomic(c.pidfile, buf);
    trace("helper-execd");
    snprintf(buf, sizeof buf, "pid %d\n", pid);
    notify(c.notify, buf);
  }
  sigprocmask(SIG_SETMASK, &old, NULL);

  int st, code;
  for (;;) {
    pid_t w = waitpid(pid, &st, 0);
    if (w == pid) break;
    if (w < 0 && errno != EINTR) { st = 125 << 8; break; }
  }
  code = status_code(st);
  trace("helper-exited");
  char buf[32];
  snprintf(buf, sizeof buf, "%d\n", code);
  write_atomic(c.exitfile, buf);
  snprintf(buf, sizeof buf, "exit %d\n", code);
  if (notify(c.notify, buf) == 0 && engine_cleaned_up(c.notify)) return code;
  if (c.onexit.n) {
    fflush(NULL);
    int devnull = open("/dev/null", O_RDWR);
    if (devnull >= 0) { dup2(devnull, 0); }
    execvp(c.onexit.v[0], c.onexit.v);
    perror("tsnet-init: onexit hook");
  }
  return code;
}

static int cmd_exec(const char *path) {
  close_from_3(0);
  struct config c;
  load_config(path, &c);
  if (c.pid <= 0) { errno = 0; die("config %s: pid= is required", path); }
  prepare_seccomp(&c);
  int cgfds[MAX_LIST];
  int ncg = open_cgroups(&c.cgroup, cgfds);
  static const struct { const char *name; int type; } nss[] = {{"ipc", CLONE_NEWIPC}, {"uts", CLONE_NEWUTS},
                                                              {"net", CLONE_NEWNET}, {"pid", CLONE_NEWPID},
                                                              {"cgroup", CLONE_NEWCGROUP}, {"mnt", CLONE_NEWNS}};
  enum { NNS = sizeof nss / sizeof nss[0] };
  int fds[NNS];
  for (int i = 0; i < NNS; i++) {
    char p[64];
    snprintf(p, sizeof p, "/proc/%ld/ns/%s", c.pid, nss[i].name);
    fds[i] = open(p, O_RDONLY | O_CLOEXEC);
    if (fds[i] < 0) die("container pid %ld: %s (is it still running?)", c.pid, p);
  }
  char root[64];
  snprintf(root, sizeof root, "/proc/%ld/root", c.pid);
  int rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (rootfd < 0) die("open %s", root);
  int cgnsfd = -1;
  for (int i = 0; i < NNS; i++) {
    if (nss[i].type == CLONE_NEWCGROUP) { /* entered by the command after it joined the cgroups */
      cgnsfd = fds[i];
      continue;
    }
    if (setns(fds[i], nss[i].type) < 0) die("setns %s of pid %ld", nss[i].name, c.pid);
    close(fds[i]);
  }
  if (fchdir(rootfd) < 0 || chroot(".") < 0) die("enter root of pid %ld", c.pid);
  close(rootfd);

  pid_t pid = fork();
  if (pid < 0) die("fork");
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
    join_cgroups(cgfds, ncg);
    if (setns(cgnsfd, CLONE_NEWCGROUP) < 0) die("setns cgroup of pid %ld", c.pid);
    close_from_3(0);
    confine(&c);
    exec_command(&c);
  }
  for (int i = 0; i < ncg; i++) close(cgfds[i]);
  close(cgnsfd);
  child_pid = pid;
  forward_signals();
  int st;
  while (waitpid(pid, &st, 0) < 0) {
    if (errno != EINTR) return 125;
  }
  return status_code(st);
}

/* ---- whiteouts: docker layer form -> overlayfs form ---- */
static int whiteout_errors = 0;

static int fix_whiteout(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
  (void)st;
  (void)flag;
  const char *base = path + ftw->base;
  if (strncmp(base, ".wh.", 4)) return 0;
  char dir[PATH_MAX];
  snprintf(dir, sizeof dir, "%.*s", ftw->base, path);
  if (!strcmp(base, ".wh..wh..opq")) {
    if (setxattr(dir, "trusted.overlay.opaque", "y", 1, 0) < 0) {
      fprintf(stderr, "tsnet-init: whiteouts: setxattr opaque on %s: %s\n", dir, strerror(errno));
      whiteout_errors++;
    }
  } else {
    char target[PATH_MAX];
    snprintf(target, sizeof target, "%s%s", dir, base + 4);
    /* a whiteout named like an existing entry: drop the entry, the device takes its place */
    struct stat t;
    if (lstat(target, &t) == 0) {
      if (S_ISDIR(t.st_mode)) {
        errno = 0;
        fprintf(stderr, "tsnet-init: whiteouts: %s is a directory and whited out in the same layer\n", target);
      } else unlink(target);
    }
    if (mknod(target, S_IFCHR | 0, makedev(0, 0)) < 0) {
      fprintf(stderr, "tsnet-init: whiteouts: mknod %s: %s\n", target, strerror(errno));
      whiteout_errors++;
    }
  }
  if (unlink(path) < 0) {
    fprintf(stderr, "tsnet-init: whiteouts: unlink %s: %s\n", path, strerror(errno));
    whiteout_errors++;
  }
  return 0;
}

static int cmd_whiteouts(const char *dir) {
  if (nftw(dir, fix_whiteout, 64, FTW_PHYS | FTW_DEPTH) < 0) die("walk %s", dir);
  return whiteout_errors ? 1 : 0;
}

/* The engine starts the helper with posix_spawn, which leaves the C library's internal signals (32 and 33 with
 * glibc: below SIGRTMIN, which its sigaction() refuses to touch) ignored in the child; ignored they would stay in
 * the container's processes, whose own C library may use them. Set to default with the raw system call. */
static void internal_signals_default(void) {
  struct { void (*handler)(int); unsigned long flags; void (*restorer)(void); uint64_t mask; } ksa = {SIG_DFL, 0, NULL, 0};
  for (int sig = 32; sig < SIGRTMIN; sig++) syscall(SYS_rt_sigaction, sig, &ksa, NULL, sizeof ksa.mask);
}

int main(int argc, char **argv) {
  internal_signals_default();
  if (argc == 3 && !strcmp(argv[1], "run")) return cmd_run(argv[2]);
  if (argc == 3 && !strcmp(argv[1], "exec")) return cmd_exec(argv[2]);
  if (argc == 3 && !strcmp(argv[1], "whiteouts")) return cmd_whiteouts(argv[2]);
  fprintf(stderr,
          "usage: tsnet-init run CONFIG | exec CONFIG | whiteouts DIR\n"
          "(the container init helper of tsnet; the engine starts it — see the header of native/init/tsnet-init.c)\n");
  return 2;
}
