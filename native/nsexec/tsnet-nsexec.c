/*
 * tsnet-nsexec — run a program inside existing namespaces (what `nsenter` does, without util-linux), optionally
 * with a private view of some directories (what a DHCP client needs so that it cannot write the host's files).
 *
 * Usage
 *   tsnet-nsexec [--tmpfs DIR]... [--bind SRC:DST]... NSPATH... -- PROGRAM [ARG...]
 *
 * Each NSPATH is a namespace file (/proc/PID/ns/net, /run/netns/NAME, /proc/PID/ns/mnt …); the helper
 * setns()es into each, in the order given. With --tmpfs or --bind it then unshares a mount namespace of its
 * own (mount propagation made private, so nothing it mounts reaches the host) and, in the order given, mounts
 * an empty tmpfs on each DIR and binds each SRC onto DST; a DIR or DST that does not exist is skipped (there
 * is nothing there to protect). Then it execvp()s PROGRAM. Nothing else changes: environment, cwd, fds and
 * the process (no fork) stay, so the caller's pid is the program's pid and the caller can wait for it or
 * kill it.
 *
 * Exit status: the program's, or 125 for a usage/setns/mount failure, 126 when PROGRAM cannot be executed,
 * 127 when it is not found (the conventions of env(1) and docker).
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_MOUNTS 32

static int usage(void) {
  fprintf(stderr, "usage: tsnet-nsexec [--tmpfs DIR]... [--bind SRC:DST]... NSPATH... -- PROGRAM [ARG...]\n");
  return 125;
}

struct mnt {
  int tmpfs;        /* 1: tmpfs on dst; 0: bind src onto dst */
  const char *src;  /* bind source */
  char dst[4096];
};

int main(int argc, char **argv) {
  struct mnt mounts[MAX_MOUNTS];
  int nmounts = 0;
  int first = 1;
  while (first + 1 < argc && (strcmp(argv[first], "--tmpfs") == 0 || strcmp(argv[first], "--bind") == 0)) {
    if (nmounts == MAX_MOUNTS) return usage();
    struct mnt *m = &mounts[nmounts++];
    const char *v = argv[first + 1];
    if (argv[first][2] == 't') {
      m->tmpfs = 1;
      m->src = NULL;
      if (snprintf(m->dst, sizeof m->dst, "%s", v) >= (int)sizeof m->dst) return usage();
    } else {
      const char *colon = strchr(v, ':');
      if (!colon || colon == v || !colon[1]) return usage();
      m->tmpfs = 0;
      m->src = strndup(v, (size_t)(colon - v));
      if (snprintf(m->dst, sizeof m->dst, "%s", colon + 1) >= (int)sizeof m->dst) return usage();
    }
    first += 2;
  }
  int sep = -1;
  for (int i = first; i < argc; i++) {
    if (strcmp(argv[i], "--") == 0) {
      sep = i;
      break;
    }
  }
  if (sep < first + 1 || sep + 1 >= argc) return usage();
  for (int i = first; i < sep; i++) {
    int fd = open(argv[i], O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      fprintf(stderr, "tsnet-nsexec: open %s: %s\n", argv[i], strerror(errno));
      return 125;
    }
    if (setns(fd, 0) < 0) {
      fprintf(stderr, "tsnet-nsexec: setns %s: %s%s\n", argv[i], strerror(errno),
              errno == EINVAL ? " (not a namespace file?)" : errno == EPERM ? " (needs CAP_SYS_ADMIN)" : "");
      close(fd);
      return 125;
    }
    close(fd);
  }
  if (nmounts > 0) {
    if (unshare(CLONE_NEWNS) < 0) {
      fprintf(stderr, "tsnet-nsexec: unshare(CLONE_NEWNS): %s\n", strerror(errno));
      return 125;
    }
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
      fprintf(stderr, "tsnet-nsexec: making / private: %s\n", strerror(errno));
      return 125;
    }
    for (int i = 0; i < nmounts; i++) {
      struct mnt *m = &mounts[i];
      struct stat st;
      if (stat(m->dst, &st) < 0) continue; /* nothing there to protect */
      int rc = m->tmpfs ? mount("tsnet-private", m->dst, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755")
                        : mount(m->src, m->dst, NULL, MS_BIND, NULL);
      if (rc < 0) {
        fprintf(stderr, "tsnet-nsexec: %s %s%s%s: %s\n", m->tmpfs ? "tmpfs on" : "bind", m->tmpfs ? "" : m->src,
                m->tmpfs ? "" : " onto ", m->dst, strerror(errno));
        return 125;
      }
    }
  }
  execvp(argv[sep + 1], &argv[sep + 1]);
  int err = errno;
  fprintf(stderr, "tsnet-nsexec: exec %s: %s\n", argv[sep + 1], strerror(err));
  return err == ENOENT ? 127 : 126;
}
