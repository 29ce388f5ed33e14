// tsnetd's listening socket, on the event loop's own poll handles instead of Node's net.Server: a request
// costs tsnetd one accept4() and one or two read()s, and no net.Socket and stream objects (see bench/README.md for the cost of
// CPU per request with them). One request per connection, as protocol.ts frames it (u32 big-endian
// length, body); the client half-closes after sending, and the answer goes back on the same connection.
// For the main thread's event loop (tsnetd): it registers no environment cleanup hook, so it is not meant for
// worker threads, whose environment may be torn down under it.
//
//   frameListen(path, backlog): fd        — a non-blocking AF_UNIX stream socket bound (mode 0600) and listening
//   new FrameServer(fd, onRequest(fd, body, peer), onError(message), limits)
//       limits = { maxFrame, readTimeoutMs, maxConnections, maxBuffered, peerFromProc? }
//       .reply(fd, data)                   — writes the answer and closes the connection: 'sent', 'gone', or
//                                            'queued' (what the socket would not take yet goes as it drains)
//       .drop(fd)                          — closes a handed-over connection without an answer
//       .close()                           — stops accepting and closes the listening fd
//       .dropReading()                     — closes the connections whose request is still being read
//       .reading / .open / .buffered / .refused — connections being read; connections open (read, handed over or
//                                            being answered); bytes reserved for requests not answered; refusals
//
// Who is calling comes from the kernel, never from the request: `peer` is SO_PEERCRED's pid, uid and gid (as
// this process's namespaces see them) and the caller's network, pid and user namespaces as "dev:ino" ('' when
// they cannot be known), read through the caller's pidfd (SO_PEERPIDFD and the pidfs namespace ioctls,
// Linux ≥ 6.11), else from /proc/PID/ns/ — checked against the pidfd, when there is one, so a pid reused after
// the caller died is not taken for it. (On kernels without SO_PEERPIDFD, < 6.5, that last check is not possible.)
// `peerFromProc` makes it take the /proc way even where the pidfd one works, for tests.
//
// What a client can make tsnetd hold is bounded, whoever it is:
// - at most maxConnections open at once: one more is answered with a fallback frame ('F', protocol.ts — the
//   shim then runs the standalone plugin) and closed, without being read;
// - each request's declared length is reserved, when its header arrives, out of maxBuffered bytes for all
//   requests until they are answered; a request longer than maxFrame, or than what is left, gets the fallback
//   frame and is closed (before the header, a connection holds at most one 16 KiB read);
// - readTimeoutMs is the deadline for the whole request from accept, not for each byte.
// Each kind of refusal or failure is logged once a minute at most, with a count of the ones left unsaid.
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

#include <map>
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

// ── Answers ────────────────────────────────────────────────────────────────────────────────────────────
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

// protocol.ts's fallback answer: u32 length, "TSN1", 'F', the reason.
std::string FallbackFrame(const std::string& reason) {
  std::string body = "TSN1F" + reason;
  uint32_t n = static_cast<uint32_t>(body.size());
  std::string f = {static_cast<char>(n >> 24), static_cast<char>(n >> 16), static_cast<char>(n >> 8), static_cast<char>(n)};
  return f + body;
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
  size_t charge = 0;  // bytes reserved for this request once its header is read
  int openHandles = 0;
};

// The rest of an answer the socket would not take at once (bigger than its buffer, a client slow to read):
// written as the socket drains, on the event loop, then the connection is closed — or dropped after
// kReplyTimeoutMs without progress. The event loop never waits for a client.
constexpr uint64_t kReplyTimeoutMs = 10000;
struct PendingReply {
  FrameServer* server;
  int fd;
  size_t charge;
  std::string rest;
  size_t off = 0;
  uv_poll_t poll;
  uv_timer_t timer;
  int openHandles = 2;
};

// Kinds of event logged at most once a minute each.
enum Kind { kConnLimit, kByteLimit, kFrameLimit, kDeadline, kClosedEarly, kExtraBytes, kReadError, kAccept, kWatch, kKinds };
constexpr uint64_t kQuietMs = 60000;

class FrameServer : public Napi::ObjectWrap<FrameServer> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "FrameServer",
                       {InstanceMethod("reply", &FrameServer::Reply), InstanceMethod("drop", &FrameServer::Drop),
                        InstanceMethod("close", &FrameServer::Close), InstanceMethod("dropReading", &FrameServer::DropReading),
                        InstanceAccessor("reading", &FrameServer::Reading, nullptr), InstanceAccessor("open", &FrameServer::Open, nullptr),
                        InstanceAccessor("buffered", &FrameServer::Buffered, nullptr),
                        InstanceAccessor("refused", &FrameServer::Refused, nullptr)});
  }

  FrameServer(const Napi::CallbackInfo& info) : Napi::ObjectWrap<FrameServer>(info), context_(info.Env(), "tsnetd.request") {
    Napi::Env env = info.Env();
    if (info.Length() < 4 || !info[3].IsObject())
      throw Napi::TypeError::New(env, "usage: new FrameServer(fd, onRequest, onError, { maxFrame, readTimeoutMs, maxConnections, maxBuffered })");
    fd_ = info[0].As<Napi::Number>().Int32Value();
    onRequest_ = Napi::Persistent(info[1].As<Napi::Function>());
    onError_ = Napi::Persistent(info[2].As<Napi::Function>());
    Napi::Object limits = info[3].As<Napi::Object>();
    auto limit = [&](const char* key) {
      Napi::Value v = limits.Get(key);
      double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : 0;
      if (!(d >= 1)) throw Napi::TypeError::New(env, std::string("FrameServer: limits.") + key + " must be a number ≥ 1");
      return d;
    };
    maxFrame_ = static_cast<size_t>(limit("maxFrame"));
    readTimeoutMs_ = static_cast<uint64_t>(limit("readTimeoutMs"));
    maxConns_ = static_cast<size_t>(limit("maxConnections"));
    maxBuffered_ = static_cast<size_t>(limit("maxBuffered"));
    procOnly_ = limits.Get("peerFromProc").ToBoolean().Value();
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
    Ref();  // alive while listening, reading or answering, whatever JavaScript keeps of it (see MaybeRelease)
  }

 private:
  // reply(fd, data): 'sent' (written and closed), 'queued' (the rest goes as the client reads; closed after),
  // or 'gone' (the client closed its end; fd closed — or fd is no connection of ours waiting for an answer,
  // and nothing is touched).
  Napi::Value Reply(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 2 || !info[1].IsBuffer()) throw Napi::TypeError::New(env, "usage: reply(fd, data)");
    int fd = info[0].As<Napi::Number>().Int32Value();
    auto it = handed_.find(fd);
    if (it == handed_.end()) return Napi::String::New(env, "gone");
    size_t charge = it->second;
    handed_.erase(it);
    Napi::Buffer<char> data = info[1].As<Napi::Buffer<char>>();
    size_t off = 0;
    int r = SendSome(fd, data.Data(), data.Length(), off);
    auto* pr = r == 0 ? new PendingReply{this, fd, charge, std::string(data.Data() + off, data.Length() - off), 0, {}, {}, 2} : nullptr;
    if (pr && uv_poll_init(loop_, &pr->poll, fd) != 0) {
      delete pr;
      pr = nullptr;
      r = -1;
    }
    if (!pr) {
      close(fd);
      Closed(charge);
      MaybeRelease();
      return Napi::String::New(env, r > 0 ? "sent" : "gone");
    }
    replying_++;
    uv_timer_init(loop_, &pr->timer);
    pr->poll.data = pr;
    pr->timer.data = pr;
    uv_poll_start(&pr->poll, UV_WRITABLE, [](uv_poll_t* h, int status, int) {
      auto* pr = static_cast<PendingReply*>(h->data);
      int r = status < 0 ? -1 : SendSome(pr->fd, pr->rest.data(), pr->rest.size(), pr->off);
      if (r != 0) return pr->server->EndReply(pr);
      uv_timer_again(&pr->timer);  // progress: the client reads
    });
    uv_timer_start(&pr->timer, [](uv_timer_t* t) {
      auto* pr = static_cast<PendingReply*>(t->data);
      pr->server->EndReply(pr);
    }, kReplyTimeoutMs, kReplyTimeoutMs);
    return Napi::String::New(env, "queued");
  }

  void EndReply(PendingReply* r) {
    uv_poll_stop(&r->poll);
    uv_timer_stop(&r->timer);
    close(r->fd);
    Closed(r->charge);
    auto done = [](uv_handle_t* h) {
      auto* r = static_cast<PendingReply*>(h->data);
      if (--r->openHandles > 0) return;
      FrameServer* self = r->server;
      delete r;
      self->replying_--;
      self->MaybeRelease();
    };
    uv_close(reinterpret_cast<uv_handle_t*>(&r->poll), done);
    uv_close(reinterpret_cast<uv_handle_t*>(&r->timer), done);
  }

  // drop(fd): closes a handed-over connection without an answer (an fd that is not one does nothing).
  Napi::Value Drop(const Napi::CallbackInfo& info) {
    if (info.Length() < 1) throw Napi::TypeError::New(info.Env(), "usage: drop(fd)");
    int fd = info[0].As<Napi::Number>().Int32Value();
    auto it = handed_.find(fd);
    if (it != handed_.end()) {
      size_t charge = it->second;
      handed_.erase(it);
      close(fd);
      Closed(charge);
      MaybeRelease();
    }
    return info.Env().Undefined();
  }

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

  // The self-reference goes once nothing of ours can call back or is left to close: listening handle closed,
  // no connection being read, handed over or answered. Called from libuv close callbacks, or at the end of a
  // method JavaScript called (which holds the object meanwhile) — never while a callback of ours is on the
  // stack (a request handler may be what closed the server), so the object may be collected after it.
  void MaybeRelease() {
    if (listenClosed_ && reading_.empty() && openConns_ == 0 && handed_.empty() && replying_ == 0 && !released_) {
      released_ = true;
      Unref();
    }
  }

  Napi::Value Reading(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), static_cast<double>(reading_.size())); }
  Napi::Value Open(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), static_cast<double>(open_)); }
  Napi::Value Buffered(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), static_cast<double>(buffered_)); }
  Napi::Value Refused(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), refused_); }

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
      if (self->open_ >= self->maxConns_) {
        self->Refuse(fd, kConnLimit, "tsnetd is at its limit of " + std::to_string(self->maxConns_) + " open connections");
        continue;
      }
      self->Start(fd);
    }
  }

  // Stops accepting for 100 ms after an error, then polls again (the timer keeps the loop alive meanwhile).
  void Pause(const std::string& why) {
    Report(kAccept, why + "; pausing for 100 ms");
    if (!listen_) return;
    uv_poll_stop(listen_);
    uv_timer_start(backoff_, [](uv_timer_t* t) {
      auto* s = static_cast<FrameServer*>(t->data);
      if (s->listen_) uv_poll_start(s->listen_, UV_READABLE, OnAcceptable);
    }, 100, 0);
  }

  // Answers "run the plugin standalone" and closes, on a connection of which nothing is counted (any more).
  // The answer is a few hundred bytes, which a connection's empty socket buffer takes at once.
  void Refuse(int fd, Kind kind, const std::string& reason) {
    std::string f = FallbackFrame(reason);
    size_t off = 0;
    SendSome(fd, f.data(), f.size(), off);
    close(fd);
    refused_++;
    Report(kind, "refused a request: " + reason + "; its caller runs the standalone plugin");
  }

  void Start(int fd) {
    Conn* c = new Conn{this, fd, {}, {}, {}, 0, 0};
    int err = uv_poll_init(loop_, &c->poll, fd);
    if (err != 0) {  // the loop cannot watch it (epoll watch limit, memory): refuse this one connection
      delete c;
      Refuse(fd, kWatch, std::string("tsnetd cannot watch a new connection: ") + uv_strerror(err));
      return;
    }
    uv_timer_init(loop_, &c->timer);
    reading_.insert(c);
    open_++;
    openConns_++;
    c->poll.data = c;
    c->timer.data = c;
    c->openHandles = 2;
    // The client usually wrote its request before we accepted: read it now, poll only for the rest.
    if (ReadSome(c)) return;
    uv_poll_start(&c->poll, UV_READABLE, [](uv_poll_t* h, int status, int) {
      Conn* c = static_cast<Conn*>(h->data);
      if (status < 0) {
        c->server->Fail(c, kReadError, std::string("read: ") + uv_strerror(status));
        return;
      }
      c->server->ReadSome(c);
    });
    uv_timer_start(&c->timer, OnDeadline, readTimeoutMs_, 0);  // for the whole request, never re-armed
  }

  static void OnDeadline(uv_timer_t* t) {
    Conn* c = static_cast<Conn*>(t->data);
    FrameServer* s = c->server;
    s->Fail(c, kDeadline, "client did not send its whole request within " + std::to_string(s->readTimeoutMs_) + " ms; dropped");
  }

  // Reads what is there; true when the connection is done with (handed over, refused or failed).
  bool ReadSome(Conn* c) {
    char tmp[16384];
    for (;;) {
      ssize_t n = read(c->fd, tmp, sizeof tmp);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return false;
      if (n < 0) return Fail(c, kReadError, std::string("read: ") + strerror(errno));
      if (n == 0)
        return Fail(c, kClosedEarly,
                    c->buf.empty() ? "client closed the connection without a request" : "client closed the connection in the middle of its request");
      c->buf.append(tmp, static_cast<size_t>(n));
      if (c->buf.size() < 4) continue;
      if (c->charge == 0) {
        const auto* b = reinterpret_cast<const unsigned char*>(c->buf.data());
        size_t want = (size_t(b[0]) << 24) | (size_t(b[1]) << 16) | (size_t(b[2]) << 8) | size_t(b[3]);
        if (want > maxFrame_)
          return Turn(c, kFrameLimit,
                      "a request of " + std::to_string(want) + " bytes exceeds tsnetd's limit of " + std::to_string(maxFrame_) + " bytes per request");
        if (buffered_ + 4 + want > maxBuffered_)
          return Turn(c, kByteLimit,
                      "tsnetd holds " + std::to_string(buffered_) + " bytes of unanswered requests; " + std::to_string(4 + want) +
                          " more would pass its limit of " + std::to_string(maxBuffered_));
        c->charge = 4 + want;
        buffered_ += c->charge;
        c->buf.reserve(c->charge);
      }
      if (c->buf.size() > c->charge) return Fail(c, kExtraBytes, "extra bytes after the frame");
      if (c->buf.size() == c->charge) return Deliver(c), true;
    }
  }

  // Hands (fd, body, peer) to JavaScript; the connection and its reserved bytes count until reply()/drop().
  void Deliver(Conn* c) {
    int fd = c->fd;
    size_t charge = c->charge;
    Peer p = PeerOf(fd, procOnly_);
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    Napi::Buffer<char> body = Napi::Buffer<char>::Copy(env, c->buf.data() + 4, c->buf.size() - 4);
    Finish(c, false);
    handed_[fd] = charge;
    Napi::Object peer = Napi::Object::New(env);
    peer.Set("pid", Napi::Number::New(env, p.pid));
    peer.Set("uid", Napi::Number::New(env, p.uid == static_cast<uid_t>(-1) ? -1 : static_cast<double>(p.uid)));
    peer.Set("gid", Napi::Number::New(env, p.gid == static_cast<gid_t>(-1) ? -1 : static_cast<double>(p.gid)));
    peer.Set("netns", Napi::String::New(env, p.net));
    peer.Set("pidns", Napi::String::New(env, p.pidns));
    peer.Set("userns", Napi::String::New(env, p.user));
    Call(onRequest_, {Napi::Number::New(env, fd), body, peer});
  }

  // Stops reading c and refuses its request with a fallback answer.
  bool Turn(Conn* c, Kind kind, const std::string& reason) {
    int fd = c->fd;
    size_t charge = c->charge;
    Finish(c, false);
    Closed(charge);
    Refuse(fd, kind, reason);
    return true;
  }

  bool Fail(Conn* c, Kind kind, const std::string& why) {
    Finish(c, true);
    Report(kind, why);
    return true;
  }

  // Logs `why`, unless an event of its kind was logged less than a minute ago (then it is counted, and the
  // count goes with the next one logged).
  void Report(Kind kind, std::string why) {
    Quiet& q = quiet_[kind];
    uint64_t now = uv_now(loop_);
    if (q.seen && now - q.last < kQuietMs) {
      q.suppressed++;
      return;
    }
    if (q.suppressed)
      why += " (and " + std::to_string(q.suppressed) + " more like it in the " + std::to_string((now - q.last) / 1000) + " s before, not logged)";
    q.seen = true;
    q.last = now;
    q.suppressed = 0;
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

  // A connection is closed: it and its reserved bytes no longer count.
  void Closed(size_t charge) {
    open_--;
    buffered_ -= charge;
  }

  // Stops reading c; closes its fd too (and stops counting it) unless it is being handed over or refused.
  void Finish(Conn* c, bool closeFd) {
    reading_.erase(c);
    uv_poll_stop(&c->poll);  // takes the fd out of the loop's epoll set now: closing it is safe after this
    uv_timer_stop(&c->timer);
    if (closeFd) {
      close(c->fd);
      Closed(c->charge);
    }
    std::string().swap(c->buf);  // the memory goes now, not when libuv has closed the handles
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

  struct Quiet {
    bool seen = false;
    uint64_t last = 0;
    uint64_t suppressed = 0;
  };

  int fd_ = -1;
  uv_loop_t* loop_ = nullptr;
  uv_poll_t* listen_ = nullptr;
  uv_timer_t* backoff_ = nullptr;
  bool listenClosed_ = false;
  bool released_ = false;
  int openConns_ = 0;     // Conn structs not yet freed (their handles close asynchronously)
  size_t replying_ = 0;   // PendingReply structs not yet freed
  size_t open_ = 0;       // connections accepted and not closed: being read, handed over, or being answered
  size_t buffered_ = 0;   // bytes reserved for requests not answered yet
  double refused_ = 0;
  Napi::FunctionReference onRequest_;
  Napi::FunctionReference onError_;
  Napi::AsyncContext context_;
  size_t maxFrame_ = 0;
  uint64_t readTimeoutMs_ = 0;
  size_t maxConns_ = 0;
  size_t maxBuffered_ = 0;
  bool procOnly_ = false;
  std::set<Conn*> reading_;
  std::map<int, size_t> handed_;  // fd → its reserved bytes, for connections handed to JavaScript, not answered
  Quiet quiet_[kKinds];
};

}  // namespace

void InitFrameServer(Napi::Env env, Napi::Object exports) {
  exports.Set("frameListen", Napi::Function::New(env, FrameListen));
  exports.Set("FrameServer", FrameServer::Define(env));
}
