// PacketSocket: one AF_PACKET SOCK_RAW socket bound to (ifindex, ethertype), read on Node's own event loop.
//
// Receive: a uv_poll on Node's loop (no thread). Each wake-up drains what is pending (at most kMaxFramesPerWake
// frames, then yields to the loop: the poll is level-triggered and comes back) and hands JS ONE batch: a Buffer
// holding the frames back to back and a Uint32Array of their end offsets, through one MakeCallback. Frames come
// from a PACKET_RX_RING (TPACKET_V2: per-frame slots in memory shared with the kernel, so no system call per frame
// and a queue that rmem_max does not cap; a slot is released as soon as its frame is copied), or, when no ring is
// asked for or the kernel refuses one, from recvfrom() until EAGAIN. PACKET_IGNORE_OUTGOING (Linux 4.20) keeps
// copies of our own transmitted frames out of the queue; without it they are skipped here (sll_pkttype
// PACKET_OUTGOING). An optional classic BPF program (SO_ATTACH_FILTER) drops uninteresting frames in the kernel.
// Send: send() one frame, sendBatch() many in one sendmmsg(2). packet(7), Documentation/networking/packet_mmap.rst.
// The socket is created with protocol 0 and bound with htons(ethertype): a socket created with the protocol would
// queue frames from every interface before bind() narrows it.
#include <arpa/inet.h>
#include <errno.h>
#include <linux/filter.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include <cstring>
#include <string>
#include <vector>

#include "common.h"

namespace berth {

static constexpr size_t kMaxFrame = 65536;
static constexpr int kMaxFramesPerWake = 1024;
static constexpr unsigned kRingBlockSize = 1u << 16;  // a multiple of every page size Linux uses
static constexpr unsigned kMaxRingBytes = 64u << 20;
static constexpr unsigned kMaxBatchFrames = 1024;  // sendmmsg vlen per call (UIO_MAXIOV)
#ifndef PACKET_IGNORE_OUTGOING
#define PACKET_IGNORE_OUTGOING 23
#endif

class PacketSocket : public Napi::ObjectWrap<PacketSocket> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "PacketSocket",
                       {InstanceMethod<&PacketSocket::Send>("send"), InstanceMethod<&PacketSocket::Close>("close"),
                        InstanceMethod<&PacketSocket::Ref>("ref"), InstanceMethod<&PacketSocket::Unref>("unref"),
                        InstanceMethod<&PacketSocket::Membership>("membership"),
                        InstanceMethod<&PacketSocket::Statistics>("statistics"),
                        InstanceMethod<&PacketSocket::SendBatch>("sendBatch"),
                        InstanceMethod<&PacketSocket::AttachFilter>("attachFilter")});
  }

  // new PacketSocket(ifname: string, ethertype: number, onFrames: (batch: Buffer, ends: Uint32Array) => void,
  //                  onError: (err) => void, ring?: { frames: number, frameSize: number })
  // onFrames gets every frame of one wake-up: frame i is batch[ends[i-1] (0 for i = 0) .. ends[i]). ring: a
  // PACKET_RX_RING of about `frames` slots of `frameSize` bytes (a power of two, 128..65536; a slot holds 66 bytes
  // of headers, longer frames are cut to fit); omitted or frames 0: recvfrom(). A ring the kernel refuses falls
  // back to recvfrom() (the `ring` property says which one runs).
  explicit PacketSocket(const Napi::CallbackInfo& info) : Napi::ObjectWrap<PacketSocket>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 4 || !info[0].IsString() || !info[1].IsNumber() || !info[2].IsFunction() ||
        !info[3].IsFunction() || (info.Length() > 4 && !info[4].IsUndefined() && !info[4].IsObject())) {
      ThrowType(env,
                "PacketSocket(ifname: string, ethertype: number, onFrames: function, onError: function, "
                "ring?: { frames, frameSize })");
      return;
    }
    unsigned ring_frames = 0, ring_frame_size = 0;
    if (info.Length() > 4 && info[4].IsObject()) {
      Napi::Object r = info[4].As<Napi::Object>();
      Napi::Value f = r.Get("frames"), z = r.Get("frameSize");
      double fv = f.IsNumber() ? f.As<Napi::Number>().DoubleValue() : -1;
      double zv = z.IsNumber() ? z.As<Napi::Number>().DoubleValue() : -1;
      bool pow2 = zv >= 128 && zv <= kRingBlockSize && zv == static_cast<unsigned>(zv) &&
                  (static_cast<unsigned>(zv) & (static_cast<unsigned>(zv) - 1)) == 0;
      if (!(fv >= 0 && fv == static_cast<unsigned>(fv)) || !pow2 || fv * zv > kMaxRingBytes) {
        ThrowType(env, "ring.frames must be an integer >= 0 and ring.frameSize a power of two in 128..65536, "
                       "at most 64 MiB in all");
        return;
      }
      ring_frames = static_cast<unsigned>(fv);
      ring_frame_size = static_cast<unsigned>(zv);
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
    // Best effort: without it (Linux < 4.20) our own frames are skipped in Drain.
    int one = 1;
    ignore_outgoing_ = setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof one) == 0;
    if (ring_frames > 0) SetupRing(fd, ring_frames, ring_frame_size);
    struct sockaddr_ll sll;
    std::memset(&sll, 0, sizeof sll);
    sll.sll_family = AF_PACKET;
    sll.sll_protocol = proto;
    sll.sll_ifindex = static_cast<int>(ifindex);
    if (bind(fd, reinterpret_cast<struct sockaddr*>(&sll), sizeof sll) < 0) {
      int err = errno;
      ::close(fd);
      UnmapRing();
      SystemError(env, err, "bind", ifname_).ThrowAsJavaScriptException();
      return;
    }
    uv_loop_t* loop = nullptr;
    if (napi_get_uv_event_loop(env, &loop) != napi_ok || loop == nullptr) {
      ::close(fd);
      UnmapRing();
      Napi::Error::New(env, "napi_get_uv_event_loop failed").ThrowAsJavaScriptException();
      return;
    }
    poll_ = new uv_poll_t;
    int rc = uv_poll_init(loop, poll_, fd);
    if (rc != 0) {
      ::close(fd);
      UnmapRing();
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
    self.Set("ring", Napi::Boolean::New(env, ring_ != nullptr));
    self.Set("ringFrames", Napi::Number::New(env, ring_frame_nr_));
    self.Set("ignoreOutgoing", Napi::Boolean::New(env, ignore_outgoing_));
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

  // sendBatch(frames: Buffer[]): number — whole Ethernet frames in one sendmmsg(2) (at most 1024 per call); returns
  // how many the kernel took (fewer when its queue filled up: send the rest later). Throws when not even the first
  // one could be sent.
  Napi::Value SendBatch(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsArray()) return ThrowType(env, "sendBatch(frames): frames must be an Array of Buffers");
    Napi::Array arr = info[0].As<Napi::Array>();
    uint32_t n = arr.Length();
    if (n > kMaxBatchFrames) n = kMaxBatchFrames;
    std::vector<struct iovec> iov(n);
    std::vector<struct mmsghdr> msgs(n);
    for (uint32_t i = 0; i < n; i++) {
      Napi::Value v = arr.Get(i);
      if (!v.IsBuffer()) return ThrowType(env, "sendBatch(frames): frames[" + std::to_string(i) + "] is not a Buffer");
      Napi::Buffer<uint8_t> b = v.As<Napi::Buffer<uint8_t>>();
      iov[i].iov_base = b.Data();
      iov[i].iov_len = b.Length();
      std::memset(&msgs[i], 0, sizeof msgs[i]);
      msgs[i].msg_hdr.msg_iov = &iov[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
    }
    if (fd_ < 0) {
      SystemError(env, EBADF, "sendmmsg", ifname_).ThrowAsJavaScriptException();
      return Napi::Value();
    }
    if (n == 0) return Napi::Number::New(env, 0);
    int sent;
    do {
      sent = sendmmsg(fd_, msgs.data(), n, MSG_DONTWAIT);
    } while (sent < 0 && errno == EINTR);
    if (sent < 0) {
      SystemError(env, errno, "sendmmsg", ifname_).ThrowAsJavaScriptException();
      return Napi::Value();
    }
    return Napi::Number::New(env, sent);
  }

  // attachFilter(program: Buffer): a classic BPF program (struct sock_filter[], 8 bytes each, host byte order) as
  // SO_ATTACH_FILTER: the kernel queues only the frames it accepts. An empty Buffer detaches it. socket(7), filter.h.
  Napi::Value AttachFilter(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsBuffer()) return ThrowType(env, "attachFilter(program): program must be a Buffer");
    Napi::Buffer<uint8_t> prog = info[0].As<Napi::Buffer<uint8_t>>();
    if (prog.Length() % sizeof(struct sock_filter) != 0 || prog.Length() / sizeof(struct sock_filter) > BPF_MAXINSNS)
      return ThrowType(env, "attachFilter(program): the program must be 0.." + std::to_string(BPF_MAXINSNS) +
                                " instructions of 8 bytes");
    if (fd_ < 0) {
      SystemError(env, EBADF, "setsockopt(SO_ATTACH_FILTER)", ifname_).ThrowAsJavaScriptException();
      return Napi::Value();
    }
    if (prog.Length() == 0) {
      int dummy = 0;
      if (setsockopt(fd_, SOL_SOCKET, SO_DETACH_FILTER, &dummy, sizeof dummy) < 0 && errno != ENOENT) {
        SystemError(env, errno, "setsockopt(SO_DETACH_FILTER)", ifname_).ThrowAsJavaScriptException();
        return Napi::Value();
      }
      return env.Undefined();
    }
    std::vector<struct sock_filter> code(prog.Length() / sizeof(struct sock_filter));
    std::memcpy(code.data(), prog.Data(), prog.Length());
    struct sock_fprog fprog;
    fprog.len = static_cast<unsigned short>(code.size());
    fprog.filter = code.data();
    if (setsockopt(fd_, SOL_SOCKET, SO_ATTACH_FILTER, &fprog, sizeof fprog) < 0) {
      SystemError(env, errno, "setsockopt(SO_ATTACH_FILTER)", ifname_).ThrowAsJavaScriptException();
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

  // TPACKET_V2 receive ring of about `frames` slots of `frame_size` bytes, in 64 KiB blocks. On any failure the
  // socket stays a plain one (recvfrom); a half-configured ring is undone.
  void SetupRing(int fd, unsigned frames, unsigned frame_size) {
    int version = TPACKET_V2;
    if (setsockopt(fd, SOL_PACKET, PACKET_VERSION, &version, sizeof version) < 0) return;
    unsigned per_block = kRingBlockSize / frame_size;
    unsigned blocks = (frames + per_block - 1) / per_block;
    struct tpacket_req req;
    std::memset(&req, 0, sizeof req);
    req.tp_block_size = kRingBlockSize;
    req.tp_block_nr = blocks;
    req.tp_frame_size = frame_size;
    req.tp_frame_nr = blocks * per_block;
    if (setsockopt(fd, SOL_PACKET, PACKET_RX_RING, &req, sizeof req) < 0) return;
    size_t bytes = static_cast<size_t>(kRingBlockSize) * blocks;
    void* m = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (m == MAP_FAILED) {
      std::memset(&req, 0, sizeof req);  // a zero request frees the kernel's ring
      setsockopt(fd, SOL_PACKET, PACKET_RX_RING, &req, sizeof req);
      return;
    }
    ring_ = static_cast<uint8_t*>(m);
    ring_bytes_ = bytes;
    ring_frame_size_ = frame_size;
    ring_frame_nr_ = req.tp_frame_nr;
    ring_head_ = 0;
  }

  void UnmapRing() {
    if (ring_ == nullptr) return;
    munmap(ring_, ring_bytes_);
    ring_ = nullptr;
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
    UnmapRing();
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
    if (ring_ != nullptr) {
      DrainRing(env);
    } else {
      DrainRecv(env);
    }
  }

  // The ring: pass 1 sums the lengths of the slots the kernel handed over (TP_STATUS_USER, read with acquire
  // ordering), pass 2 copies them into one Buffer and gives each slot back (TP_STATUS_KERNEL, release ordering).
  // Every slot is released before JS runs, so a close() from the callback never meets a half-read ring.
  void DrainRing(Napi::Env env) {
    size_t total = 0;
    unsigned slots = 0, wanted = 0;
    for (unsigned idx = ring_head_; slots < ring_frame_nr_ && wanted < kMaxFramesPerWake;) {
      auto* hdr = Slot(idx);
      if ((__atomic_load_n(&hdr->tp_status, __ATOMIC_ACQUIRE) & TP_STATUS_USER) == 0) break;
      size_t len = Wanted(hdr);
      if (len > 0) {
        total += len;
        wanted++;
      }
      slots++;
      idx = idx + 1 == ring_frame_nr_ ? 0 : idx + 1;
    }
    if (slots == 0) return;
    Napi::HandleScope scope(env);
    Napi::Buffer<uint8_t> batch = Napi::Buffer<uint8_t>::New(env, total);
    Napi::Uint32Array ends = Napi::Uint32Array::New(env, wanted);
    uint8_t* out = batch.Data();
    size_t at = 0;
    unsigned n = 0;
    for (unsigned i = 0; i < slots; i++) {
      auto* hdr = Slot(ring_head_);
      size_t len = Wanted(hdr);
      if (len > 0 && n < wanted && at + len <= total) {
        std::memcpy(out + at, reinterpret_cast<uint8_t*>(hdr) + hdr->tp_mac, len);
        at += len;
        ends[n++] = static_cast<uint32_t>(at);
      }
      __atomic_store_n(&hdr->tp_status, static_cast<uint32_t>(TP_STATUS_KERNEL), __ATOMIC_RELEASE);
      ring_head_ = ring_head_ + 1 == ring_frame_nr_ ? 0 : ring_head_ + 1;
    }
    if (wanted > 0) Deliver(env, batch, ends);
  }

  struct tpacket2_hdr* Slot(unsigned idx) const {
    return reinterpret_cast<struct tpacket2_hdr*>(ring_ + static_cast<size_t>(idx) * ring_frame_size_);
  }

  // Bytes of the frame in a ring slot to hand to JS: 0 for a copy of our own outgoing frame; bounded by the slot,
  // so a corrupt header never makes us read past it.
  size_t Wanted(const struct tpacket2_hdr* hdr) const {
    static const size_t kSllOffset = TPACKET_ALIGN(sizeof(struct tpacket2_hdr));
    auto* sll = reinterpret_cast<const struct sockaddr_ll*>(reinterpret_cast<const uint8_t*>(hdr) + kSllOffset);
    if (sll->sll_pkttype == PACKET_OUTGOING) return 0;
    size_t mac = hdr->tp_mac;
    if (mac >= ring_frame_size_) return 0;
    size_t len = hdr->tp_snaplen;
    return len > ring_frame_size_ - mac ? ring_frame_size_ - mac : len;
  }

  // Without a ring: recvfrom() until EAGAIN (or kMaxFramesPerWake frames) into a staging buffer, then one batch.
  void DrainRecv(Napi::Env env) {
    if (buf_.empty()) buf_.resize(kMaxFrame);  // per socket: worker threads may own sockets too
    staged_.clear();
    staged_ends_.clear();
    int error = 0;
    for (int i = 0; i < kMaxFramesPerWake && fd_ >= 0; i++) {
      struct sockaddr_ll from;
      socklen_t fromlen = sizeof from;
      ssize_t n = recvfrom(fd_, buf_.data(), buf_.size(), MSG_DONTWAIT, reinterpret_cast<struct sockaddr*>(&from),
                           &fromlen);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) error = errno;
        break;
      }
      if (from.sll_pkttype == PACKET_OUTGOING) continue;
      staged_.insert(staged_.end(), buf_.begin(), buf_.begin() + n);
      staged_ends_.push_back(static_cast<uint32_t>(staged_.size()));
    }
    Napi::HandleScope scope(env);
    if (!staged_ends_.empty()) {
      Napi::Buffer<uint8_t> batch = Napi::Buffer<uint8_t>::Copy(env, staged_.data(), staged_.size());
      Napi::Uint32Array ends = Napi::Uint32Array::New(env, staged_ends_.size());
      std::memcpy(ends.Data(), staged_ends_.data(), staged_ends_.size() * sizeof(uint32_t));
      if (staged_.capacity() > (1u << 20)) std::vector<uint8_t>().swap(staged_);  // do not keep a burst's megabytes
      Deliver(env, batch, ends);
    }
    if (error != 0) Report(SystemError(env, error, "recvfrom", ifname_).Value());
  }

  void Deliver(Napi::Env env, Napi::Buffer<uint8_t> batch, Napi::Uint32Array ends) {
    on_frame_.MakeCallback(Value(), {batch, ends}, *context_);
    // A throwing handler must not stop the socket: the exception is cleared and handed to onError.
    if (env.IsExceptionPending()) Report(env.GetAndClearPendingException().Value());
  }

  void Report(Napi::Value err) {
    Napi::Env env = Env();
    if (on_error_.IsEmpty()) return;
    on_error_.MakeCallback(Value(), {err}, *context_);
    if (env.IsExceptionPending()) env.GetAndClearPendingException();
  }

  std::string ifname_;
  std::vector<uint8_t> buf_;
  std::vector<uint8_t> staged_;
  std::vector<uint32_t> staged_ends_;
  uint8_t* ring_ = nullptr;
  size_t ring_bytes_ = 0;
  unsigned ring_frame_size_ = 0;
  unsigned ring_frame_nr_ = 0;
  unsigned ring_head_ = 0;
  bool ignore_outgoing_ = false;
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
