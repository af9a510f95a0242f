// PacketSocket: one AF_PACKET SOCK_RAW socket bound to (ifindex, ethertype), read on Node's own event loop.
//
// Receive: a uv_poll on Node's loop (no thread); each wake-up drains the non-blocking socket until EAGAIN (at most
// kMaxFramesPerWake frames, then yields to the loop: the poll is level-triggered and comes back). Copies of our own
// transmitted frames (sll_pkttype PACKET_OUTGOING) are skipped. packet(7).
// The socket is created with protocol 0 and bound with htons(ethertype): a socket created with the protocol would
// queue frames from every interface before bind() narrows it.
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include <cstring>
#include <string>
#include <vector>

#include "common.h"

namespace berth {

static constexpr size_t kMaxFrame = 65536;
static constexpr int kMaxFramesPerWake = 256;

class PacketSocket : public Napi::ObjectWrap<PacketSocket> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "PacketSocket",
                       {InstanceMethod<&PacketSocket::Send>("send"), InstanceMethod<&PacketSocket::Close>("close"),
                        InstanceMethod<&PacketSocket::Ref>("ref"), InstanceMethod<&PacketSocket::Unref>("unref"),
                        InstanceMethod<&PacketSocket::Membership>("membership"),
                        InstanceMethod<&PacketSocket::Statistics>("statistics")});
  }

  // new PacketSocket(ifname: string, ethertype: number, onFrame: (frame: Buffer) => void, onError: (err) => void)
  explicit PacketSocket(const Napi::CallbackInfo& info) : Napi::ObjectWrap<PacketSocket>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 4 || !info[0].IsString() || !info[1].IsNumber() || !info[2].IsFunction() ||
        !info[3].IsFunction()) {
      ThrowType(env, "PacketSocket(ifname: string, ethertype: number, onFrame: function, onError: function)");
      return;
    }
    ifname_ = info[0].As<Napi::String>().Utf8Value();
    double ethertype = info[1].As<Napi::Number>().DoubleValue();
    if (!(ethertype >= 0 && ethertype <= 0xffff) || ethertype != static_cast<int>(ethertype)) {
      ThrowType(env, "ethertype must be an integer in 0..65535");
      return;
    }
    if (ifname_.empty() || ifname_.size() >= IFNAMSIZ || ifname_.find('/') != std::string::npos) {
      ThrowType(env, "ifname must be 1.." + std::to_string(IFNAMSIZ - 1) + " characters without '/'");
      return;
    }
    uint16_t proto = htons(static_cast<uint16_t>(ethertype));

    unsigned int ifindex = if_nametoindex(ifname_.c_str());
    if (ifindex == 0) {
      int err = errno == ENXIO ? ENODEV : errno;
      SystemError(env, err, "if_nametoindex", ifname_).ThrowAsJavaScriptException();
      return;
    }
    int fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      SystemError(env, errno, "socket", ifname_).ThrowAsJavaScriptException();
      return;
    }
    struct ifreq ifr;
    std::memset(&ifr, 0, sizeof ifr);
    std::strncpy(ifr.ifr_name, ifname_.c_str(), IFNAMSIZ - 1);
    if (ioctl(fd, SIOCGIFHWADDR, &ifr) < 0) {
      int err = errno;
      ::close(fd);
      SystemError(env, err, "ioctl(SIOCGIFHWADDR)", ifname_).ThrowAsJavaScriptException();
      return;
    }
    struct sockaddr_ll sll;
    std::memset(&sll, 0, sizeof sll);
    sll.sll_family = AF_PACKET;
    sll.sll_protocol = proto;
    sll.sll_ifindex = static_cast<int>(ifindex);
    if (bind(fd, reinterpret_cast<struct sockaddr*>(&sll), sizeof sll) < 0) {
      int err = errno;
      ::close(fd);
      SystemError(env, err, "bind", ifname_).ThrowAsJavaScriptException();
      return;
    }
    uv_loop_t* loop = nullptr;
    if (napi_get_uv_event_loop(env, &loop) != napi_ok || loop == nullptr) {
      ::close(fd);
      Napi::Error::New(env, "napi_get_uv_event_loop failed").ThrowAsJavaScriptException();
      return;
    }
    poll_ = new uv_poll_t;
    int rc = uv_poll_init(loop, poll_, fd);
    if (rc != 0) {
      ::close(fd);
      delete poll_;  // never registered with the loop
      poll_ = nullptr;
      SystemError(env, -rc, "uv_poll_init", ifname_).ThrowAsJavaScriptException();
      return;
    }
    poll_->data = this;
    fd_ = fd;
    ifindex_ = static_cast<int>(ifindex);
    rc = uv_poll_start(poll_, UV_READABLE, &PacketSocket::OnPoll);
    if (rc != 0) {
      Shutdown();
      SystemError(env, -rc, "uv_poll_start", ifname_).ThrowAsJavaScriptException();
      return;
    }
    on_frame_ = Napi::Persistent(info[2].As<Napi::Function>());
    on_error_ = Napi::Persistent(info[3].As<Napi::Function>());
    context_ = new Napi::AsyncContext(env, "berth:PacketSocket");
    Napi::Object self = info.This().As<Napi::Object>();
    self.Set("ifindex", Napi::Number::New(env, ifindex));
    self.Set("fd", Napi::Number::New(env, fd));
    self.Set("mac", Napi::Buffer<uint8_t>::Copy(env, reinterpret_cast<uint8_t*>(ifr.ifr_hwaddr.sa_data), 6));
    self.Set("hwtype", Napi::Number::New(env, ifr.ifr_hwaddr.sa_family));
    // Open sockets stay reachable (and keep the loop alive) until close(), like net.Socket.
    Napi::ObjectWrap<PacketSocket>::Ref();
    referenced_ = true;
    // An environment torn down with the socket open (process.exit in a worker thread) must close it while its
    // loop still runs.
    if (napi_add_env_cleanup_hook(env, &PacketSocket::CleanupHook, this) == napi_ok) hook_ = true;
  }

  ~PacketSocket() override {
    Shutdown(true);
    delete context_;
  }

 private:
  // send(frame: Buffer): the whole Ethernet frame; the bound socket sends it on its interface as is.
  Napi::Value Send(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsBuffer()) return ThrowType(env, "send(frame): frame must be a Buffer");
    Napi::Buffer<uint8_t> frame = info[0].As<Napi::Buffer<uint8_t>>();
    if (fd_ < 0) {
      SystemError(env, EBADF, "send", ifname_).ThrowAsJavaScriptException();
      return Napi::Value();
    }
    ssize_t n;
    do {
      n = ::send(fd_, frame.Data(), frame.Length(), MSG_DONTWAIT);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
      SystemError(env, errno, "send", ifname_).ThrowAsJavaScriptException();
      return Napi::Value();
    }
    return env.Undefined();
  }

  // close(): idempotent; after it no more onFrame calls are made.
  Napi::Value Close(const Napi::CallbackInfo& info) {
    Shutdown();
    if (referenced_) {
      referenced_ = false;
      Napi::ObjectWrap<PacketSocket>::Unref();
    }
    return info.Env().Undefined();
  }

  // membership(add: boolean, type: number /* PACKET_MR_MULTICAST 0, PROMISC 1, ALLMULTI 2 */, mac?: Buffer /* 6 */)
  // PACKET_ADD_MEMBERSHIP / PACKET_DROP_MEMBERSHIP: programs the NIC's receive filter (e.g. an IPv6 solicited-node
  // group's 33:33:ff:xx:xx:xx). The kernel drops every membership of the socket when it closes. packet(7).
  Napi::Value Membership(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 2 || !info[0].IsBoolean() || !info[1].IsNumber())
      return ThrowType(env, "membership(add: boolean, type: number, mac?: Buffer)");
    bool add = info[0].As<Napi::Boolean>().Value();
    int type = info[1].As<Napi::Number>().Int32Value();
    if (type != PACKET_MR_MULTICAST && type != PACKET_MR_PROMISC && type != PACKET_MR_ALLMULTI)
      return ThrowType(env, "membership type must be PACKET_MR_MULTICAST (0), PACKET_MR_PROMISC (1) or PACKET_MR_ALLMULTI (2)");
    struct packet_mreq mreq;
    std::memset(&mreq, 0, sizeof mreq);
    mreq.mr_ifindex = ifindex_;
    mreq.mr_type = static_cast<unsigned short>(type);
    if (type == PACKET_MR_MULTICAST) {
      if (info.Length() < 3 || !info[2].IsBuffer() || info[2].As<Napi::Buffer<uint8_t>>().Length() != 6)
        return ThrowType(env, "a PACKET_MR_MULTICAST membership needs a 6-byte MAC Buffer");
      mreq.mr_alen = 6;
      std::memcpy(mreq.mr_address, info[2].As<Napi::Buffer<uint8_t>>().Data(), 6);
    }
    if (fd_ < 0) {
      SystemError(env, EBADF, "setsockopt(PACKET_ADD_MEMBERSHIP)", ifname_).ThrowAsJavaScriptException();
      return Napi::Value();
    }
    if (setsockopt(fd_, SOL_PACKET, add ? PACKET_ADD_MEMBERSHIP : PACKET_DROP_MEMBERSHIP, &mreq, sizeof mreq) < 0) {
      SystemError(env, errno, add ? "setsockopt(PACKET_ADD_MEMBERSHIP)" : "setsockopt(PACKET_DROP_MEMBERSHIP)", ifname_)
          .ThrowAsJavaScriptException();
      return Napi::Value();
    }
    return env.Undefined();
  }

  // statistics(): { packets: number, drops: number } since open: PACKET_STATISTICS (which resets the kernel's
  // counters on each read) accumulated here. packets counts every frame the kernel queued or dropped for this socket
  // (own outgoing copies included); drops the ones lost because the receive queue was full. packet(7).
  Napi::Value Statistics(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    CollectStatistics();
    Napi::Object o = Napi::Object::New(env);
    o.Set("packets", Napi::Number::New(env, static_cast<double>(stat_packets_)));
    o.Set("drops", Napi::Number::New(env, static_cast<double>(stat_drops_)));
    return o;
  }

  // ref()/unref(): whether the open socket keeps Node's event loop alive (default: it does).
  Napi::Value Ref(const Napi::CallbackInfo& info) {
    if (poll_ != nullptr) uv_ref(reinterpret_cast<uv_handle_t*>(poll_));
    return info.Env().Undefined();
  }
  Napi::Value Unref(const Napi::CallbackInfo& info) {
    if (poll_ != nullptr) uv_unref(reinterpret_cast<uv_handle_t*>(poll_));
    return info.Env().Undefined();
  }

  void CollectStatistics() {
    if (fd_ < 0) return;
    struct tpacket_stats st;
    socklen_t len = sizeof st;
    if (getsockopt(fd_, SOL_PACKET, PACKET_STATISTICS, &st, &len) == 0) {
      stat_packets_ += st.tp_packets;
      stat_drops_ += st.tp_drops;
    }
  }

  static void CleanupHook(void* arg) {
    auto* self = static_cast<PacketSocket*>(arg);
    self->hook_ = false;  // Node drops the hook after running it
    self->Shutdown(true);
  }

  // teardown: the environment is going away (cleanup hook, or the finalizer of a socket never closed). Node may
  // unload this addon before its loop runs the close callbacks, so none may point into it: the uv_poll_t (a few
  // dozen bytes) is left to the dying loop instead of being freed by a callback.
  void Shutdown(bool teardown = false) {
    if (hook_) {
      hook_ = false;
      napi_remove_env_cleanup_hook(Env(), &PacketSocket::CleanupHook, this);
    }
    if (poll_ != nullptr) {
      uv_poll_stop(poll_);
      poll_->data = nullptr;
      if (teardown) {
        uv_close(reinterpret_cast<uv_handle_t*>(poll_), nullptr);
      } else {
        uv_close(reinterpret_cast<uv_handle_t*>(poll_), [](uv_handle_t* h) { delete reinterpret_cast<uv_poll_t*>(h); });
      }
      poll_ = nullptr;
    }
    if (fd_ >= 0) {
      CollectStatistics();
      ::close(fd_);
      fd_ = -1;
    }
  }

  static void OnPoll(uv_poll_t* handle, int status, int /*events*/) {
    auto* self = static_cast<PacketSocket*>(handle->data);
    if (self != nullptr) self->Drain(status);
  }

  void Drain(int status) {
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    if (status < 0) {
      // libuv reports POLLERR as UV_EBADF and stops the poll. On a packet socket POLLERR means a pending socket error:
      // ENETDOWN when the link goes down (the socket works again once it is up), ENODEV when it is deleted (the
      // socket is dead: the owner closes it). SO_ERROR reads and clears it; then poll again and report it.
      int soerr = 0;
      socklen_t len = sizeof soerr;
      if (fd_ >= 0 && poll_ != nullptr && getsockopt(fd_, SOL_SOCKET, SO_ERROR, &soerr, &len) == 0 && soerr != 0) {
        int rc = uv_poll_start(poll_, UV_READABLE, &PacketSocket::OnPoll);
        Report(SystemError(env, soerr, "recvfrom", ifname_).Value());
        if (rc != 0) Report(SystemError(env, -rc, "uv_poll_start", ifname_).Value());
        return;
      }
      Report(SystemError(env, -status, "poll", ifname_).Value());
      return;
    }
    if (buf_.empty()) buf_.resize(kMaxFrame);  // per socket: worker threads may own sockets too
    uint8_t* buf = buf_.data();
    for (int i = 0; i < kMaxFramesPerWake && fd_ >= 0; i++) {
      struct sockaddr_ll from;
      socklen_t fromlen = sizeof from;
      ssize_t n = recvfrom(fd_, buf, buf_.size(), MSG_DONTWAIT, reinterpret_cast<struct sockaddr*>(&from), &fromlen);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return;
        Report(SystemError(env, errno, "recvfrom", ifname_).Value());
        return;
      }
      if (from.sll_pkttype == PACKET_OUTGOING) continue;
      Napi::HandleScope frame_scope(env);
      Napi::Buffer<uint8_t> frame = Napi::Buffer<uint8_t>::Copy(env, buf, static_cast<size_t>(n));
      on_frame_.MakeCallback(Value(), {frame}, *context_);
      // A throwing handler must not stop the socket: the exception is cleared and handed to onError.
      if (env.IsExceptionPending()) Report(env.GetAndClearPendingException().Value());
    }
  }

  void Report(Napi::Value err) {
    Napi::Env env = Env();
    if (on_error_.IsEmpty()) return;
    on_error_.MakeCallback(Value(), {err}, *context_);
    if (env.IsExceptionPending()) env.GetAndClearPendingException();
  }

  std::string ifname_;
  std::vector<uint8_t> buf_;
  int fd_ = -1;
  int ifindex_ = 0;
  uint64_t stat_packets_ = 0;
  uint64_t stat_drops_ = 0;
  uv_poll_t* poll_ = nullptr;
  bool referenced_ = false;
  bool hook_ = false;
  Napi::FunctionReference on_frame_;
  Napi::FunctionReference on_error_;
  Napi::AsyncContext* context_ = nullptr;
};

Napi::Object InitPacketSocket(Napi::Env env, Napi::Object exports) {
  exports.Set("PacketSocket", PacketSocket::Define(env));
  return exports;
}

}  // namespace berth
