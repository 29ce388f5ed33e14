/*
 * tsnet-nsexec — run a program inside existing namespaces (what `nsenter` does, without util-linux).
 *
 * Usage
 *   tsnet-nsexec NSPATH... -- PROGRAM [ARG...]
 *
 * Each NSPATH is a namespace file (/proc/PID/ns/net, /run/netns/NAME, /proc/PID/ns/mnt …); the helper
 * setns()es into each, in the order given, then execvp()s PROGRAM. Nothing else changes: environment, cwd,
 * fds and the process (no fork) stay, so the caller's pid is the program's pid and the caller can wait for
 * it or kill it.
 *
 * Exit status: the program's, or 125 for a usage/setns failure, 126 when PROGRAM cannot be executed, 127
 * when it is not found (the conventions of env(1) and docker).
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int usage(void) {
  fprintf(stderr, "usage: tsnet-nsexec NSPATH... -- PROGRAM [ARG...]\n");
  return 125;
}

int main(int argc, char **argv) {
  int sep = -1;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--") == 0) {
      sep = i;
      break;
    }
  }
  if (sep < 2 || sep + 1 >= argc) return usage();
  for (int i = 1; i < sep; i++) {
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
  execvp(argv[sep + 1], &argv[sep + 1]);
  int err = errno;
  fprintf(stderr, "tsnet-nsexec: exec %s: %s\n", argv[sep + 1], strerror(err));
  return err == ENOENT ? 127 : 126;
}
