// tsnetd's listening socket, on the event loop's own poll handles instead of Node's net.Server: a request
// costs tsnetd one accept4() and one or two read()s, and no net.Socket and stream objects (see bench/README.md for the cost of
// CPU per request with them). One request per connection, as protocol.ts frames it (u32 big-endian
// length, body); the client half-closes after sending, and the answer goes back on the same connection.
// For the main thread's event loop (tsnetd): it registers no environment cleanup hook, so it is not meant for
// worker threads, whose environment may be torn down under it.
//
//   frameListen(path, backlog): fd        — a non-blocking AF_UNIX stream socket bound (mode 0600) and listening
//   new FrameServer(fd, onRequest(fd, body, peer), onError(message), maxFrame, readTimeoutMs, peerFromProc?)
//       .close()                           — stops accepting and closes the listening fd
//       .dropReading()                     — closes the connections whose request is still being read
//       .reading                           — how many those are
//   frameReply(fd, data)                  — writes the answer and closes the connection: 'sent', 'gone', or
//                                            'queued' (what the socket would not take yet goes as it drains)
//   frameDrop(fd)                          — closes a connection without an answer
//
// Who is calling comes from the kernel, never from the request: `peer` is SO_PEERCRED's pid, uid and gid (as
// this process's namespaces see them) and the caller's network, pid and user namespaces as "dev:ino" ('' when
// they cannot be known), read through the caller's pidfd (SO_PEERPIDFD and the pidfs namespace ioctls,
// Linux ≥ 6.11), else from /proc/PID/ns/ — checked against the pidfd, when there is one, so a pid reused after
// the caller died is not taken for it. (On kernels without SO_PEERPIDFD, < 6.5, that last check is not possible.)
// `peerFromProc` makes it take the /proc way even where the pidfd one works, for tests.
#include <napi.h>
#include <uv.h>

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <set>
#include <string>

#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77  // asm-generic (x86, arm): Linux 6.5
#endif
#ifndef PIDFS_IOCTL_MAGIC
#define PIDFS_IOCTL_MAGIC 0xFF
#endif
#ifndef PIDFD_GET_NET_NAMESPACE  // Linux 6.11
#define PIDFD_GET_NET_NAMESPACE _IO(PIDFS_IOCTL_MAGIC, 4)
#define PIDFD_GET_PID_NAMESPACE _IO(PIDFS_IOCTL_MAGIC, 5)
#define PIDFD_GET_USER_NAMESPACE _IO(PIDFS_IOCTL_MAGIC, 9)
#endif

namespace {

Napi::Error Errno(Napi::Env env, int err, const std::string& what) {
  const char* name = strerrorname_np(err);
  std::string code = name ? name : ("E" + std::to_string(err));
  Napi::Error e = Napi::Error::New(env, code + ": " + strerror(err) + ", " + what);
  e.Set("errno", Napi::Number::New(env, err));
  e.Set("code", Napi::String::New(env, code));
  return e;
}

Napi::Value FrameListen(const Napi::CallbackInfo& info) {
  if (info.Length() < 2) throw Napi::TypeError::New(info.Env(), "usage: frameListen(path, backlog)");
  std::string path = info[0].As<Napi::String>().Utf8Value();
  int backlog = info[1].As<Napi::Number>().Int32Value();
  struct sockaddr_un addr;
  memset(&addr, 0, sizeof addr);
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) throw Errno(info.Env(), ENAMETOOLONG, "bind '" + path + "'");
  memcpy(addr.sun_path, path.c_str(), path.size());
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) throw Errno(info.Env(), errno, "socket");
  mode_t old = umask(0177);  // the socket file is born 0600: never a moment when others could connect
  int r = bind(fd, reinterpret_cast<struct sockaddr*>(&addr), sizeof addr);
  int err = errno;
  umask(old);
  if (r != 0 || listen(fd, backlog) != 0) {
    if (r == 0) err = errno;
    close(fd);
    throw Errno(info.Env(), err, (r != 0 ? "bind '" : "listen '") + path + "'");
  }
  return Napi::Number::New(info.Env(), fd);
}

// ── Who is calling ─────────────────────────────────────────────────────────────────────────────────────
struct Peer {
  pid_t pid = 0;
  uid_t uid = static_cast<uid_t>(-1);
  gid_t gid = static_cast<gid_t>(-1);
  std::string net, pidns, user;
};

std::string NsId(const struct stat& st) {
  return std::to_string(static_cast<unsigned long long>(st.st_dev)) + ":" + std::to_string(static_cast<unsigned long long>(st.st_ino));
}

// One namespace of the peer, '' when it cannot be known (the caller exited, or is not visible from here).
std::string PeerNs(int pidfd, pid_t pid, unsigned long ioc, const char* kind) {
  if (pidfd >= 0) {
    int nsfd = ioctl(pidfd, ioc, 0);
    if (nsfd >= 0) {
      struct stat st;
      bool ok = fstat(nsfd, &st) == 0;
      close(nsfd);
      return ok ? NsId(st) : "";
    }
    if (errno == ESRCH) return "";  // the caller is gone
    // ENOTTY/EINVAL: a kernel without the pidfs ioctls; /proc below.
  }
  if (pid <= 0) return "";  // the caller's pid namespace is not below ours: no pid for it here
  std::string path = "/proc/" + std::to_string(pid) + "/ns/" + kind;
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return "";
  // The pid was the caller's; while its pidfd says it still lives, the pid cannot have been reused.
  if (pidfd >= 0 && syscall(SYS_pidfd_send_signal, pidfd, 0, nullptr, 0) != 0) return "";
  return NsId(st);
}

// procOnly: skip the pidfd (tests of the way older kernels take).
Peer PeerOf(int fd, bool procOnly) {
  Peer p;
  struct ucred uc;
  socklen_t len = sizeof uc;
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &len) != 0) return p;
  p.pid = uc.pid;
  p.uid = uc.uid;
  p.gid = uc.gid;
  int pidfd = -1;
  len = sizeof pidfd;
  if (procOnly || getsockopt(fd, SOL_SOCKET, SO_PEERPIDFD, &pidfd, &len) != 0) pidfd = -1;
  p.net = PeerNs(pidfd, p.pid, PIDFD_GET_NET_NAMESPACE, "net");
  p.pidns = PeerNs(pidfd, p.pid, PIDFD_GET_PID_NAMESPACE, "pid");
  p.user = PeerNs(pidfd, p.pid, PIDFD_GET_USER_NAMESPACE, "user");
  if (pidfd >= 0) close(pidfd);
  return p;
}

// The rest of an answer the socket would not take at once (bigger than its buffer, a client slow to read):
// written as the socket drains, on the event loop, then the connection is closed — or dropped after
// kReplyTimeoutMs without progress. The event loop never waits for a client.
constexpr uint64_t kReplyTimeoutMs = 10000;
struct PendingReply {
  int fd;
  std::string rest;
  size_t off = 0;
  uv_poll_t poll;
  uv_timer_t timer;
  int openHandles = 2;
};

void EndReply(PendingReply* r) {
  uv_poll_stop(&r->poll);
  uv_timer_stop(&r->timer);
  close(r->fd);
  auto done = [](uv_handle_t* h) {
    auto* r = static_cast<PendingReply*>(h->data);
    if (--r->openHandles == 0) delete r;
  };
  uv_close(reinterpret_cast<uv_handle_t*>(&r->poll), done);
  uv_close(reinterpret_cast<uv_handle_t*>(&r->timer), done);
}

// Sends what the socket takes now: 1 all sent, 0 more to send, -1 the client is gone.
int SendSome(int fd, const char* p, size_t len, size_t& off) {
  while (off < len) {
    ssize_t n = send(fd, p + off, len - off, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n > 0) {
      off += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return 0;
    return -1;
  }
  return 1;
}

// frameReply(fd, data): 'sent' (written and closed), 'queued' (the rest goes as the client reads; closed
// after), or 'gone' (the client closed its end; fd closed).
Napi::Value FrameReply(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2) throw Napi::TypeError::New(env, "usage: frameReply(fd, data)");
  int fd = info[0].As<Napi::Number>().Int32Value();
  Napi::Buffer<char> data = info[1].As<Napi::Buffer<char>>();
  size_t off = 0;
  int r = SendSome(fd, data.Data(), data.Length(), off);
  if (r != 0) {
    close(fd);
    return Napi::String::New(env, r > 0 ? "sent" : "gone");
  }
  uv_loop_t* loop = nullptr;
  auto* pr = new PendingReply{fd, std::string(data.Data() + off, data.Length() - off), 0, {}, {}, 2};
  if (napi_get_uv_event_loop(env, &loop) != napi_ok || uv_poll_init(loop, &pr->poll, fd) != 0) {
    close(fd);
    delete pr;
    return Napi::String::New(env, "gone");
  }
  uv_timer_init(loop, &pr->timer);
  pr->poll.data = pr;
  pr->timer.data = pr;
  uv_poll_start(&pr->poll, UV_WRITABLE, [](uv_poll_t* h, int status, int) {
    auto* pr = static_cast<PendingReply*>(h->data);
    int r = status < 0 ? -1 : SendSome(pr->fd, pr->rest.data(), pr->rest.size(), pr->off);
    if (r != 0) return EndReply(pr);
    uv_timer_again(&pr->timer);  // progress: the client reads
  });
  uv_timer_start(&pr->timer, [](uv_timer_t* t) { EndReply(static_cast<PendingReply*>(t->data)); }, kReplyTimeoutMs, kReplyTimeoutMs);
  return Napi::String::New(env, "queued");
}

Napi::Value FrameDrop(const Napi::CallbackInfo& info) {
  if (info.Length() < 1) throw Napi::TypeError::New(info.Env(), "usage: frameDrop(fd)");
  close(info[0].As<Napi::Number>().Int32Value());
  return info.Env().Undefined();
}

class FrameServer;

// One connection being read. Its poll and timer handles are closed (asynchronously, as libuv requires)
// before it is freed; the fd is closed by us on failure or handed to JavaScript with the request.
struct Conn {
  FrameServer* server;
  int fd;
  uv_poll_t poll;
  uv_timer_t timer;
  std::string buf;
  int openHandles = 0;
};

class FrameServer : public Napi::ObjectWrap<FrameServer> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "FrameServer",
                       {InstanceMethod("close", &FrameServer::Close), InstanceMethod("dropReading", &FrameServer::DropReading),
                        InstanceAccessor("reading", &FrameServer::Reading, nullptr)});
  }

  FrameServer(const Napi::CallbackInfo& info) : Napi::ObjectWrap<FrameServer>(info), context_(info.Env(), "tsnetd.request") {
    Napi::Env env = info.Env();
    if (info.Length() < 5) throw Napi::TypeError::New(env, "usage: new FrameServer(fd, onRequest, onError, maxFrame, readTimeoutMs, peerFromProc?)");
    fd_ = info[0].As<Napi::Number>().Int32Value();
    onRequest_ = Napi::Persistent(info[1].As<Napi::Function>());
    onError_ = Napi::Persistent(info[2].As<Napi::Function>());
    maxFrame_ = static_cast<size_t>(info[3].As<Napi::Number>().Int64Value());
    readTimeoutMs_ = static_cast<uint64_t>(info[4].As<Napi::Number>().Int64Value());
    procOnly_ = info.Length() > 5 && info[5].ToBoolean().Value();
    if (napi_get_uv_event_loop(env, &loop_) != napi_ok) throw Napi::Error::New(env, "FrameServer: no event loop");
    listen_ = new uv_poll_t;
    if (uv_poll_init(loop_, listen_, fd_) != 0) {
      delete listen_;
      listen_ = nullptr;
      throw Napi::Error::New(env, "FrameServer: cannot poll the listening socket");
    }
    listen_->data = this;
    backoff_ = new uv_timer_t;
    uv_timer_init(loop_, backoff_);
    backoff_->data = this;  // ref'd: while accepting pauses, it is what keeps the daemon's loop alive
    uv_poll_start(listen_, UV_READABLE, OnAcceptable);
    Ref();  // alive while listening or reading, whatever JavaScript keeps of it (see MaybeRelease)
  }

 private:
  // Stops accepting: the listening socket is closed (clients still in its backlog see it reset, as with
  // net.Server). Connections being read go on, and are handed over as usual, until dropReading().
  Napi::Value Close(const Napi::CallbackInfo& info) {
    if (listen_) {
      uv_poll_stop(listen_);
      uv_close(reinterpret_cast<uv_handle_t*>(listen_), [](uv_handle_t* h) {
        auto* self = static_cast<FrameServer*>(h->data);
        delete reinterpret_cast<uv_poll_t*>(h);
        self->listenClosed_ = true;
        self->MaybeRelease();
      });
      listen_ = nullptr;
      uv_timer_stop(backoff_);
      uv_close(reinterpret_cast<uv_handle_t*>(backoff_), [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
      backoff_ = nullptr;
      close(fd_);
      fd_ = -1;
    }
    return info.Env().Undefined();
  }

  // Closes the connections whose request is still being read.
  Napi::Value DropReading(const Napi::CallbackInfo& info) {
    for (Conn* c : std::set<Conn*>(reading_)) Finish(c, true);
    return info.Env().Undefined();
  }

  // The self-reference goes once nothing of ours can call back: listening handle closed, no connection being
  // read. Only called from libuv close callbacks, never while a callback of ours is on the stack (a request
  // handler may be what closed the server), so the object may be collected after it.
  void MaybeRelease() {
    if (listenClosed_ && reading_.empty() && openConns_ == 0 && !released_) {
      released_ = true;
      Unref();
    }
  }

  Napi::Value Reading(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), static_cast<double>(reading_.size())); }

  static void OnAcceptable(uv_poll_t* h, int status, int) {
    auto* self = static_cast<FrameServer*>(h->data);
    if (status < 0) return self->Pause(std::string("listening socket: ") + uv_strerror(status));
    while (self->listen_) {  // a request handler may have closed the server meanwhile
      int fd = accept4(self->fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        if (errno == EINTR || errno == ECONNABORTED) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return;
        // Out of fds or memory: the socket stays readable, so pause instead of spinning on the error.
        return self->Pause(std::string("accept: ") + strerror(errno));
      }
      self->Start(fd);
    }
  }

  // Stops accepting for 100 ms after an error, then polls again (the timer keeps the loop alive meanwhile).
  void Pause(const std::string& why) {
    Report(why + "; pausing for 100 ms");
    if (!listen_) return;
    uv_poll_stop(listen_);
    uv_timer_start(backoff_, [](uv_timer_t* t) {
      auto* s = static_cast<FrameServer*>(t->data);
      if (s->listen_) uv_poll_start(s->listen_, UV_READABLE, OnAcceptable);
    }, 100, 0);
  }

  void Start(int fd) {
    Conn* c = new Conn{this, fd, {}, {}, {}, 0};
    int err = uv_poll_init(loop_, &c->poll, fd);
    if (err != 0) {  // the loop cannot watch it (epoll watch limit, memory): refuse this one connection
      close(fd);
      delete c;
      Report(std::string("cannot watch a new connection: ") + uv_strerror(err));
      return;
    }
    uv_timer_init(loop_, &c->timer);
    reading_.insert(c);
    openConns_++;
    c->poll.data = c;
    c->timer.data = c;
    c->openHandles = 2;
    // The client usually wrote its request before we accepted: read it now, poll only for the rest.
    if (ReadSome(c)) return;
    uv_poll_start(&c->poll, UV_READABLE, [](uv_poll_t* h, int status, int) {
      Conn* c = static_cast<Conn*>(h->data);
      if (status < 0) {
        c->server->Fail(c, std::string("read: ") + uv_strerror(status));
        return;
      }
      c->server->ReadSome(c);
    });
    uv_timer_start(&c->timer, OnReadTimeout, readTimeoutMs_, 0);
  }

  // readTimeoutMs without a byte from the client (an idle timeout, as net.Socket's setTimeout).
  static void OnReadTimeout(uv_timer_t* t) {
    Conn* c = static_cast<Conn*>(t->data);
    c->server->Fail(c, "client sent no complete request in time; dropped");
  }

  // Reads what is there; true when the connection is done with (handed over or failed).
  bool ReadSome(Conn* c) {
    char tmp[16384];
    for (;;) {
      ssize_t n = read(c->fd, tmp, sizeof tmp);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return false;
      if (n < 0) return Fail(c, std::string("read: ") + strerror(errno)), true;
      if (n == 0) return Fail(c, c->buf.empty() ? "client closed the connection without a request" : "client closed the connection in the middle of its request"), true;
      c->buf.append(tmp, static_cast<size_t>(n));
      if (uv_is_active(reinterpret_cast<uv_handle_t*>(&c->timer))) uv_timer_start(&c->timer, OnReadTimeout, readTimeoutMs_, 0);
      if (c->buf.size() < 4) continue;
      const auto* b = reinterpret_cast<const unsigned char*>(c->buf.data());
      size_t want = (size_t(b[0]) << 24) | (size_t(b[1]) << 16) | (size_t(b[2]) << 8) | size_t(b[3]);
      if (want > maxFrame_) return Fail(c, "frame of " + std::to_string(want) + " bytes exceeds the " + std::to_string(maxFrame_) + "-byte limit"), true;
      if (c->buf.size() > 4 + want) return Fail(c, "extra bytes after the frame"), true;
      if (c->buf.size() == 4 + want) return Deliver(c), true;
    }
  }

  // Hands (fd, body, peer) to JavaScript.
  void Deliver(Conn* c) {
    int fd = c->fd;
    Peer p = PeerOf(fd, procOnly_);
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    Napi::Buffer<char> body = Napi::Buffer<char>::Copy(env, c->buf.data() + 4, c->buf.size() - 4);
    Finish(c, false);
    Napi::Object peer = Napi::Object::New(env);
    peer.Set("pid", Napi::Number::New(env, p.pid));
    peer.Set("uid", Napi::Number::New(env, p.uid == static_cast<uid_t>(-1) ? -1 : static_cast<double>(p.uid)));
    peer.Set("gid", Napi::Number::New(env, p.gid == static_cast<gid_t>(-1) ? -1 : static_cast<double>(p.gid)));
    peer.Set("netns", Napi::String::New(env, p.net));
    peer.Set("pidns", Napi::String::New(env, p.pidns));
    peer.Set("userns", Napi::String::New(env, p.user));
    Call(onRequest_, {Napi::Number::New(env, fd), body, peer});
  }

  bool Fail(Conn* c, const std::string& why) {
    Finish(c, true);
    Report(why);
    return true;
  }

  void Report(const std::string& why) {
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    Call(onError_, {Napi::String::New(env, why)});
  }

  void Call(Napi::FunctionReference& fn, std::initializer_list<napi_value> args) {
    try {
      fn.MakeCallback(Env().Global(), args, context_);
    } catch (const Napi::Error& e) {
      napi_fatal_exception(Env(), e.Value());  // as an exception thrown in any other event: uncaughtException
    }
  }

  // Stops reading c; closes its fd too unless it is being handed over.
  void Finish(Conn* c, bool closeFd) {
    reading_.erase(c);
    uv_poll_stop(&c->poll);  // takes the fd out of the loop's epoll set now: closing it is safe after this
    uv_timer_stop(&c->timer);
    if (closeFd) close(c->fd);
    auto done = [](uv_handle_t* h) {
      Conn* c = static_cast<Conn*>(h->data);
      if (--c->openHandles > 0) return;
      FrameServer* self = c->server;
      delete c;
      self->openConns_--;
      self->MaybeRelease();
    };
    uv_close(reinterpret_cast<uv_handle_t*>(&c->poll), done);
    uv_close(reinterpret_cast<uv_handle_t*>(&c->timer), done);
  }

  int fd_ = -1;
  uv_loop_t* loop_ = nullptr;
  uv_poll_t* listen_ = nullptr;
  uv_timer_t* backoff_ = nullptr;
  bool listenClosed_ = false;
  bool released_ = false;
  int openConns_ = 0;  // Conn structs not yet freed (their handles close asynchronously)
  Napi::FunctionReference onRequest_;
  Napi::FunctionReference onError_;
  Napi::AsyncContext context_;
  size_t maxFrame_ = 0;
  uint64_t readTimeoutMs_ = 0;
  bool procOnly_ = false;
  std::set<Conn*> reading_;
};

}  // namespace

void InitFrameServer(Napi::Env env, Napi::Object exports) {
  exports.Set("frameListen", Napi::Function::New(env, FrameListen));
  exports.Set("frameReply", Napi::Function::New(env, FrameReply));
  exports.Set("frameDrop", Napi::Function::New(env, FrameDrop));
  exports.Set("FrameServer", FrameServer::Define(env));
}
