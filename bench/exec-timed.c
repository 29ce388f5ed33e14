// exec-timed FILE [ARG...]: runs FILE as a container runtime execs a CNI plugin, and reports how long that
// took — from posix_spawn() to the child's exit — on fd 3 ("<milliseconds>\n").
//
// The benches are Node processes, and Node starts a child with fork(), which copies the parent's page
// tables (~1.2 ms more per call here than vfork); posix_spawn, like Go's os/exec (podman, containerd,
// the reference plugins execing their IPAM), starts it with vfork semantics. The benches time each call
// both ways: as their own Node process sees it, and through this.
//
// Our stdin is read whole first and handed to the child through a pipe filled before the clock starts (as a
// runtime writes the network config); stdout and stderr are the child's own. Exits with the child's status
// (128+signal when it was killed).
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char** environ;

static double now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

int main(int argc, char** argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: exec-timed FILE [ARG...]  (stdin goes to FILE; milliseconds are written to fd 3)\n");
    return 2;
  }
  if (fcntl(3, F_GETFD) < 0) {
    fprintf(stderr, "exec-timed: fd 3 is not open: give it a pipe or file for the timing\n");
    return 2;
  }
  char* input = NULL;
  size_t len = 0, cap = 0;
  for (;;) {
    if (len == cap) {
      cap = cap ? cap * 2 : 65536;
      input = realloc(input, cap);
      if (!input) return 2;
    }
    ssize_t n = read(0, input + len, cap - len);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      perror("exec-timed: read stdin");
      return 2;
    }
    if (n == 0) break;
    len += (size_t)n;
  }
  int p[2];
  if (pipe2(p, O_CLOEXEC) != 0) {
    perror("exec-timed: pipe");
    return 2;
  }
  if (len > 0 && fcntl(p[1], F_SETPIPE_SZ, (int)len) < 0 && len > 65536) {
    perror("exec-timed: stdin too large for a pipe");
    return 2;
  }
  for (size_t off = 0; off < len;) {
    ssize_t n = write(p[1], input + off, len - off);
    if (n < 0) {
      perror("exec-timed: write stdin");
      return 2;
    }
    off += (size_t)n;
  }
  close(p[1]);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, p[0], 0);
  posix_spawn_file_actions_addclose(&fa, 3);
  double t0 = now_ms();
  pid_t pid;
  int rc = posix_spawn(&pid, argv[1], &fa, NULL, argv + 1, environ);
  if (rc != 0) {
    fprintf(stderr, "exec-timed: %s: %s\n", argv[1], strerror(rc));
    return 127;
  }
  int st;
  while (waitpid(pid, &st, 0) < 0)
    if (errno != EINTR) {
      perror("exec-timed: waitpid");
      return 2;
    }
  double ms = now_ms() - t0;
  dprintf(3, "%.4f\n", ms);
  if (WIFSIGNALED(st)) return 128 + WTERMSIG(st);
  return WEXITSTATUS(st);
}
