/*
 * tsnet-linger — takes over, from a process about to exit, kernel work whose tail would hold up that exit.
 *
 * Some releases and requests make the kernel wait before it returns: an nf_tables netlink socket's release waits
 * for the clean-up of its last commit, deleting a link ends in an RCU barrier — 10-20 ms each on a busy machine.
 * A one-shot process (the CLI's `run`) does not need to see them end: this helper, started by posix_spawn with
 * the descriptors given, does them in a process of its own, whose end nobody waits for.
 *
 * Usage
 *   tsnet-linger hold   keeps fds 3 and up open until stdin (a pipe whose write end the handing process keeps
 *                       until it exits) ends; then exits, releasing them
 *   tsnet-linger send   reads one netlink request from stdin (to its end), sends it on fd 3 (a netlink socket),
 *                       writes to fd 4 a 64-bit 1 once sent (1 + errno if the send failed), then exits; the
 *                       kernel's answer arrives on the socket, for the handing process to read
 *
 * Exit status: 0, or 2 for a usage error. Writes nothing else, to nowhere else.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <linux/netlink.h>
#include <unistd.h>

#define MAX_REQUEST 65536

static int hold(void) {
  char buf[64];
  for (;;) {
    ssize_t n = read(0, buf, sizeof buf);
    if (n > 0 || (n < 0 && errno == EINTR)) continue;
    return 0; /* end of file (the handing process is gone), or stdin unreadable: hold nothing longer */
  }
}

static int send_request(void) {
  static unsigned char req[MAX_REQUEST];
  size_t len = 0;
  uint64_t status = 1;
  for (;;) {
    ssize_t n = read(0, req + len, sizeof req - len);
    if (n > 0) len += (size_t)n;
    else if (n < 0 && errno == EINTR) continue;
    else if (n < 0) {
      status = 1 + (uint64_t)errno;
      break;
    } else break;
    if (len == sizeof req) {
      status = 1 + EMSGSIZE;
      break;
    }
  }
  if (status == 1) {
    struct sockaddr_nl sa;
    memset(&sa, 0, sizeof sa);
    sa.nl_family = AF_NETLINK;
    ssize_t n;
    do n = sendto(3, req, len, 0, (struct sockaddr *)&sa, sizeof sa);
    while (n < 0 && errno == EINTR);
    if (n < 0) status = 1 + (uint64_t)errno;
  }
  ssize_t w;
  do w = write(4, &status, sizeof status);
  while (w < 0 && errno == EINTR);
  return 0;
}

int main(int argc, char **argv) {
  if (argc == 2 && !strcmp(argv[1], "hold")) return hold();
  if (argc == 2 && !strcmp(argv[1], "send")) return send_request();
  return 2;
}
