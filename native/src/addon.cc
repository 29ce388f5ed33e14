// tsnet native layer: only what Node.js cannot do itself.
//
// Every call here is a thin wrapper over one or a few syscalls. Anything that has to run inside another
// network namespace runs on the calling thread between two setns() calls — into the namespace, and back to
// the one the thread was in — inside one synchronous call, so no JavaScript ever runs elsewhere (a failed
// way back aborts the process); without /proc to find the way back, and for work done in the background
// (openDirAtAsync, netnsCreate), on a short-lived thread of its own that exits afterwards. libuv's worker
// threads never change namespace.
//
// Two things are cached for "the process's own namespace" at first use: directory fds under /proc/sys/net
// and (in netns.ts) rtnetlink sockets. The main thread must therefore stay in its namespace between calls:
// `setns` below is for helper processes and tests that never use those.
// Errors are JS Errors carrying errno, code ('EEXIST'…), syscall and, where relevant, path.

#include <napi.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <linux/netlink.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <stdio.h>
#include <stdlib.h>

#include <functional>
#include <map>
#include <system_error>
#include <string>
#include <thread>
#include <vector>

#ifndef NSIO
#define NSIO 0xb7
#endif
#ifndef NS_GET_NSTYPE
#define NS_GET_NSTYPE _IO(NSIO, 0x3)
#endif
#ifndef NETLINK_EXT_ACK
#define NETLINK_EXT_ACK 11
#endif
#ifndef NETLINK_CAP_ACK
#define NETLINK_CAP_ACK 10
#endif
#ifndef NETLINK_GET_STRICT_CHK
#define NETLINK_GET_STRICT_CHK 12
#endif

void InitFrameServer(Napi::Env env, Napi::Object exports);  // frame-server.cc: tsnetd's listening socket

namespace {

struct SysFailure {
  int err = 0;
  std::string syscall;
  std::string path;
};

Napi::Error MakeError(Napi::Env env, const SysFailure& f) {
  const char* name = strerrorname_np(f.err);
  std::string code = name ? name : ("E" + std::to_string(f.err));
  std::string msg = code + ": " + strerror(f.err) + ", " + f.syscall;
  if (!f.path.empty()) msg += " '" + f.path + "'";
  Napi::Error e = Napi::Error::New(env, msg);
  e.Set("errno", Napi::Number::New(env, f.err));
  e.Set("code", Napi::String::New(env, code));
  e.Set("syscall", Napi::String::New(env, f.syscall));
  if (!f.path.empty()) e.Set("path", Napi::String::New(env, f.path));
  return e;
}

[[noreturn]] void Throw(Napi::Env env, const SysFailure& f) { throw MakeError(env, f); }

std::string OptString(const Napi::Value& v) {
  if (v.IsUndefined() || v.IsNull()) return std::string();
  return v.As<Napi::String>().Utf8Value();
}

void RequireArgs(const Napi::CallbackInfo& info, size_t n, const char* usage) {
  if (info.Length() < n) throw Napi::TypeError::New(info.Env(), std::string("usage: ") + usage);
}

// Runs fn on a fresh thread that exits afterwards (for unshare(), whose effect must die with the thread).
bool RunOnThread(SysFailure& failure, const std::function<bool(SysFailure&)>& fn) {
  bool ok = false;
  std::thread t([&]() { ok = fn(failure); });
  t.join();
  return ok;
}

// Moves the calling thread into the network namespace at nsPath, for good: only on a thread that then exits.
bool EnterNetns(const std::string& nsPath, SysFailure& f) {
  int nsfd = open(nsPath.c_str(), O_RDONLY | O_CLOEXEC);
  if (nsfd < 0) {
    f = {errno, "open", nsPath};
    return false;
  }
  int r = setns(nsfd, CLONE_NEWNET);
  int err = errno;
  close(nsfd);
  if (r != 0) {
    f = {err, "setns", nsPath};
    return false;
  }
  return true;
}

// Runs fn inside the network namespace at nsPath (when not empty) on the calling thread: setns() there, fn,
// setns() back to the namespace the thread was in. Much cheaper than a thread per call. If the way back
// fails the process aborts: a thread left in another namespace would act on the wrong host.
bool RunInNetns(const std::string& nsPath, SysFailure& failure, const std::function<bool(SysFailure&)>& fn) {
  if (nsPath.empty()) return fn(failure);  // our own netns: nothing to enter
  int home = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (home < 0) {
    // No way back without /proc (not mounted, or another pid namespace's): do it on a thread that setns()es
    // and then exits, taking its namespace membership with it.
    return RunOnThread(failure, [&](SysFailure& ff) { return EnterNetns(nsPath, ff) && fn(ff); });
  }
  int nsfd = open(nsPath.c_str(), O_RDONLY | O_CLOEXEC);
  if (nsfd < 0) {
    failure = {errno, "open", nsPath};
    close(home);
    return false;
  }
  struct stat here, there;
  bool same = fstat(home, &here) == 0 && fstat(nsfd, &there) == 0 && here.st_ino == there.st_ino && here.st_dev == there.st_dev;
  if (!same && setns(nsfd, CLONE_NEWNET) != 0) {
    failure = {errno, "setns", nsPath};
    close(nsfd);
    close(home);
    return false;
  }
  close(nsfd);
  bool ok = fn(failure);
  if (!same && setns(home, CLONE_NEWNET) != 0) {
    fprintf(stderr, "tsnet native: cannot return to the original network namespace after entering %s: %s\n", nsPath.c_str(), strerror(errno));
    abort();
  }
  close(home);
  return ok;
}

int OpenNetlinkHere(int protocol, uint32_t groups, SysFailure& f) {
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, protocol);
  if (fd < 0) {
    f = {errno, "socket", ""};
    return -1;
  }
  int one = 1;
  int bufsize = 1 << 20;
  // Larger buffers keep big dumps from overrunning; FORCE needs CAP_NET_ADMIN, fall back silently.
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &bufsize, sizeof bufsize) != 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bufsize, sizeof bufsize);
  setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bufsize, sizeof bufsize);
  setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof one);
  setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof one);
  // Strict checking lets dumps be filtered by the kernel (addresses/neighbours of one interface), so a dump
  // stays small and is rarely interrupted by concurrent changes elsewhere. Older kernels ignore the filters.
  setsockopt(fd, SOL_NETLINK, NETLINK_GET_STRICT_CHK, &one, sizeof one);
  struct timeval tv = {30, 0};  // the kernel always answers a request; 30 s means something is badly wrong
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  struct sockaddr_nl sa;
  memset(&sa, 0, sizeof sa);
  sa.nl_family = AF_NETLINK;
  sa.nl_groups = groups;  // multicast groups (RTMGRP_*): a monitor of the namespace's changes
  if (bind(fd, reinterpret_cast<struct sockaddr*>(&sa), sizeof sa) != 0) {
    f = {errno, "bind", ""};
    close(fd);
    return -1;
  }
  return fd;
}

// netlinkOpen(nsPath: string | null, protocol: number, groups = 0): number
Napi::Value NetlinkOpen(const Napi::CallbackInfo& info) {
  RequireArgs(info, 2, "netlinkOpen(nsPath|null, protocol, groups?)");
  std::string nsPath = OptString(info[0]);
  int protocol = info[1].As<Napi::Number>().Int32Value();
  uint32_t groups = info.Length() > 2 && info[2].IsNumber() ? info[2].As<Napi::Number>().Uint32Value() : 0;
  SysFailure f;
  int fd = -1;
  if (!RunInNetns(nsPath, f, [&](SysFailure& ff) {
        fd = OpenNetlinkHere(protocol, groups, ff);
        return fd >= 0;
      }))
    Throw(info.Env(), f);
  return Napi::Number::New(info.Env(), fd);
}

// netlinkPortId(fd): number — the port id the kernel assigned at bind.
Napi::Value NetlinkPortId(const Napi::CallbackInfo& info) {
  RequireArgs(info, 1, "netlinkPortId(fd)");
  int fd = info[0].As<Napi::Number>().Int32Value();
  struct sockaddr_nl sa;
  socklen_t len = sizeof sa;
  if (getsockname(fd, reinterpret_cast<struct sockaddr*>(&sa), &len) != 0) Throw(info.Env(), {errno, "getsockname", ""});
  return Napi::Number::New(info.Env(), sa.nl_pid);
}

// netlinkSend(fd, buffer): number of bytes sent
Napi::Value NetlinkSend(const Napi::CallbackInfo& info) {
  RequireArgs(info, 2, "netlinkSend(fd, buffer)");
  int fd = info[0].As<Napi::Number>().Int32Value();
  Napi::Buffer<uint8_t> buf = info[1].As<Napi::Buffer<uint8_t>>();
  struct sockaddr_nl sa;
  memset(&sa, 0, sizeof sa);
  sa.nl_family = AF_NETLINK;
  ssize_t n;
  do {
    n = sendto(fd, buf.Data(), buf.Length(), 0, reinterpret_cast<struct sockaddr*>(&sa), sizeof sa);
  } while (n < 0 && errno == EINTR);
  if (n < 0) Throw(info.Env(), {errno, "sendto", ""});
  return Napi::Number::New(info.Env(), static_cast<double>(n));
}

// Receives one datagram, sized exactly (MSG_PEEK|MSG_TRUNC first). With MSG_DONTWAIT in flags, a socket
// with nothing queued fails with EAGAIN; otherwise EAGAIN means SO_RCVTIMEO expired (reported as ETIMEDOUT).
bool RecvDatagram(int fd, std::vector<uint8_t>& out, SysFailure& f, int flags = 0) {
  ssize_t n;
  do {
    n = recv(fd, nullptr, 0, MSG_PEEK | MSG_TRUNC | flags);
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    f = {errno == EAGAIN && !(flags & MSG_DONTWAIT) ? ETIMEDOUT : errno, "recv", ""};
    return false;
  }
  out.resize(static_cast<size_t>(n > 0 ? n : 1));
  do {
    n = recv(fd, out.data(), out.size(), flags);
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    f = {errno == EAGAIN && !(flags & MSG_DONTWAIT) ? ETIMEDOUT : errno, "recv", ""};
    return false;
  }
  out.resize(static_cast<size_t>(n));
  return true;
}

// netlinkRecvSync(fd): Buffer — blocks the calling thread; for one-shot CLI/plugin processes.
Napi::Value NetlinkRecvSync(const Napi::CallbackInfo& info) {
  RequireArgs(info, 1, "netlinkRecvSync(fd)");
  int fd = info[0].As<Napi::Number>().Int32Value();
  std::vector<uint8_t> data;
  SysFailure f;
  if (!RecvDatagram(fd, data, f)) Throw(info.Env(), f);
  return Napi::Buffer<uint8_t>::Copy(info.Env(), data.data(), data.size());
}

// netlinkRecvNow(fd): Buffer | null — a datagram the kernel has already queued, or null; never waits.
// rtnetlink answers inside the sender's sendmsg(), so a reply is normally there by the time this is called:
// reading it here saves a round trip through a worker thread.
Napi::Value NetlinkRecvNow(const Napi::CallbackInfo& info) {
  RequireArgs(info, 1, "netlinkRecvNow(fd)");
  int fd = info[0].As<Napi::Number>().Int32Value();
  std::vector<uint8_t> data;
  SysFailure f;
  if (!RecvDatagram(fd, data, f, MSG_DONTWAIT)) {
    if (f.err == EAGAIN || f.err == EWOULDBLOCK) return info.Env().Null();
    Throw(info.Env(), f);
  }
  return Napi::Buffer<uint8_t>::Copy(info.Env(), data.data(), data.size());
}

// netlinkSendDetached(fd, buffer): eventfd — sends on a thread of its own and returns at once. For requests
// the kernel works on for long inside sendmsg() (deleting a link ends in an RCU barrier). The thread uses
// duplicates of the socket and of the returned eventfd, so the caller may close both at any time; the
// eventfd becomes readable when sendmsg() has returned (value 1, or 1 + errno if it failed). The kernel's
// answer arrives on the socket as usual.
Napi::Value NetlinkSendDetached(const Napi::CallbackInfo& info) {
  RequireArgs(info, 2, "netlinkSendDetached(fd, buffer)");
  int fd = info[0].As<Napi::Number>().Int32Value();
  Napi::Buffer<uint8_t> buf = info[1].As<Napi::Buffer<uint8_t>>();
  std::vector<uint8_t> data(buf.Data(), buf.Data() + buf.Length());
  int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (efd < 0) Throw(info.Env(), {errno, "eventfd", ""});
  int sfd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  int tefd = sfd < 0 ? -1 : fcntl(efd, F_DUPFD_CLOEXEC, 0);
  if (sfd < 0 || tefd < 0) {
    int err = errno;
    if (sfd >= 0) close(sfd);
    close(efd);
    Throw(info.Env(), {err, "fcntl(F_DUPFD_CLOEXEC)", ""});
  }
  try {
    std::thread([sfd, tefd, data = std::move(data)]() {
      struct sockaddr_nl sa;
      memset(&sa, 0, sizeof sa);
      sa.nl_family = AF_NETLINK;
      ssize_t n;
      do {
        n = sendto(sfd, data.data(), data.size(), 0, reinterpret_cast<struct sockaddr*>(&sa), sizeof sa);
      } while (n < 0 && errno == EINTR);
      uint64_t v = n < 0 ? 1 + static_cast<uint64_t>(errno) : 1;
      ssize_t w = write(tefd, &v, sizeof v);
      (void)w;
      close(sfd);
      close(tefd);
    }).detach();
  } catch (const std::system_error& e) {
    close(sfd);
    close(tefd);
    close(efd);
    Throw(info.Env(), {e.code().value() ? e.code().value() : EAGAIN, "pthread_create", ""});
  }
  return Napi::Number::New(info.Env(), efd);
}

// pollReadable(fds, timeoutMs): Promise<number[]> — waits on a libuv worker until at least one of the fds
// is readable (or has an error condition) and resolves with those fds; rejects with ETIMEDOUT.
class PollWorker : public Napi::AsyncWorker {
 public:
  PollWorker(Napi::Env env, std::vector<int> fds, int timeoutMs)
      : Napi::AsyncWorker(env), fds_(std::move(fds)), timeout_(timeoutMs), deferred_(Napi::Promise::Deferred::New(env)) {}
  Napi::Promise Promise() { return deferred_.Promise(); }
  void Execute() override {
    std::vector<struct pollfd> p(fds_.size());
    for (size_t i = 0; i < fds_.size(); i++) p[i] = {fds_[i], POLLIN, 0};
    int n;
    do {
      n = poll(p.data(), p.size(), timeout_);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
      failure_ = {errno, "poll", ""};
      return;
    }
    if (n == 0) {
      failure_ = {ETIMEDOUT, "poll", ""};
      return;
    }
    for (const auto& q : p)
      if (q.revents) ready_.push_back(q.fd);
  }
  void OnOK() override {
    Napi::Env env = Env();
    if (failure_.err) {
      deferred_.Reject(MakeError(env, failure_).Value());
      return;
    }
    Napi::Array out = Napi::Array::New(env, ready_.size());
    for (size_t i = 0; i < ready_.size(); i++) out.Set(static_cast<uint32_t>(i), Napi::Number::New(env, ready_[i]));
    deferred_.Resolve(out);
  }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  std::vector<int> fds_;
  int timeout_;
  std::vector<int> ready_;
  SysFailure failure_;
  Napi::Promise::Deferred deferred_;
};

Napi::Value PollReadable(const Napi::CallbackInfo& info) {
  RequireArgs(info, 2, "pollReadable(fds[], timeoutMs)");
  Napi::Array a = info[0].As<Napi::Array>();
  std::vector<int> fds;
  for (uint32_t i = 0; i < a.Length(); i++) fds.push_back(a.Get(i).As<Napi::Number>().Int32Value());
  auto* w = new PollWorker(info.Env(), std::move(fds), info[1].As<Napi::Number>().Int32Value());
  Napi::Promise p = w->Promise();
  w->Queue();
  return p;
}

class RecvWorker : public Napi::AsyncWorker {
 public:
  RecvWorker(Napi::Env env, int fd) : Napi::AsyncWorker(env), fd_(fd), deferred_(Napi::Promise::Deferred::New(env)) {}
  Napi::Promise Promise() { return deferred_.Promise(); }
  void Execute() override {
    ok_ = RecvDatagram(fd_, data_, failure_);
  }
  void OnOK() override {
    Napi::Env env = Env();
    if (ok_)
      deferred_.Resolve(Napi::Buffer<uint8_t>::Copy(env, data_.data(), data_.size()));
    else
      deferred_.Reject(MakeError(env, failure_).Value());
  }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  int fd_;
  bool ok_ = false;
  std::vector<uint8_t> data_;
  SysFailure failure_;
  Napi::Promise::Deferred deferred_;
};

// netlinkRecv(fd): Promise<Buffer> — waits on a libuv worker thread, never blocking the event loop.
Napi::Value NetlinkRecv(const Napi::CallbackInfo& info) {
  RequireArgs(info, 1, "netlinkRecv(fd)");
  int fd = info[0].As<Napi::Number>().Int32Value();
  auto* w = new RecvWorker(info.Env(), fd);
  Napi::Promise p = w->Promise();
  w->Queue();
  return p;
}

// nsType(path): number — CLONE_NEW* of the namespace file; ENOTTY/EINVAL means "not a namespace".
Napi::Value NsType(const Napi::CallbackInfo& info) {
  RequireArgs(info, 1, "nsType(path)");
  std::string path = info[0].As<Napi::String>().Utf8Value();
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) Throw(info.Env(), {errno, "open", path});
  int t = ioctl(fd, NS_GET_NSTYPE);
  int err = errno;
  close(fd);
  if (t < 0) Throw(info.Env(), {err, "ioctl(NS_GET_NSTYPE)", path});
  return Napi::Number::New(info.Env(), t);
}

bool MakeSharedMountDir(const std::string& dir, SysFailure& f) {
  if (mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
    f = {errno, "mkdir", dir};
    return false;
  }
  // As iproute2 does: make the directory a shared mount point so namespaces bound under it
  // propagate to other mount namespaces; bind it onto itself first when it is not a mount point yet.
  for (int attempt = 0; attempt < 2; attempt++) {
    if (mount("", dir.c_str(), "none", MS_SHARED | MS_REC, nullptr) == 0) return true;
    if (errno != EINVAL || attempt == 1) {
      f = {errno, "mount(MS_SHARED)", dir};
      return false;
    }
    if (mount(dir.c_str(), dir.c_str(), "none", MS_BIND | MS_REC, nullptr) != 0) {
      f = {errno, "mount(MS_BIND)", dir};
      return false;
    }
  }
  return true;
}

// netnsCreate(dir, name): string path — a new persistent network namespace at dir/name, like `ip netns add`.
Napi::Value NetnsCreate(const Napi::CallbackInfo& info) {
  RequireArgs(info, 2, "netnsCreate(dir, name)");
  std::string dir = info[0].As<Napi::String>().Utf8Value();
  std::string name = info[1].As<Napi::String>().Utf8Value();
  std::string path = dir + "/" + name;
  SysFailure f;
  if (!MakeSharedMountDir(dir, f)) Throw(info.Env(), f);
  int fd = open(path.c_str(), O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0);
  if (fd < 0) Throw(info.Env(), {errno, "open", path});
  close(fd);
  bool ok = RunOnThread(f, [&](SysFailure& ff) {
    if (unshare(CLONE_NEWNET) != 0) {
      ff = {errno, "unshare(CLONE_NEWNET)", ""};
      return false;
    }
    std::string self = "/proc/self/task/" + std::to_string(syscall(SYS_gettid)) + "/ns/net";
    if (mount(self.c_str(), path.c_str(), "none", MS_BIND, nullptr) != 0) {
      ff = {errno, "mount(MS_BIND)", path};
      return false;
    }
    return true;
  });
  if (!ok) {
    unlink(path.c_str());
    Throw(info.Env(), f);
  }
  return Napi::String::New(info.Env(), path);
}

// netnsDelete(path): undefined — unmounts and removes a persistent namespace file, like `ip netns del`.
Napi::Value NetnsDelete(const Napi::CallbackInfo& info) {
  RequireArgs(info, 1, "netnsDelete(path)");
  std::string path = info[0].As<Napi::String>().Utf8Value();
  if (umount2(path.c_str(), MNT_DETACH) != 0 && errno != EINVAL && errno != ENOENT)
    Throw(info.Env(), {errno, "umount2", path});
  if (unlink(path.c_str()) != 0 && errno != ENOENT) Throw(info.Env(), {errno, "unlink", path});
  return info.Env().Undefined();
}

// socketAt(nsPath|null, domain, type, protocol): fd — any socket, created inside the given netns.
Napi::Value SocketAt(const Napi::CallbackInfo& info) {
  RequireArgs(info, 4, "socketAt(nsPath|null, domain, type, protocol)");
  std::string nsPath = OptString(info[0]);
  int domain = info[1].As<Napi::Number>().Int32Value();
  int type = info[2].As<Napi::Number>().Int32Value();
  int protocol = info[3].As<Napi::Number>().Int32Value();
  SysFailure f;
  int fd = -1;
  if (!RunInNetns(nsPath, f, [&](SysFailure& ff) {
        fd = socket(domain, type | SOCK_CLOEXEC, protocol);
        if (fd < 0) ff = {errno, "socket", ""};
        return fd >= 0;
      }))
    Throw(info.Env(), f);
  return Napi::Number::New(info.Env(), fd);
}

// bindPort(family 4|6, udp: boolean, addr: string, port: number): [fd, port]
// A socket bound (not listening) to addr:port in this process's netns, close-on-exec and without
// SO_REUSEADDR, so no other socket can bind the port while it is held (a published port's reservation).
// Port 0 takes a free port from the ephemeral range; the port bound is returned.
Napi::Value BindPort(const Napi::CallbackInfo& info) {
  RequireArgs(info, 4, "bindPort(family, udp, addr, port)");
  int family = info[0].As<Napi::Number>().Int32Value() == 6 ? AF_INET6 : AF_INET;
  bool udp = info[1].ToBoolean().Value();
  std::string addr = info[2].As<Napi::String>().Utf8Value();
  int port = info[3].As<Napi::Number>().Int32Value();
  int fd = socket(family, (udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC, 0);
  if (fd < 0) Throw(info.Env(), {errno, "socket", ""});
  struct sockaddr_storage ss;
  memset(&ss, 0, sizeof ss);
  socklen_t len;
  int ok;
  if (family == AF_INET) {
    auto* sin = reinterpret_cast<struct sockaddr_in*>(&ss);
    sin->sin_family = AF_INET;
    sin->sin_port = htons(port);
    ok = inet_pton(AF_INET, addr.c_str(), &sin->sin_addr);
    len = sizeof *sin;
  } else {
    auto* sin6 = reinterpret_cast<struct sockaddr_in6*>(&ss);
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons(port);
    ok = inet_pton(AF_INET6, addr.c_str(), &sin6->sin6_addr);
    len = sizeof *sin6;
    int one = 1;
    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  }
  if (ok != 1) {
    close(fd);
    Throw(info.Env(), {EINVAL, "inet_pton", addr});
  }
  if (bind(fd, reinterpret_cast<struct sockaddr*>(&ss), len) != 0) {
    int e = errno;
    close(fd);
    Throw(info.Env(), {e, "bind", addr + ":" + std::to_string(port)});
  }
  struct sockaddr_storage got;
  socklen_t glen = sizeof got;
  getsockname(fd, reinterpret_cast<struct sockaddr*>(&got), &glen);
  int bound = ntohs(family == AF_INET ? reinterpret_cast<struct sockaddr_in*>(&got)->sin_port
                                      : reinterpret_cast<struct sockaddr_in6*>(&got)->sin6_port);
  Napi::Array r = Napi::Array::New(info.Env(), 2);
  r.Set(uint32_t(0), Napi::Number::New(info.Env(), fd));
  r.Set(uint32_t(1), Napi::Number::New(info.Env(), bound));
  return r;
}

// packetSend(fd, ifindex, ethertype, dstMac(6 bytes), frame): sends a link-layer frame on an AF_PACKET socket.
Napi::Value PacketSend(const Napi::CallbackInfo& info) {
  RequireArgs(info, 5, "packetSend(fd, ifindex, ethertype, dstMac, frame)");
  int fd = info[0].As<Napi::Number>().Int32Value();
  int ifindex = info[1].As<Napi::Number>().Int32Value();
  int ethertype = info[2].As<Napi::Number>().Int32Value();
  Napi::Buffer<uint8_t> mac = info[3].As<Napi::Buffer<uint8_t>>();
  Napi::Buffer<uint8_t> frame = info[4].As<Napi::Buffer<uint8_t>>();
  struct sockaddr_ll sll;
  memset(&sll, 0, sizeof sll);
  sll.sll_family = AF_PACKET;
  sll.sll_ifindex = ifindex;
  sll.sll_protocol = htons(static_cast<uint16_t>(ethertype));
  sll.sll_halen = 6;
  memcpy(sll.sll_addr, mac.Data(), mac.Length() < 6 ? mac.Length() : 6);
  ssize_t n = sendto(fd, frame.Data(), frame.Length(), 0, reinterpret_cast<struct sockaddr*>(&sll), sizeof sll);
  if (n < 0) Throw(info.Env(), {errno, "sendto", ""});
  return Napi::Number::New(info.Env(), static_cast<double>(n));
}

// Opens a file for writeFilesAt/readFileAt. /proc/sys/net/<family>/… is opened relative to the directory
// /proc/sys/net/<family>, looked up once per call (`dirs`) or — in the process's own namespace — once per
// process: the kernel keeps one such directory entry per namespace (ipv4, ipv6, core…), all under the one
// shared /proc/sys/net, in a single dentry hash chain that a lookup walks entry by entry; with many
// namespaces (containers), every lookup from /proc/sys costs time proportional to their number.
int OpenSysFile(const std::string& path, int flags, std::map<std::string, int>& dirs, bool ownNetns, SysFailure& f) {
  static const std::string kNet = "/proc/sys/net/";
  static std::map<std::string, int> processDirs;
  size_t slash = path.compare(0, kNet.size(), kNet) == 0 ? path.find('/', kNet.size()) : std::string::npos;
  if (slash == std::string::npos) {
    int fd = open(path.c_str(), flags | O_CLOEXEC);
    if (fd < 0) f = {errno, "open", path};
    return fd;
  }
  std::string dirPath = path.substr(0, slash);
  std::map<std::string, int>& cache = ownNetns ? processDirs : dirs;
  auto it = cache.find(dirPath);
  if (it == cache.end()) {
    int d = open(dirPath.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (d < 0) {
      f = {errno, "open", path};
      return -1;
    }
    it = cache.emplace(dirPath, d).first;
  }
  int fd = openat(it->second, path.c_str() + slash + 1, flags | O_CLOEXEC);
  if (fd < 0) f = {errno, "open", path};
  return fd;
}

void CloseAll(std::map<std::string, int>& dirs) {
  for (auto& [path, fd] : dirs) close(fd);
  dirs.clear();
}

// writeFilesAt(nsPath|null, paths[], data[]) / readFileAt(nsPath|null, path): for /proc/sys/net/*, which
// shows the network namespace of the thread that opens it. Several writes share one trip into the netns.
// writeFilesAt(nsPath|null, paths[], data[], dirFds?): dirFds maps a directory such as /proc/sys/net/ipv6
// to an fd of it opened earlier inside the same namespace (openDirAtAsync); it is used, not closed.
Napi::Value WriteFilesAt(const Napi::CallbackInfo& info) {
  RequireArgs(info, 3, "writeFilesAt(nsPath|null, paths[], data[], dirFds?)");
  std::string nsPath = OptString(info[0]);
  Napi::Array ps = info[1].As<Napi::Array>();
  Napi::Array ds = info[2].As<Napi::Array>();
  if (ps.Length() != ds.Length()) throw Napi::TypeError::New(info.Env(), "writeFilesAt: paths and data differ in length");
  std::vector<std::pair<std::string, std::string>> writes;
  for (uint32_t i = 0; i < ps.Length(); i++)
    writes.emplace_back(ps.Get(i).As<Napi::String>().Utf8Value(), ds.Get(i).As<Napi::String>().Utf8Value());
  std::map<std::string, int> dirs;
  std::map<std::string, int> borrowed;
  if (info.Length() > 3 && info[3].IsObject()) {
    Napi::Object o = info[3].As<Napi::Object>();
    Napi::Array keys = o.GetPropertyNames();
    for (uint32_t i = 0; i < keys.Length(); i++) {
      std::string k = keys.Get(i).As<Napi::String>().Utf8Value();
      borrowed[k] = o.Get(k).As<Napi::Number>().Int32Value();
    }
  }
  dirs = borrowed;
  SysFailure f;
  bool ok = RunInNetns(nsPath, f, [&](SysFailure& ff) {
    for (const auto& [path, data] : writes) {
      int fd = OpenSysFile(path, O_WRONLY, dirs, nsPath.empty(), ff);
      if (fd < 0) return false;
      ssize_t n = write(fd, data.data(), data.size());
      int err = errno;
      close(fd);
      if (n < 0) {
        ff = {err, "write", path};
        return false;
      }
    }
    return true;
  });
  for (const auto& [k, fd] : borrowed) dirs.erase(k);
  CloseAll(dirs);
  if (!ok) Throw(info.Env(), f);
  return info.Env().Undefined();
}

// Opens /proc/REST through a procfs instance of its own: mounted (fsopen/fsmount, never attached anywhere),
// used for this one lookup and dropped with its last reference. The dentry hash chain that makes a lookup
// of /proc/sys/net/<family> cost time proportional to the number of namespaces (see OpenSysFile) belongs
// to a superblock: this one's holds only what this lookup creates, so the cost is flat instead of growing
// with the number of namespaces, as it does through /proc (bench/README.md has the figures). The /proc/sys it shows is the
// calling thread's network namespace's, as through /proc. Returns -1 with errno set when the kernel
// (before 5.2), a seccomp filter or missing privilege refuses the mount; the caller then uses /proc.
#ifndef FSOPEN_CLOEXEC
#define FSOPEN_CLOEXEC 0x00000001
#endif
#ifndef FSCONFIG_CMD_CREATE
#define FSCONFIG_CMD_CREATE 6
#endif
#ifndef FSMOUNT_CLOEXEC
#define FSMOUNT_CLOEXEC 0x00000001
#endif
int OpenInPrivateProc(const char* rest, int flags) {
#if defined(SYS_fsopen) && defined(SYS_fsconfig) && defined(SYS_fsmount)
  int fs = static_cast<int>(syscall(SYS_fsopen, "proc", FSOPEN_CLOEXEC));
  if (fs < 0) return -1;
  int mnt = -1;
  if (syscall(SYS_fsconfig, fs, FSCONFIG_CMD_CREATE, nullptr, nullptr, 0) == 0) mnt = static_cast<int>(syscall(SYS_fsmount, fs, FSMOUNT_CLOEXEC, 0));
  int err = errno;
  close(fs);
  if (mnt < 0) {
    errno = err;
    return -1;
  }
  int fd = openat(mnt, rest, flags | O_CLOEXEC);
  err = errno;
  close(mnt);  // the open fd keeps the instance alive; it goes when that is closed
  errno = err;
  return fd;
#else
  (void)rest;
  (void)flags;
  errno = ENOSYS;
  return -1;
#endif
}

// openDirAtAsync(nsPath|null, path, slot?): Promise<fd> — opens a directory such as /proc/sys/net/ipv6 inside the
// namespace, on a thread of its own (started from a libuv worker, which itself never changes namespace), for
// writeFilesAt's dirFds. The first lookup of /proc/sys/net/<family> in a namespace costs time proportional
// to the number of namespaces (see OpenSysFile): done ahead, off the caller's path, and through a procfs
// instance of its own (OpenInPrivateProc), which keeps the cost flat; through /proc when that is refused.
// With `slot` (an Int32Array whose first element the caller set to -2), the thread also publishes the fd
// there (-1 on failure) the moment it has it: the caller may take it from the slot before the promise
// settles, which needs a turn of the event loop. The promise still resolves with the same fd: whoever takes
// it first owns it, which the caller (on the one JS thread) keeps track of.
class OpenDirWorker : public Napi::AsyncWorker {
 public:
  OpenDirWorker(Napi::Env env, std::string nsPath, std::string path, Napi::Int32Array slot)
      : Napi::AsyncWorker(env), nsPath_(std::move(nsPath)), path_(std::move(path)), deferred_(Napi::Promise::Deferred::New(env)) {
    if (!slot.IsEmpty() && slot.ElementLength() >= 1) {
      slotRef_ = Napi::Persistent(slot);  // keeps its memory alive until this worker is done
      slot_ = slot.Data();
    }
  }
  Napi::Promise Promise() { return deferred_.Promise(); }
  void Execute() override {
    RunOnThread(failure_, [&](SysFailure& ff) {
      if (!nsPath_.empty() && !EnterNetns(nsPath_, ff)) return false;
      if (path_.compare(0, 6, "/proc/") == 0) fd_ = OpenInPrivateProc(path_.c_str() + 6, O_RDONLY | O_DIRECTORY);
      if (fd_ < 0) fd_ = open(path_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      if (fd_ < 0) ff = {errno, "open", path_};
      return fd_ >= 0;
    });
    if (slot_) __atomic_store_n(slot_, fd_ >= 0 ? fd_ : -1, __ATOMIC_RELEASE);
  }
  void OnOK() override {
    if (fd_ < 0)
      deferred_.Reject(MakeError(Env(), failure_).Value());
    else
      deferred_.Resolve(Napi::Number::New(Env(), fd_));
  }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  std::string nsPath_;
  std::string path_;
  int fd_ = -1;
  SysFailure failure_;
  Napi::Promise::Deferred deferred_;
  Napi::Reference<Napi::Int32Array> slotRef_;
  int32_t* slot_ = nullptr;
};

Napi::Value OpenDirAtAsync(const Napi::CallbackInfo& info) {
  RequireArgs(info, 2, "openDirAtAsync(nsPath|null, path, slot?)");
  Napi::Int32Array slot;
  if (info.Length() > 2 && info[2].IsTypedArray() && info[2].As<Napi::TypedArray>().TypedArrayType() == napi_int32_array) slot = info[2].As<Napi::Int32Array>();
  auto* w = new OpenDirWorker(info.Env(), OptString(info[0]), info[1].As<Napi::String>().Utf8Value(), slot);
  Napi::Promise p = w->Promise();
  w->Queue();
  return p;
}

Napi::Value ReadFileAt(const Napi::CallbackInfo& info) {
  RequireArgs(info, 2, "readFileAt(nsPath|null, path)");
  std::string nsPath = OptString(info[0]);
  std::string path = info[1].As<Napi::String>().Utf8Value();
  SysFailure f;
  std::string out;
  std::map<std::string, int> dirs;
  bool ok = RunInNetns(nsPath, f, [&](SysFailure& ff) {
        int fd = OpenSysFile(path, O_RDONLY, dirs, nsPath.empty(), ff);
        if (fd < 0) return false;
        char buf[4096];
        ssize_t n;
        while ((n = read(fd, buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
        int err = errno;
        close(fd);
        if (n < 0) {
          ff = {err, "read", path};
          return false;
        }
        return true;
      });
  CloseAll(dirs);
  if (!ok) Throw(info.Env(), f);
  return Napi::String::New(info.Env(), out);
}

// setns(path, nstype): moves the CALLING thread (the main thread, when called from JS). Product code
// uses the *At functions instead; this exists for the container init path and for tests.
Napi::Value Setns(const Napi::CallbackInfo& info) {
  RequireArgs(info, 2, "setns(path, nstype)");
  std::string path = info[0].As<Napi::String>().Utf8Value();
  int nstype = info[1].As<Napi::Number>().Int32Value();
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) Throw(info.Env(), {errno, "open", path});
  int r = setns(fd, nstype);
  int err = errno;
  close(fd);
  if (r != 0) Throw(info.Env(), {err, "setns", path});
  return info.Env().Undefined();
}

Napi::Value Unshare(const Napi::CallbackInfo& info) {
  RequireArgs(info, 1, "unshare(flags)");
  if (unshare(info[0].As<Napi::Number>().Int32Value()) != 0) Throw(info.Env(), {errno, "unshare", ""});
  return info.Env().Undefined();
}

// mount(source|null, target, fstype|null, flags, data|null)
Napi::Value Mount(const Napi::CallbackInfo& info) {
  RequireArgs(info, 5, "mount(source, target, fstype, flags, data)");
  std::string src = OptString(info[0]);
  std::string target = info[1].As<Napi::String>().Utf8Value();
  std::string fstype = OptString(info[2]);
  unsigned long flags = static_cast<unsigned long>(info[3].As<Napi::Number>().Int64Value());
  std::string data = OptString(info[4]);
  if (mount(src.empty() ? nullptr : src.c_str(), target.c_str(), fstype.empty() ? nullptr : fstype.c_str(), flags,
            data.empty() ? nullptr : data.c_str()) != 0)
    Throw(info.Env(), {errno, "mount", target});
  return info.Env().Undefined();
}

Napi::Value Umount(const Napi::CallbackInfo& info) {
  RequireArgs(info, 2, "umount(target, flags)");
  std::string target = info[0].As<Napi::String>().Utf8Value();
  if (umount2(target.c_str(), info[1].As<Napi::Number>().Int32Value()) != 0) Throw(info.Env(), {errno, "umount2", target});
  return info.Env().Undefined();
}

Napi::Value PivotRoot(const Napi::CallbackInfo& info) {
  RequireArgs(info, 2, "pivotRoot(newRoot, putOld)");
  std::string nr = info[0].As<Napi::String>().Utf8Value();
  std::string po = info[1].As<Napi::String>().Utf8Value();
  if (syscall(SYS_pivot_root, nr.c_str(), po.c_str()) != 0) Throw(info.Env(), {errno, "pivot_root", nr});
  return info.Env().Undefined();
}

Napi::Value Sethostname(const Napi::CallbackInfo& info) {
  RequireArgs(info, 1, "sethostname(name)");
  std::string name = info[0].As<Napi::String>().Utf8Value();
  if (sethostname(name.c_str(), name.size()) != 0) Throw(info.Env(), {errno, "sethostname", ""});
  return info.Env().Undefined();
}

// flock(fd, operation): boolean — false when LOCK_NB was given and the lock is held elsewhere.
Napi::Value Flock(const Napi::CallbackInfo& info) {
  RequireArgs(info, 2, "flock(fd, operation)");
  int fd = info[0].As<Napi::Number>().Int32Value();
  int op = info[1].As<Napi::Number>().Int32Value();
  int r;
  do {
    r = flock(fd, op);
  } while (r != 0 && errno == EINTR);
  if (r != 0) {
    if (errno == EWOULDBLOCK && (op & LOCK_NB)) return Napi::Boolean::New(info.Env(), false);
    Throw(info.Env(), {errno, "flock", ""});
  }
  return Napi::Boolean::New(info.Env(), true);
}

// strerror(errno): string — the C library's text for an errno, for netlink errors that carry only a number.
Napi::Value Strerror(const Napi::CallbackInfo& info) {
  RequireArgs(info, 1, "strerror(errno)");
  int e = info[0].As<Napi::Number>().Int32Value();
  const char* name = strerrorname_np(e);
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("code", Napi::String::New(info.Env(), name ? name : ("E" + std::to_string(e))));
  o.Set("message", Napi::String::New(info.Env(), strerror(e)));
  return o;
}

// spawnProcess(file, argv[], env[] ("K=V"), fds[]): Promise<pid> — posix_spawn (vfork semantics: the Node process
// is not copied, as libuv's fork() copies it) in a session of its own, every signal at its default and none
// blocked, issued from a libuv worker thread: posix_spawn returns only once the child has exec'd, and on a busy
// machine that wait (the child's turn on a CPU) is the caller's time otherwise. The child's fd i is fds[i] (-1:
// /dev/null): each is duplicated before this returns, so the caller may close its own at once. Every other fd of
// ours is close-on-exec already (Node's, the addon's).
class SpawnWorker : public Napi::AsyncWorker {
 public:
  SpawnWorker(Napi::Env env, std::string file, std::vector<std::string> args, std::vector<std::string> envs,
              std::vector<int> tmp)
      : Napi::AsyncWorker(env), file_(std::move(file)), args_(std::move(args)), envs_(std::move(envs)),
        tmp_(std::move(tmp)), deferred_(Napi::Promise::Deferred::New(env)) {}
  ~SpawnWorker() override {
    for (int fd : tmp_)
      if (fd >= 0) close(fd);
  }
  Napi::Promise Promise() { return deferred_.Promise(); }
  void Execute() override {
    std::vector<char*> argv, envp;
    for (auto& a : args_) argv.push_back(a.data());
    argv.push_back(nullptr);
    for (auto& e : envs_) envp.push_back(e.data());
    envp.push_back(nullptr);
    posix_spawn_file_actions_t fact;
    posix_spawn_file_actions_init(&fact);
    for (size_t i = 0; i < tmp_.size(); i++) {
      if (tmp_[i] < 0) posix_spawn_file_actions_addopen(&fact, static_cast<int>(i), "/dev/null", O_RDWR, 0);
      else posix_spawn_file_actions_adddup2(&fact, tmp_[i], static_cast<int>(i));
    }
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    sigset_t all, none;
    sigfillset(&all);
    sigemptyset(&none);
    posix_spawnattr_setsigdefault(&attr, &all);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
    int r = posix_spawn(&pid_, file_.c_str(), &fact, &attr, argv.data(), envp.data());
    if (r != 0) failure_ = {r, "posix_spawn", file_};
    posix_spawnattr_destroy(&attr);
    posix_spawn_file_actions_destroy(&fact);
  }
  void OnOK() override {
    if (failure_.err) deferred_.Reject(MakeError(Env(), failure_).Value());
    else deferred_.Resolve(Napi::Number::New(Env(), pid_));
  }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  std::string file_;
  std::vector<std::string> args_, envs_;
  std::vector<int> tmp_;
  pid_t pid_ = -1;
  SysFailure failure_;
  Napi::Promise::Deferred deferred_;
};

Napi::Value SpawnProcess(const Napi::CallbackInfo& info) {
  RequireArgs(info, 4, "spawnProcess(file, argv[], env[], fds[])");
  Napi::Env env = info.Env();
  auto strings = [](Napi::Array a) {
    std::vector<std::string> v;
    for (uint32_t i = 0; i < a.Length(); i++) v.push_back(a.Get(i).As<Napi::String>().Utf8Value());
    return v;
  };
  Napi::Array fa = info[3].As<Napi::Array>();
  const int n = static_cast<int>(fa.Length());
  // each source copied above every target (so a dup2 in the child never clobbers a source not yet placed)
  std::vector<int> tmp(n, -1);
  for (int i = 0; i < n; i++) {
    int src = fa.Get(i).As<Napi::Number>().Int32Value();
    if (src < 0) continue;
    tmp[i] = fcntl(src, F_DUPFD_CLOEXEC, n < 3 ? 3 : n);
    if (tmp[i] < 0) {
      SysFailure f{errno, "fcntl(F_DUPFD_CLOEXEC)", ""};
      for (int fd : tmp)
        if (fd >= 0) close(fd);
      Throw(env, f);
    }
  }
  auto* w = new SpawnWorker(env, info[0].As<Napi::String>().Utf8Value(), strings(info[1].As<Napi::Array>()),
                            strings(info[2].As<Napi::Array>()), std::move(tmp));
  Napi::Promise p = w->Promise();
  w->Queue();
  return p;
}

// reap(pid): number | null — waitpid(pid, WNOHANG) of a child of ours (spawnProcess): its exit code, or 128 + the
// signal that ended it; null while it runs. Never waits (a thread blocked in waitpid would hold up process.exit).
Napi::Value Reap(const Napi::CallbackInfo& info) {
  RequireArgs(info, 1, "reap(pid)");
  pid_t pid = info[0].As<Napi::Number>().Int32Value();
  int st = 0;
  pid_t r;
  do r = waitpid(pid, &st, WNOHANG);
  while (r < 0 && errno == EINTR);
  if (r < 0) Throw(info.Env(), {errno, "waitpid", ""});
  if (r == 0) return info.Env().Null();
  return Napi::Number::New(info.Env(), WIFEXITED(st) ? WEXITSTATUS(st) : WIFSIGNALED(st) ? 128 + WTERMSIG(st) : 125);
}

// pipe(): [read, write] and socketPair(): [a, b] (a unix stream pair), all close-on-exec.
Napi::Value Pipe(const Napi::CallbackInfo& info) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) Throw(info.Env(), {errno, "pipe2", ""});
  Napi::Array a = Napi::Array::New(info.Env(), 2);
  a.Set(0u, fds[0]);
  a.Set(1u, fds[1]);
  return a;
}

Napi::Value SocketPair(const Napi::CallbackInfo& info) {
  int fds[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) Throw(info.Env(), {errno, "socketpair", ""});
  Napi::Array a = Napi::Array::New(info.Env(), 2);
  a.Set(0u, fds[0]);
  a.Set(1u, fds[1]);
  return a;
}

Napi::Value Gettid(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(syscall(SYS_gettid)));
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  InitFrameServer(env, exports);
  exports.Set("netlinkOpen", Napi::Function::New(env, NetlinkOpen));
  exports.Set("netlinkPortId", Napi::Function::New(env, NetlinkPortId));
  exports.Set("netlinkSend", Napi::Function::New(env, NetlinkSend));
  exports.Set("netlinkRecv", Napi::Function::New(env, NetlinkRecv));
  exports.Set("netlinkRecvSync", Napi::Function::New(env, NetlinkRecvSync));
  exports.Set("netlinkRecvNow", Napi::Function::New(env, NetlinkRecvNow));
  exports.Set("netlinkSendDetached", Napi::Function::New(env, NetlinkSendDetached));
  exports.Set("pollReadable", Napi::Function::New(env, PollReadable));
  exports.Set("nsType", Napi::Function::New(env, NsType));
  exports.Set("netnsCreate", Napi::Function::New(env, NetnsCreate));
  exports.Set("netnsDelete", Napi::Function::New(env, NetnsDelete));
  exports.Set("socketAt", Napi::Function::New(env, SocketAt));
  exports.Set("bindPort", Napi::Function::New(env, BindPort));
  exports.Set("packetSend", Napi::Function::New(env, PacketSend));
  exports.Set("writeFilesAt", Napi::Function::New(env, WriteFilesAt));
  exports.Set("readFileAt", Napi::Function::New(env, ReadFileAt));
  exports.Set("openDirAtAsync", Napi::Function::New(env, OpenDirAtAsync));
  exports.Set("setns", Napi::Function::New(env, Setns));
  exports.Set("unshare", Napi::Function::New(env, Unshare));
  exports.Set("mount", Napi::Function::New(env, Mount));
  exports.Set("umount", Napi::Function::New(env, Umount));
  exports.Set("pivotRoot", Napi::Function::New(env, PivotRoot));
  exports.Set("sethostname", Napi::Function::New(env, Sethostname));
  exports.Set("flock", Napi::Function::New(env, Flock));
  exports.Set("strerror", Napi::Function::New(env, Strerror));
  exports.Set("gettid", Napi::Function::New(env, Gettid));
  exports.Set("spawnProcess", Napi::Function::New(env, SpawnProcess));
  exports.Set("reap", Napi::Function::New(env, Reap));
  exports.Set("pipe", Napi::Function::New(env, Pipe));
  exports.Set("socketPair", Napi::Function::New(env, SocketPair));
  return exports;
}

}  // namespace

NODE_API_MODULE(tsnet_native, Init)
