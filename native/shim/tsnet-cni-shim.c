/*
 * tsnet-cni-shim: the CNI fast path. Installed as <dir>/<type> (a copy or hardlink per plugin type, made by
 * `node plugins/cni/build.mjs cni-fast`), it forwards one CNI invocation (the CNI_* variables, TSNET_ROOT and
 * stdin) to the resident tsnetd over its unix socket and prints the answer, exiting with the daemon's exit code.
 *
 * The plugin type is the name of the file exec'd, symlinks followed: an orchestrator's `host-local ->
 * dist/cni-fast/tsnet-ipam` is tsnet-ipam. That is the basename of /proc/self/exe (the path the kernel
 * exec'd, symlinks resolved, a hardlink by the name it was reached through); where that is the build's own
 * name (tsnet-cni-shim) or unreadable, the last name in argv[0]'s symlink chain that is not.
 *
 * When no daemon answers (socket missing or refused), or the daemon declines (it does not serve this type,
 * or the caller is not root in its namespaces, or it is at a limit), the shim execs the standalone Node
 * plugin for the type with the same environment and the same stdin bytes: the results are identical, only
 * slower.
 *
 * The socket is trusted only where no one but root could have put it: its real path (symlinks resolved) is a
 * socket owned by root in a directory owned by root that group and others cannot write, under directories
 * owned by root that group and others cannot write unless sticky (/tmp); and the process listening on it runs
 * as root (SO_PEERCRED). Otherwise the shim says why on stderr and runs the standalone plugin.
 *
 * Standalone plugin location, first that exists:
 *   $TSNET_CNI_STANDALONE_DIR/<type>, TSNET_STANDALONE_DIR/<type> (compile-time define, if given),
 *   <dir of /proc/self/exe>/../cni/<type>   (dist/cni-fast/<type> -> dist/cni/<type>).
 * Socket: $TSNET_SOCKET, else /run/tsnet/tsnetd.sock. TSNET_SHIM_STANDALONE=1 skips the daemon.
 * Wire format: plugins/daemon/protocol.ts.
 */
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define DEFAULT_SOCKET "/run/tsnet/tsnetd.sock"
#define MAX_FRAME (16u * 1024u * 1024u)
#define SHIM_NAME "tsnet-cni-shim"

extern char **environ;

static const char *plugin_type;
static char plugin_type_buf[NAME_MAX + 1];

struct buf {
  char *p;
  size_t len, cap;
};

/* The config's cniVersion once stdin is read (for error JSON); the newest we speak until then. */
static char err_version[24] = "1.1.0";

/*
 * Fails as a CNI plugin must: the spec's error JSON on stdout (code 999, the message, how to fix it in
 * details), the same line on stderr for people, exit status 1.
 */
static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...) {
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  fprintf(stderr, "tsnet-cni-shim (%s): %s\n", plugin_type ? plugin_type : "?", msg);
  printf("{\n  \"cniVersion\": \"%s\",\n  \"code\": 999,\n  \"msg\": \"", err_version);
  for (const char *c = msg; *c; c++) {
    if (*c == '"' || *c == '\\') printf("\\%c", *c);
    else if ((unsigned char)*c < 0x20) printf("\\u%04x", *c);
    else putchar(*c);
  }
  printf("\",\n  \"details\": \"tsnet's CNI shim could not hand the call to tsnetd or to the standalone plugin\"\n}\n");
  fflush(stdout);
  exit(1);
}

static void put(struct buf *b, const void *data, size_t n) {
  if (b->len + n > b->cap) {
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + n) cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) die("out of memory");
    b->p = p;
    b->cap = cap;
  }
  memcpy(b->p + b->len, data, n);
  b->len += n;
}

static void put_str(struct buf *b, const char *s) { put(b, s, strlen(s) + 1); }

/* Reads all of stdin unless it is a terminal (as the Node skel does). */
static void read_stdin(struct buf *in) {
  struct stat st;
  if (fstat(0, &st) != 0 || S_ISCHR(st.st_mode)) return;
  char tmp[65536];
  for (;;) {
    ssize_t n = read(0, tmp, sizeof tmp);
    if (n > 0) put(in, tmp, (size_t)n);
    else if (n == 0) return;
    else if (errno != EINTR) die("cannot read stdin: %s", strerror(errno));
  }
}

static int write_all(int fd, const char *p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

/* write_all for the socket: a daemon that closed (refusing the request) is an error, not a SIGPIPE. */
static int send_all(int fd, const char *p, size_t n) {
  while (n > 0) {
    ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

static int read_full(int fd, char *p, size_t n) {
  while (n > 0) {
    ssize_t r = read(fd, p, n);
    if (r < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    if (r == 0) return -1;
    p += r;
    n -= (size_t)r;
  }
  return 0;
}

/* path = dir + rest + type; false when it does not fit, or is not executable. */
static int candidate(char *path, size_t size, const char *dir, const char *rest) {
  int n = snprintf(path, size, "%s%s%s", dir, rest, plugin_type);
  return n > 0 && (size_t)n < size && access(path, X_OK) == 0;
}

/* Replays the saved stdin into fd 0 (memfd, else an unlinked temp file), then execs the standalone plugin. */
static void run_standalone(const struct buf *in, int had_stdin, const char *why) {
  char path[PATH_MAX];
  const char *dir = getenv("TSNET_CNI_STANDALONE_DIR");
  int found = 0;
  if (dir && *dir) found = candidate(path, sizeof path, dir, "/");
#ifdef TSNET_STANDALONE_DIR
  if (!found) found = candidate(path, sizeof path, TSNET_STANDALONE_DIR, "/");
#endif
  if (!found) {
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n > 0) {
      self[n] = 0;
      char *slash = strrchr(self, '/');
      if (slash) *slash = 0;
      found = candidate(path, sizeof path, self, "/../cni/");
    }
  }
  if (!found)
    die("no tsnetd answered (%s) and no standalone plugin was found; build it (node plugins/cni/build.mjs) or set TSNET_CNI_STANDALONE_DIR to the directory holding it (dist/cni)",
        why);
  /* The standalone plugin is a Node script; a shim there would exec itself forever. */
  char magic[2] = {0, 0};
  int pf = open(path, O_RDONLY | O_CLOEXEC);
  if (pf < 0 || read(pf, magic, 2) != 2 || magic[0] != '#' || magic[1] != '!')
    die("%s is not a standalone plugin script (is it another shim?); point TSNET_CNI_STANDALONE_DIR at dist/cni", path);
  close(pf);
  if (had_stdin) {
    int fd = memfd_create("tsnet-cni-stdin", 0);
    if (fd < 0) {
      char tmpl[] = "/tmp/tsnet-cni-stdin-XXXXXX";
      fd = mkstemp(tmpl);
      if (fd >= 0) unlink(tmpl);
    }
    if (fd < 0 || write_all(fd, in->p ? in->p : "", in->len) != 0 || lseek(fd, 0, SEEK_SET) != 0)
      die("cannot replay stdin to the standalone plugin: %s", strerror(errno));
    if (dup2(fd, 0) < 0) die("dup2: %s", strerror(errno));
    if (fd != 0) close(fd);
  }
  char *argv[] = {(char *)plugin_type, NULL};
  execve(path, argv, environ);
  die("cannot exec the standalone plugin %s: %s", path, strerror(errno));
}

/* The CNI command, to tell whether a lost connection may be retried standalone (everything but ADD). */
static int is_add(void) {
  const char *c = getenv("CNI_COMMAND");
  return c && strcmp(c, "ADD") == 0;
}

/* cniVersion from the config for an error answer; "1.1.0" when absent (the skel's LATEST). */
static void config_version(const struct buf *in, char *out, size_t outlen) {
  snprintf(out, outlen, "1.1.0");
  if (!in->p) return;
  char *s = memmem(in->p, in->len, "\"cniVersion\"", 12);
  if (!s) return;
  char *end = in->p + in->len;
  s += 12;
  while (s < end && (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r' || *s == ':')) s++;
  if (s >= end || *s != '"') return;
  s++;
  size_t i = 0;
  while (s < end && *s != '"' && *s != '\\' && i + 1 < outlen && i < 16) out[i++] = *s++;
  if (s < end && *s == '"' && i > 0) out[i] = 0;
  else snprintf(out, outlen, "1.1.0");
}

/* The last path component of p, without a trailing " (deleted)" (an exe replaced while it ran). */
static void base_name(const char *p, char *out, size_t outlen) {
  const char *b = strrchr(p, '/');
  b = b ? b + 1 : p;
  size_t n = strlen(b);
  const char *del = " (deleted)";
  if (n > strlen(del) && strcmp(b + n - strlen(del), del) == 0) n -= strlen(del);
  if (n >= outlen) n = outlen - 1;
  memcpy(out, b, n);
  out[n] = 0;
}

/* The plugin type: see the head of this file. */
static const char *resolve_type(const char *a0) {
  char path[PATH_MAX], name[NAME_MAX + 1];
  ssize_t n = readlink("/proc/self/exe", path, sizeof path - 1);
  if (n > 0) {
    path[n] = 0;
    base_name(path, name, sizeof name);
    if (*name && strcmp(name, SHIM_NAME) != 0) {
      strcpy(plugin_type_buf, name);
      return plugin_type_buf;
    }
  }
  /* argv[0] and the symlinks it leads through: the last name that is not the build's own. */
  base_name(a0, plugin_type_buf, sizeof plugin_type_buf);
  if (!strchr(a0, '/') || strlen(a0) >= sizeof path) return plugin_type_buf;
  strcpy(path, a0);
  for (int hops = 0; hops < 40; hops++) {
    struct stat st;
    if (lstat(path, &st) != 0 || !S_ISLNK(st.st_mode)) break;
    char target[PATH_MAX];
    ssize_t t = readlink(path, target, sizeof target - 1);
    if (t <= 0) break;
    target[t] = 0;
    if (target[0] != '/') { /* relative to the link's directory */
      char *slash = strrchr(path, '/');
      size_t dirlen = slash ? (size_t)(slash - path) + 1 : 0;
      if (dirlen + (size_t)t >= sizeof path) break;
      memmove(path + dirlen, target, (size_t)t + 1);
    } else {
      memcpy(path, target, (size_t)t + 1);
    }
    base_name(path, name, sizeof name);
    if (*name && strcmp(name, SHIM_NAME) != 0) strcpy(plugin_type_buf, name);
  }
  return plugin_type_buf;
}

/*
 * Whether the socket at `path` may be trusted (see the head of this file): NULL and its real path in
 * `real`, or why not in `why` (`real` set too, unless the path does not resolve).
 */
static const char *untrusted_socket(const char *path, char *real, char *why, size_t whylen) {
  real[0] = 0;
  if (!realpath(path, real)) {
    real[0] = 0;
    snprintf(why, whylen, "%s", strerror(errno));
    return why;
  }
  struct stat st;
  if (lstat(real, &st) != 0) {
    snprintf(why, whylen, "%s: %s", real, strerror(errno));
    return why;
  }
  if (!S_ISSOCK(st.st_mode)) {
    snprintf(why, whylen, "%s is not a socket", real);
    return why;
  }
  if (st.st_uid != 0) {
    snprintf(why, whylen, "%s is owned by uid %u, not root", real, (unsigned)st.st_uid);
    return why;
  }
  char dir[PATH_MAX];
  strcpy(dir, real);
  for (int first = 1;; first = 0) {
    char *slash = strrchr(dir, '/');
    if (!slash) break;
    if (slash == dir) slash[1] = 0; /* "/" itself */
    else *slash = 0;
    if (lstat(dir, &st) != 0) {
      snprintf(why, whylen, "%s: %s", dir, strerror(errno));
      return why;
    }
    if (st.st_uid != 0) {
      snprintf(why, whylen, "directory %s is owned by uid %u, not root", dir, (unsigned)st.st_uid);
      return why;
    }
    /* Others may add entries to a sticky directory (/tmp) but not replace root's; not so the socket's own. */
    if ((st.st_mode & (S_IWGRP | S_IWOTH)) && (first || !(st.st_mode & S_ISVTX))) {
      snprintf(why, whylen, "directory %s is writable by others (mode %04o)", dir, (unsigned)(st.st_mode & 07777));
      return why;
    }
    if (strcmp(dir, "/") == 0) break;
  }
  return NULL;
}

/*
 * Connects to a trusted tsnetd socket: the fd, or -1 with `why` set, and *warn when it is worth saying: the
 * socket is there and this caller could have connected (a missing or unreachable one is the plain "no daemon").
 */
static int connect_daemon(const char *sockpath, char *why, size_t whylen, int *warn) {
  char real[PATH_MAX];
  *warn = 0;
  if (untrusted_socket(sockpath, real, why, whylen)) {
    *warn = real[0] && access(real, W_OK) == 0;
    return -1;
  }
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  if (strlen(real) >= sizeof addr.sun_path) {
    snprintf(why, whylen, "its real path %s is longer than %zu bytes", real, sizeof addr.sun_path - 1);
    *warn = 1;
    return -1;
  }
  strcpy(addr.sun_path, real);
  int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s < 0) {
    snprintf(why, whylen, "cannot make a unix socket: %s", strerror(errno));
    return -1;
  }
  if (connect(s, (struct sockaddr *)&addr, sizeof addr) != 0) {
    /* ECONNREFUSED: no daemon. EACCES and the rest: not ours to use; the plugin itself decides. */
    snprintf(why, whylen, "%s", strerror(errno));
    close(s);
    return -1;
  }
  struct ucred uc;
  socklen_t len = sizeof uc;
  if (getsockopt(s, SOL_SOCKET, SO_PEERCRED, &uc, &len) != 0 || uc.uid != 0) {
    snprintf(why, whylen, "the process listening on %s runs as uid %d, not root", real, len == sizeof uc ? (int)uc.uid : -1);
    *warn = 1;
    close(s);
    return -1;
  }
  return s;
}

int main(int argc, char **argv) {
  (void)argc;
  plugin_type = resolve_type(argv[0] ? argv[0] : "");
  if (!*plugin_type || strcmp(plugin_type, SHIM_NAME) == 0) {
    fprintf(stderr,
            "tsnet-cni-shim: install me as <dir>/<plugin type> (e.g. dist/cni-fast/bridge, made by node plugins/cni/build.mjs cni-fast),\n"
            "or link a name to such a file; I forward CNI calls to tsnetd ($TSNET_SOCKET, default " DEFAULT_SOCKET ") or run the standalone plugin.\n");
    return 2;
  }

  struct buf in = {0};
  struct stat st0;
  int had_stdin = fstat(0, &st0) == 0 && !S_ISCHR(st0.st_mode);
  read_stdin(&in);
  config_version(&in, err_version, sizeof err_version);

  const char *force = getenv("TSNET_SHIM_STANDALONE");
  if (force && *force && strcmp(force, "0") != 0) run_standalone(&in, had_stdin, "TSNET_SHIM_STANDALONE is set");

  const char *sockpath = getenv("TSNET_SOCKET");
  if (!sockpath || !*sockpath) sockpath = DEFAULT_SOCKET;
  char why[PATH_MAX + 128];
  int warn;
  int s = connect_daemon(sockpath, why, sizeof why, &warn);
  if (s < 0) {
    if (warn) fprintf(stderr, "tsnet-cni-shim (%s): not using %s: %s; running the standalone plugin\n", plugin_type, sockpath, why);
    run_standalone(&in, had_stdin, why);
  }

  /* Request: u32 length, "TSN1", KEY=VALUE\0 ..., \0, stdin. */
  struct buf req = {0};
  char line[NAME_MAX + 8];
  put(&req, "\0\0\0\0TSN1", 8);
  snprintf(line, sizeof line, "@type=%s", plugin_type);
  put_str(&req, line);
  for (char **e = environ; *e; e++)
    if (strncmp(*e, "CNI_", 4) == 0 || strncmp(*e, "TSNET_ROOT=", 11) == 0) put_str(&req, *e);
  put(&req, "", 1);
  if (in.len) put(&req, in.p, in.len);
  size_t body = req.len - 4;
  if (body > MAX_FRAME) run_standalone(&in, had_stdin, "request too large for tsnetd");
  req.p[0] = (char)(body >> 24);
  req.p[1] = (char)(body >> 16);
  req.p[2] = (char)(body >> 8);
  req.p[3] = (char)body;
  if (send_all(s, req.p, req.len) != 0) {
    /* tsnetd refused it (over a limit) with a fallback answer and closed, or went away: standalone either way. */
    close(s);
    run_standalone(&in, had_stdin, "tsnetd closed the connection before reading the request");
  }
  shutdown(s, SHUT_WR);

  /* Response: u32 length, "TSN1", 'R' i32 code u32 n stdout stderr | 'F' reason. */
  unsigned char hdr[4];
  char *resp = NULL;
  uint32_t n = 0;
  int ok = read_full(s, (char *)hdr, 4) == 0;
  if (ok) {
    n = (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 | (uint32_t)hdr[2] << 8 | hdr[3];
    ok = n >= 5 && n <= MAX_FRAME && (resp = malloc(n)) != NULL && read_full(s, resp, n) == 0 && memcmp(resp, "TSN1", 4) == 0;
  }
  close(s);
  if (!ok) {
    /* The daemon died mid-request. Only ADD is unsafe to replay (it may be partly done). */
    if (!is_add()) run_standalone(&in, had_stdin, "tsnetd closed the connection before answering");
    char v[24];
    config_version(&in, v, sizeof v);
    printf("{\n  \"cniVersion\": \"%s\",\n  \"code\": 11,\n  \"msg\": \"tsnetd closed the connection before answering ADD (it exited or was killed)\",\n"
           "  \"details\": \"the ADD may be partly done: DEL the attachment, then retry (the standalone plugin answers while no daemon runs)\"\n}\n",
           v);
    return 1;
  }
  if (resp[4] == 'F') {
    char reason[256];
    size_t rl = n - 5 < sizeof reason - 1 ? n - 5 : sizeof reason - 1;
    memcpy(reason, resp + 5, rl);
    reason[rl] = 0;
    run_standalone(&in, had_stdin, reason);
  }
  if (resp[4] != 'R' || n < 13) die("tsnetd sent an unknown answer (kind %c); restart tsnetd with this build", resp[4] ? resp[4] : '?');
  unsigned char *u = (unsigned char *)resp;
  int32_t code = (int32_t)((uint32_t)u[5] << 24 | (uint32_t)u[6] << 16 | (uint32_t)u[7] << 8 | u[8]);
  uint32_t outn = (uint32_t)u[9] << 24 | (uint32_t)u[10] << 16 | (uint32_t)u[11] << 8 | u[12];
  if (13 + (size_t)outn > n) die("tsnetd sent a malformed answer; restart tsnetd with this build");
  if (write_all(1, resp + 13, outn) != 0 && errno != EPIPE) return 1;
  if (n > 13 + outn) (void)write_all(2, resp + 13 + outn, n - 13 - outn);
  return code;
}
