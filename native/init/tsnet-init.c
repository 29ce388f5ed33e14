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
 *     onexit=WORD       a command (repeated words) the supervisor execs after writing exitfile (engine cleanup hook)
 *
 *   exec keys: pid=PID (the container's pid 1), cgroup=, env=, cwd=, arg= as above.
 *
 * Process layout (run)
 *   supervisor (host pid ns, stays outside the container's cgroup) — unshare(CLONE_NEWPID) then fork:
 *     reaper = pid 1 of the new pid ns: unshares mount/uts/ipc, joins netns + cgroup, builds the rootfs,
 *     pivot_root, then forks the command (pid 2) and, like tini, forwards signals to it and reaps every
 *     zombie; it exits with the command's exit code as soon as the command exits (the kernel then kills
 *     whatever else is left in the pid namespace).
 *   A CLOEXEC pipe tells the supervisor whether the command was exec'd (EOF) or why setup failed (text).
 *   The supervisor writes pidfile, waits, writes exitfile, then execs onexit. Signals it receives
 *   (TERM, INT, HUP, QUIT, USR1, USR2) are forwarded to the reaper.
 *   stdout/stderr are whatever the engine gave the supervisor (a log file for -d, pipes in the foreground).
 *
 * Exit codes: the command's; 125 when the container could not be set up; 126 cannot exec; 127 not found.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
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
#include <sys/xattr.h>
#include <unistd.h>

#define MAX_LIST 1024

struct list {
  char *v[MAX_LIST + 1];
  int n;
};

struct config {
  const char *rootfs, *upper, *work, *netns, *hostname, *cwd, *pidfile, *exitfile;
  int lo_up;
  long pid;
  struct list lower, cgroup, bind, env, arg, onexit;
};

static int sync_fd = -1; /* write end of the setup-status pipe, in the reaper and the command */

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
    else { errno = 0; die("config %s: unknown key '%s'", path, k); }
  }
  free(line);
  fclose(f);
  if (!c->arg.n) { errno = 0; die("config %s: no command (arg=)", path); }
}

static void write_atomic(const char *path, const char *text) {
  if (!path) return;
  char tmp[PATH_MAX];
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) { perror(tmp); return; }
  if (write(fd, text, strlen(text)) < 0) perror(tmp);
  fsync(fd);
  close(fd);
  if (rename(tmp, path) < 0) perror(path);
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
  if (mount("sysfs", p, "sysfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0) {
    /* sysfs cannot be mounted when we share the host netns without owning it; a read-only rbind works */
    do_mount("/sys", p, NULL, MS_BIND | MS_REC, NULL);
    do_mount(NULL, p, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
  }
  snprintf(p, sizeof p, "%s/tmp", root);
  mkdir(p, 01777);
  for (int i = 0; i < c->bind.n; i++) bind_file(root, c->bind.v[i]);

  if (chdir(root) < 0) die("chdir %s", root);
  if (syscall(SYS_pivot_root, ".", ".") < 0) die("pivot_root %s", root);
  if (umount2(".", MNT_DETACH) < 0) die("detach old root");
  if (chdir("/") < 0) die("chdir /");
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
  if (c->hostname && sethostname(c->hostname, strlen(c->hostname)) < 0) die("sethostname %s", c->hostname);
  setup_rootfs(c);

  sigset_t all, old;
  sigfillset(&all);
  sigprocmask(SIG_BLOCK, &all, &old);
  child_pid = fork();
  if (child_pid < 0) die("fork command");
  if (child_pid == 0) {
    sigprocmask(SIG_SETMASK, &old, NULL);
    setsid();
    exec_command(c);
  }
  close(sync_fd);
  sync_fd = -1;
  prctl(PR_SET_NAME, "tsnet-init", 0, 0, 0);
  for (;;) {
    siginfo_t si;
    int sig = sigwaitinfo(&all, &si);
    if (sig < 0) continue;
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

static int cmd_run(const char *path) {
  struct config c;
  load_config(path, &c);
  if (!c.rootfs || !c.upper || !c.work) { errno = 0; die("config %s: rootfs, upper and work are required", path); }
  int cgfds[MAX_LIST];
  int ncg = open_cgroups(&c.cgroup, cgfds);
  int netfd = -1;
  if (c.netns) {
    netfd = open(c.netns, O_RDONLY | O_CLOEXEC);
    if (netfd < 0) die("network namespace %s", c.netns);
  }
  int pfd[2];
  if (pipe2(pfd, O_CLOEXEC) < 0) die("pipe");
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
    prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
    sigprocmask(SIG_SETMASK, &old, NULL);
    reaper(&c, cgfds, ncg, netfd);
    _exit(125);
  }
  if (setns(ownpid, CLONE_NEWPID) < 0) perror("tsnet-init: return to own pid namespace");
  close(ownpid);
  close(pfd[1]);
  for (int i = 0; i < ncg; i++) close(cgfds[i]);
  if (netfd >= 0) close(netfd);
  child_pid = pid;
  forward_signals();

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
  }
  sigprocmask(SIG_SETMASK, &old, NULL);

  int st, code;
  for (;;) {
    pid_t w = waitpid(pid, &st, 0);
    if (w == pid) break;
    if (w < 0 && errno != EINTR) { st = 125 << 8; break; }
  }
  code = status_code(st);
  char buf[32];
  snprintf(buf, sizeof buf, "%d\n", code);
  write_atomic(c.exitfile, buf);
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
  struct config c;
  load_config(path, &c);
  if (c.pid <= 0) { errno = 0; die("config %s: pid= is required", path); }
  int cgfds[MAX_LIST];
  int ncg = open_cgroups(&c.cgroup, cgfds);
  static const struct { const char *name; int type; } nss[] = {
      {"ipc", CLONE_NEWIPC}, {"uts", CLONE_NEWUTS}, {"net", CLONE_NEWNET}, {"pid", CLONE_NEWPID}, {"mnt", CLONE_NEWNS}};
  int fds[5];
  for (int i = 0; i < 5; i++) {
    char p[64];
    snprintf(p, sizeof p, "/proc/%ld/ns/%s", c.pid, nss[i].name);
    fds[i] = open(p, O_RDONLY | O_CLOEXEC);
    if (fds[i] < 0) die("container pid %ld: %s (is it still running?)", c.pid, p);
  }
  char root[64];
  snprintf(root, sizeof root, "/proc/%ld/root", c.pid);
  int rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (rootfd < 0) die("open %s", root);
  for (int i = 0; i < 5; i++) {
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
    exec_command(&c);
  }
  for (int i = 0; i < ncg; i++) close(cgfds[i]);
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

int main(int argc, char **argv) {
  if (argc == 3 && !strcmp(argv[1], "run")) return cmd_run(argv[2]);
  if (argc == 3 && !strcmp(argv[1], "exec")) return cmd_exec(argv[2]);
  if (argc == 3 && !strcmp(argv[1], "whiteouts")) return cmd_whiteouts(argv[2]);
  fprintf(stderr,
          "usage: tsnet-init run CONFIG | exec CONFIG | whiteouts DIR\n"
          "(the container init helper of tsnet; the engine starts it — see the header of native/init/tsnet-init.c)\n");
  return 2;
}
