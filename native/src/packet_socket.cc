// PacketSocket: one AF_PACKET SOCK_RAW socket bound to (ifindex, ethertype), read on Node's own event loop.
//
// Receive: a uv_poll on Node's loop, until the native ARP answer is turned on (setArpAnswers): from then on a
// dedicated thread of this socket (the answer thread, 64 KiB stack, every signal blocked) blocks in poll(2) on the
// socket, answers ARP requests from the sets JS gave it, and queues every other frame for JS, handed over through a
// uv_async (one batch per loop turn): an answer never waits for Node's event loop (JS work, GC pauses, timers).
// Before that, each wake-up drains what is pending (at most kMaxFramesPerWake
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
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "common.h"

namespace berth {

static constexpr size_t kMaxFrame = 65536;
static constexpr int kMaxFramesPerWake = 1024;
static constexpr unsigned kReplyBatch = 256;  // native ARP replies per sendmmsg (their buffers: ~30 KiB)
static constexpr unsigned kRingBlockSize = 1u << 16;  // a multiple of every page size Linux uses
static constexpr unsigned kMaxRingBytes = 64u << 20;
static constexpr unsigned kMaxBatchFrames = 1024;  // sendmmsg vlen per call (UIO_MAXIOV)

// Closes the libuv handle `h` (a T allocated with new): at environment teardown with no close callback (the loop goes
// away with the environment), otherwise deleting it from the close callback, once libuv is done with it (uv_close).
template <typename T>
static void CloseUvHandle(T* h, bool teardown) {
  if (teardown) {
    uv_close(reinterpret_cast<uv_handle_t*>(h), nullptr);
  } else {
    uv_close(reinterpret_cast<uv_handle_t*>(h), [](uv_handle_t* x) { delete reinterpret_cast<T*>(x); });
  }
}

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
                        InstanceMethod<&PacketSocket::AttachFilter>("attachFilter"),
                        InstanceMethod<&PacketSocket::SetArpAnswers>("setArpAnswers"),
                        InstanceMethod<&PacketSocket::SetAnswerPriority>("setAnswerPriority"),
                        InstanceMethod<&PacketSocket::AnswerThread>("answerThread"),
                        InstanceMethod<&PacketSocket::TakeArpAnswerStats>("takeArpAnswerStats"),
                        InstanceMethod<&PacketSocket::ArpAnswerDelays>("arpAnswerDelays"),
                        InstanceMethod<&PacketSocket::SetTimestamps>("setTimestamps")});
  }

  // new PacketSocket(ifname: string, ethertype: number, onFrames: (batch: Buffer, ends: Uint32Array) => void,
  //                  onError: (err) => void, ring?: { frames: number, frameSize: number },
  //                  options?: { outgoing?: boolean })
  // onFrames gets every frame of one wake-up: frame i is batch[ends[i-1] (0 for i = 0) .. ends[i]). ring: a
  // PACKET_RX_RING of about `frames` slots of `frameSize` bytes (a power of two, 128..65536; a slot holds 66 bytes
  // of headers, longer frames are cut to fit); omitted or frames 0: recvfrom(). A ring the kernel refuses falls
  // back to recvfrom() (the `ring` property says which one runs). options.outgoing (default false): also deliver
  // copies of frames sent on the interface by others (sll_pkttype PACKET_OUTGOING; a socket never gets its own):
  // a tap (bound to ETH_P_ALL, 0x0003, since only those taps get outgoing copies) stamping requests as they leave.
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
    if (info.Length() > 5 && !info[5].IsUndefined()) {
      Napi::Value out = info[5].IsObject() ? info[5].As<Napi::Object>().Get("outgoing") : Napi::Value();
      if (!info[5].IsObject() || !(out.IsUndefined() || out.IsBoolean())) {
        ThrowType(env, "options must be an object { outgoing?: boolean }");
        return;
      }
      keep_outgoing_ = out.IsBoolean() && out.As<Napi::Boolean>().Value();
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
    ignore_outgoing_ = !keep_outgoing_ && setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof one) == 0;
    std::memcpy(mac_, ifr.ifr_hwaddr.sa_data, 6);
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
    loop_ = loop;
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

  // setArpAnswers(announced: Buffer, watched: Buffer) — IPv4 addresses, 4 bytes each in network order. From the
  // first call on (there is no off: two empty sets answer nothing and drop every plain request), each wake-up
  // answers here, before any frame crosses to JS, every
  // frame that is a well-formed Ethernet/IPv4 ARP request (htype 1, ptype 0x0800, hln 6, pln 4, oper 1), not from
  // our MAC (Ethernet source or ar$sha), to broadcast or our MAC, with ar$spa neither 0.0.0.0 (a probe) nor watched
  // (a claim), and ar$tpa announced: the RFC 826 reply (to ar$sha, from our MAC) is built in a reused buffer and all
  // replies of the wake-up leave in sendmmsg(2) calls of up to 256. The same request for a target that is not watched is dropped
  // here (the responder ignores it uncounted too). Every other frame goes to JS as before. This is exactly the
  // responder's fastArpReply (src/speaker/layer2/responder.ts); the JS side keeps the sets and the counters
  // (takeArpAnswerStats). Throws TypeError for a Buffer whose length is not a multiple of 4.
  Napi::Value SetArpAnswers(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 2 || !info[0].IsBuffer() || !info[1].IsBuffer() ||
        info[0].As<Napi::Buffer<uint8_t>>().Length() % 4 != 0 || info[1].As<Napi::Buffer<uint8_t>>().Length() % 4 != 0)
      return ThrowType(env, "setArpAnswers(announced: Buffer, watched: Buffer): IPv4 addresses of 4 bytes each");
    // Sorted outside the lock: the answer thread waits only for the swap.
    auto load = [](Napi::Buffer<uint8_t> b, std::vector<uint32_t>& out) {
      for (size_t i = 0; i + 4 <= b.Length(); i += 4) {
        uint32_t v;
        std::memcpy(&v, b.Data() + i, 4);
        out.push_back(v);  // network order: only compared for equality
      }
      std::sort(out.begin(), out.end());
      out.erase(std::unique(out.begin(), out.end()), out.end());
    };
    std::vector<uint32_t> announced, watched;
    load(info[0].As<Napi::Buffer<uint8_t>>(), announced);
    load(info[1].As<Napi::Buffer<uint8_t>>(), watched);
    std::unique_lock<std::mutex> lock(mu_);
    FoldArpCounts();
    arp_announced_.swap(announced);
    arp_watched_.swap(watched);
    arp_answered_.assign(arp_announced_.size(), 0);
    arp_failed_.assign(arp_announced_.size(), 0);
    arp_on_ = true;
    if (replies_.empty()) {
      replies_.resize(static_cast<size_t>(kReplyBatch) * kArpFrame);
      reply_iov_.resize(kReplyBatch);
      reply_msgs_.resize(kReplyBatch);
      reply_index_.resize(kReplyBatch);
      reply_stamp_.resize(kReplyBatch);
    }
    lock.unlock();
    if (!thread_on_ && !thread_failed_ && fd_ >= 0 && poll_ != nullptr) StartAnswerThread();
    return env.Undefined();
  }

  // takeArpAnswerStats(): { counts: Uint32Array } since the previous call (then reset): triples (IPv4 as the u32
  // of its 4 bytes big-endian, answered, sendmmsg refused) per address answered.
  // arpAnswerDelays(): Float64Array, since open: 24 log2 buckets of the time from the kernel's receive timestamp
  // of a request (TPACKET_V2 tp_sec/tp_nsec) to the return of the sendmmsg that carried its reply, bucket i
  // counting delays in [2^i, 2^(i+1)) microseconds (bucket 0 also holds < 1 µs), then [24] = replies timed and
  // [25] = the sum of their delays in µs.
  Napi::Value ArpAnswerDelays(const Napi::CallbackInfo& info) {
    Napi::Float64Array delays = Napi::Float64Array::New(info.Env(), kDelayBuckets + 2);
    std::lock_guard<std::mutex> lock(mu_);
    for (size_t k = 0; k < kDelayBuckets + 2; k++) delays[k] = delay_[k];
    return delays;
  }

  Napi::Value TakeArpAnswerStats(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    std::unordered_map<uint32_t, std::pair<uint32_t, uint32_t>> pending;
    {
      // No JS allocation (a GC) while the answer thread may wait for the lock.
      std::lock_guard<std::mutex> lock(mu_);
      FoldArpCounts();
      pending.swap(arp_pending_);
    }
    Napi::Uint32Array counts = Napi::Uint32Array::New(env, pending.size() * 3);
    size_t i = 0;
    for (const auto& [ip, c] : pending) {
      uint8_t b[4];
      std::memcpy(b, &ip, 4);
      counts[i++] = (static_cast<uint32_t>(b[0]) << 24) | (static_cast<uint32_t>(b[1]) << 16) |
                    (static_cast<uint32_t>(b[2]) << 8) | b[3];
      counts[i++] = c.first;
      counts[i++] = c.second;
    }
    Napi::Object o = Napi::Object::New(env);
    o.Set("counts", counts);
    return o;
  }

  // setTimestamps(on: boolean): from now on each batch also carries a Float64Array of the kernel's receive time of
  // every frame (microseconds since the epoch, CLOCK_REALTIME; ring only, else 0), as onFrames' third argument.
  Napi::Value SetTimestamps(const Napi::CallbackInfo& info) {
    if (info.Length() < 1 || !info[0].IsBoolean()) return ThrowType(info.Env(), "setTimestamps(on: boolean)");
    timestamps_.store(info[0].As<Napi::Boolean>().Value(), std::memory_order_relaxed);
    return info.Env().Undefined();
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

  // statistics(): { packets: number, drops: number, arpAnswered: number } since open (arpAnswered: replies sent by
  // the native ARP answer, SetArpAnswers): PACKET_STATISTICS (which resets the kernel's
  // counters on each read) accumulated here. packets counts every frame the kernel queued or dropped for this socket
  // (own outgoing copies included); drops the ones lost because the receive queue was full. packet(7).
  Napi::Value Statistics(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    CollectStatistics();
    uint64_t answered, dropped;
    {
      std::lock_guard<std::mutex> lock(mu_);
      answered = total_answered_;
      dropped = q_dropped_;
    }
    Napi::Object o = Napi::Object::New(env);
    o.Set("packets", Napi::Number::New(env, static_cast<double>(stat_packets_)));
    o.Set("drops", Napi::Number::New(env, static_cast<double>(stat_drops_ + dropped)));
    o.Set("arpAnswered", Napi::Number::New(env, static_cast<double>(answered)));
    return o;
  }

  // ref()/unref(): whether the open socket keeps Node's event loop alive (default: it does).
  Napi::Value Ref(const Napi::CallbackInfo& info) {
    unref_ = false;
    if (poll_ != nullptr) uv_ref(reinterpret_cast<uv_handle_t*>(poll_));
    if (async_ != nullptr) uv_ref(reinterpret_cast<uv_handle_t*>(async_));
    return info.Env().Undefined();
  }
  Napi::Value Unref(const Napi::CallbackInfo& info) {
    unref_ = true;
    if (poll_ != nullptr) uv_unref(reinterpret_cast<uv_handle_t*>(poll_));
    if (async_ != nullptr) uv_unref(reinterpret_cast<uv_handle_t*>(async_));
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
    StopAnswerThread(teardown);
    if (poll_ != nullptr) {
      uv_poll_stop(poll_);
      poll_->data = nullptr;
      CloseUvHandle(poll_, teardown);
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

  // The ring: pass 1 classifies the slots the kernel handed over (TP_STATUS_USER, read with acquire ordering):
  // ARP requests answered here (SetArpAnswers) get their reply built at once, ignored ones are skipped, the rest
  // are summed for JS; the replies leave (sendmmsg, 256 at a time) before anything crosses to JS. Pass 2 copies the frames for
  // JS into one Buffer and gives every slot back (TP_STATUS_KERNEL, release ordering). Every slot is released before
  // JS runs, so a close() from the callback never meets a half-read ring.
  void DrainRing(Napi::Env env) {
    size_t total = 0;
    unsigned slots = 0, wanted = 0, answered = 0, answered_all = 0;
    kinds_.clear();
    std::unique_lock<std::mutex> lock(mu_);  // uncontended: no answer thread runs while the uv_poll does
    for (unsigned idx = ring_head_; slots < ring_frame_nr_ && wanted < kMaxFramesPerWake &&
                                    answered_all < static_cast<unsigned>(kMaxFramesPerWake);) {
      auto* hdr = Slot(idx);
      if ((__atomic_load_n(&hdr->tp_status, __ATOMIC_ACQUIRE) & TP_STATUS_USER) == 0) break;
      size_t len = Wanted(hdr);
      uint8_t kind = kSkip;
      if (len > 0) {
        int a = arp_on_ ? ArpAnswer(reinterpret_cast<const uint8_t*>(hdr) + hdr->tp_mac, len, answered) : kToJs;
        if (a == kToJs) {
          kind = kDeliver;
          total += len;
          wanted++;
        } else if (a >= 0) {
          reply_stamp_[answered++] = StampMicros(hdr);
          answered_all++;
          if (answered == kReplyBatch) {
            SendReplies(answered);  // the replies are copies: their slots may stay until pass 2
            answered = 0;
          }
        }
      }
      kinds_.push_back(kind);
      slots++;
      idx = idx + 1 == ring_frame_nr_ ? 0 : idx + 1;
    }
    if (answered > 0) SendReplies(answered);
    lock.unlock();
    if (slots == 0) return;
    Napi::HandleScope scope(env);
    Napi::Buffer<uint8_t> batch;
    Napi::Uint32Array ends;
    Napi::Float64Array stamps;
    uint8_t* out = nullptr;
    if (wanted > 0) {
      batch = Napi::Buffer<uint8_t>::New(env, total);
      ends = Napi::Uint32Array::New(env, wanted);
      if (timestamps_.load(std::memory_order_relaxed)) stamps = Napi::Float64Array::New(env, wanted);
      out = batch.Data();
    }
    size_t at = 0;
    unsigned n = 0;
    for (unsigned i = 0; i < slots; i++) {
      auto* hdr = Slot(ring_head_);
      if (kinds_[i] == kDeliver) {
        size_t len = Wanted(hdr);
        if (n < wanted && at + len <= total) {
          std::memcpy(out + at, reinterpret_cast<uint8_t*>(hdr) + hdr->tp_mac, len);
          at += len;
          if (!stamps.IsEmpty()) stamps[n] = StampMicros(hdr);
          ends[n++] = static_cast<uint32_t>(at);
        }
      }
      __atomic_store_n(&hdr->tp_status, static_cast<uint32_t>(TP_STATUS_KERNEL), __ATOMIC_RELEASE);
      ring_head_ = ring_head_ + 1 == ring_frame_nr_ ? 0 : ring_head_ + 1;
    }
    if (wanted > 0) Deliver(env, batch, ends, stamps);
    ReportSendError(env);
  }

  static double StampMicros(const struct tpacket2_hdr* hdr) {
    return hdr->tp_sec == 0 ? 0 : static_cast<double>(hdr->tp_sec) * 1e6 + static_cast<double>(hdr->tp_nsec) / 1e3;
  }

  static double NowMicros() {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return static_cast<double>(ts.tv_sec) * 1e6 + static_cast<double>(ts.tv_nsec) / 1e3;
  }

  // The native ARP answer (see SetArpAnswers): kToJs, kIgnored, or the index of the announced target, the reply
  // then built in replies_ slot `slot`. Reads at most 42 bytes of `f`, checked against `len`.
  int ArpAnswer(const uint8_t* f, size_t len, unsigned slot) {
    static const uint8_t kRequestHead[8] = {0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01};
    static const uint8_t kReplyHead[10] = {0x08, 0x06, 0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x02};
    if (len < kArpFrame || f[12] != 0x08 || f[13] != 0x06 || std::memcmp(f + 14, kRequestHead, 8) != 0) return kToJs;
    if (std::memcmp(f + 6, mac_, 6) == 0 || std::memcmp(f + 22, mac_, 6) == 0) return kToJs;
    static const uint8_t kBroadcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    if (std::memcmp(f, kBroadcast, 6) != 0 && std::memcmp(f, mac_, 6) != 0) return kToJs;
    uint32_t spa, tpa;
    std::memcpy(&spa, f + 28, 4);
    std::memcpy(&tpa, f + 38, 4);
    if (spa == 0 || std::binary_search(arp_watched_.begin(), arp_watched_.end(), spa)) return kToJs;
    auto it = std::lower_bound(arp_announced_.begin(), arp_announced_.end(), tpa);
    if (it == arp_announced_.end() || *it != tpa)
      return std::binary_search(arp_watched_.begin(), arp_watched_.end(), tpa) ? kToJs : kIgnored;
    uint8_t* r = replies_.data() + static_cast<size_t>(slot) * kArpFrame;
    std::memcpy(r, f + 22, 6);        // Ethernet destination: ar$sha
    std::memcpy(r + 6, mac_, 6);      // Ethernet source: ours
    std::memcpy(r + 12, kReplyHead, 10);
    std::memcpy(r + 22, mac_, 6);     // ar$sha: ours
    std::memcpy(r + 28, f + 38, 4);   // ar$spa: the asked IP
    std::memcpy(r + 32, f + 22, 6);   // ar$tha: the requester
    std::memcpy(r + 38, f + 28, 4);   // ar$tpa: the requester's IP
    int index = static_cast<int>(it - arp_announced_.begin());
    reply_index_[slot] = static_cast<uint32_t>(index);
    return index;
  }

  // Sends replies_[0..n) with sendmmsg (a refused frame is counted and skipped; the first errno is reported after
  // the batch), then counts them per IP and their delays from the kernel's receive stamp.
  void SendReplies(unsigned n) {
    for (unsigned i = 0; i < n; i++) {
      reply_iov_[i].iov_base = replies_.data() + static_cast<size_t>(i) * kArpFrame;
      reply_iov_[i].iov_len = kArpFrame;
      std::memset(&reply_msgs_[i], 0, sizeof reply_msgs_[i]);
      reply_msgs_[i].msg_hdr.msg_iov = &reply_iov_[i];
      reply_msgs_[i].msg_hdr.msg_iovlen = 1;
    }
    unsigned off = 0;
    while (off < n) {
      int sent = fd_ < 0 ? -1 : sendmmsg(fd_, reply_msgs_.data() + off, n - off, MSG_DONTWAIT);
      if (sent < 0 && errno == EINTR) continue;
      if (sent <= 0) {
        if (send_errno_ == 0) send_errno_ = fd_ < 0 ? EBADF : (sent == 0 ? EAGAIN : errno);
        arp_failed_[reply_index_[off]]++;
        off++;
        continue;
      }
      for (int k = 0; k < sent; k++) arp_answered_[reply_index_[off + k]]++;
      total_answered_ += static_cast<uint64_t>(sent);
      double now = NowMicros();
      for (int k = 0; k < sent; k++) {
        double stamp = reply_stamp_[off + k];
        if (stamp <= 0) continue;
        double d = now - stamp;
        unsigned b = 0;
        while (b + 1 < kDelayBuckets && d >= static_cast<double>(2u << b)) b++;
        delay_[b]++;
        delay_[kDelayBuckets]++;
        delay_[kDelayBuckets + 1] += d > 0 ? d : 0;
      }
      off += static_cast<unsigned>(sent);
    }
  }

  void ReportSendError(Napi::Env env) {
    int err;
    {
      std::lock_guard<std::mutex> lock(mu_);
      err = send_errno_;
      send_errno_ = 0;
    }
    if (err == 0) return;
    Report(SystemError(env, err, "sendmmsg", ifname_).Value());
  }

  // Moves the per-index counters of the current announced set into arp_pending_ (keyed by address).
  void FoldArpCounts() {
    for (size_t i = 0; i < arp_announced_.size(); i++) {
      if (arp_answered_[i] == 0 && arp_failed_[i] == 0) continue;
      auto& c = arp_pending_[arp_announced_[i]];
      c.first += arp_answered_[i];
      c.second += arp_failed_[i];
      arp_answered_[i] = 0;
      arp_failed_[i] = 0;
    }
  }

  struct tpacket2_hdr* Slot(unsigned idx) const {
    return reinterpret_cast<struct tpacket2_hdr*>(ring_ + static_cast<size_t>(idx) * ring_frame_size_);
  }

  // Bytes of the frame in a ring slot to hand to JS: 0 for a copy of our own outgoing frame; bounded by the slot,
  // so a corrupt header never makes us read past it.
  size_t Wanted(const struct tpacket2_hdr* hdr) const {
    static const size_t kSllOffset = TPACKET_ALIGN(sizeof(struct tpacket2_hdr));
    auto* sll = reinterpret_cast<const struct sockaddr_ll*>(reinterpret_cast<const uint8_t*>(hdr) + kSllOffset);
    if (sll->sll_pkttype == PACKET_OUTGOING && !keep_outgoing_) return 0;
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
    unsigned answered = 0;
    std::unique_lock<std::mutex> lock(mu_);  // uncontended: no answer thread runs while the uv_poll does
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
      if (from.sll_pkttype == PACKET_OUTGOING && !keep_outgoing_) continue;
      if (arp_on_) {
        int a = ArpAnswer(buf_.data(), static_cast<size_t>(n), answered);
        if (a >= 0) {
          reply_stamp_[answered++] = 0;
          if (answered == kReplyBatch) {
            SendReplies(answered);
            answered = 0;
          }
          continue;
        }
        if (a == kIgnored) continue;
      }
      staged_.insert(staged_.end(), buf_.begin(), buf_.begin() + n);
      staged_ends_.push_back(static_cast<uint32_t>(staged_.size()));
    }
    if (answered > 0) SendReplies(answered);
    lock.unlock();
    Napi::HandleScope scope(env);
    if (!staged_ends_.empty()) {
      Napi::Buffer<uint8_t> batch = Napi::Buffer<uint8_t>::Copy(env, staged_.data(), staged_.size());
      Napi::Uint32Array ends = Napi::Uint32Array::New(env, staged_ends_.size());
      std::memcpy(ends.Data(), staged_ends_.data(), staged_ends_.size() * sizeof(uint32_t));
      if (staged_.capacity() > (1u << 20)) std::vector<uint8_t>().swap(staged_);  // do not keep a burst's megabytes
      Deliver(env, batch, ends, Napi::Float64Array());
    }
    ReportSendError(env);
    if (error != 0) Report(SystemError(env, error, "recvfrom", ifname_).Value());
  }

  void Deliver(Napi::Env env, Napi::Buffer<uint8_t> batch, Napi::Uint32Array ends, Napi::Float64Array stamps) {
    if (timestamps_.load(std::memory_order_relaxed)) {
      if (stamps.IsEmpty()) stamps = Napi::Float64Array::New(env, ends.ElementLength());
      on_frame_.MakeCallback(Value(), {batch, ends, stamps}, *context_);
    } else {
      on_frame_.MakeCallback(Value(), {batch, ends}, *context_);
    }
    // A throwing handler must not stop the socket: the exception is cleared and handed to onError.
    if (env.IsExceptionPending()) Report(env.GetAndClearPendingException().Value());
  }

  // setAnswerPriority(priority: number) — the scheduling policy of this socket's answer thread (sched(7)): 0 =
  // SCHED_OTHER (the default), 1..99 = SCHED_FIFO at that priority, set with pthread_setschedparam(3). Remembered:
  // when the thread does not run yet it is applied as the thread starts (the first setArpAnswers), and a failure
  // there is kept for answerThread().error (setArpAnswers does not fail for it: the thread then answers at
  // SCHED_OTHER). When the thread runs it is applied now and a failure throws a SystemError naming the errno
  // (EPERM without CAP_SYS_NICE and above RLIMIT_RTPRIO; EINVAL when the kernel refuses the priority).
  // TypeError for anything but an integer 0..99.
  Napi::Value SetAnswerPriority(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    double v = info.Length() > 0 && info[0].IsNumber() ? info[0].As<Napi::Number>().DoubleValue() : -1;
    if (!(v >= 0 && v <= 99) || v != static_cast<int>(v))
      return ThrowType(env, "setAnswerPriority(priority: number): 0 (SCHED_OTHER) or a SCHED_FIFO priority 1..99");
    answer_priority_ = static_cast<int>(v);
    if (thread_on_) {
      int rc = ApplyAnswerPriority();
      if (rc != 0) {
        SystemError(env, rc, "pthread_setschedparam", ifname_).ThrowAsJavaScriptException();
        return Napi::Value();
      }
    }
    return env.Undefined();
  }

  // answerThread() — { running: boolean, tid: number (0 when not running), policy: 'fifo' | 'other' | 'rr' |
  // 'batch' | 'idle' | 'unknown', priority: number, requested: number, error?: Error } read back from the thread
  // (pthread_getschedparam): what an operator or a test checks. error: the SystemError of the last failed
  // application of setAnswerPriority (cleared by a successful one).
  Napi::Value AnswerThread(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Object o = Napi::Object::New(env);
    o.Set("running", Napi::Boolean::New(env, thread_on_));
    o.Set("tid", Napi::Number::New(env, thread_on_ ? tid_.load(std::memory_order_acquire) : 0));
    o.Set("requested", Napi::Number::New(env, answer_priority_));
    int policy = -1;
    struct sched_param sp {};
    if (thread_on_ && pthread_getschedparam(thread_, &policy, &sp) != 0) policy = -1;
    const char* name = "unknown";
    if (!thread_on_) name = "other";
    else if (policy == SCHED_OTHER) name = "other";
    else if (policy == SCHED_FIFO) name = "fifo";
    else if (policy == SCHED_RR) name = "rr";
    else if (policy == SCHED_BATCH) name = "batch";
    else if (policy == SCHED_IDLE) name = "idle";
    o.Set("policy", Napi::String::New(env, name));
    o.Set("priority", Napi::Number::New(env, thread_on_ && policy >= 0 ? sp.sched_priority : 0));
    if (priority_errno_ != 0) o.Set("error", SystemError(env, priority_errno_, "pthread_setschedparam", ifname_).Value());
    return o;
  }

  // Applies answer_priority_ to the running thread; returns 0 or the error number (kept in priority_errno_).
  int ApplyAnswerPriority() {
    struct sched_param sp {};
    sp.sched_priority = answer_priority_;
    int rc = pthread_setschedparam(thread_, answer_priority_ > 0 ? SCHED_FIFO : SCHED_OTHER, &sp);
    priority_errno_ = rc;
    return rc;
  }

  void Report(Napi::Value err) {
    Napi::Env env = Env();
    if (on_error_.IsEmpty()) return;
    on_error_.MakeCallback(Value(), {err}, *context_);
    if (env.IsExceptionPending()) env.GetAndClearPendingException();
  }


  // ---- The answer thread (started by the first setArpAnswers) ----
  //
  // Ownership while it runs: the thread alone reads the socket and the ring (ring_head_, buf_) and uses the reply
  // buffers; mu_ guards what both sides touch: the answer sets and their counters, delay_, send_errno_,
  // total_answered_ and the queue for JS (q_*). JS is never called with mu_ held. The thread does not allocate
  // (the queue's buffers are reserved before it starts, frames beyond them are dropped and counted), so glibc
  // gives it no malloc arena of its own.

  static constexpr size_t kQueueBytes = 256u << 10;   // frames waiting for JS, per buffer (two: double-buffered)
  static constexpr size_t kQueueFrames = 4096;
  static constexpr size_t kThreadStack = 64u << 10;
  static constexpr size_t kMaxQueuedErrors = 8;

  // Moves the socket from the uv_poll to a thread of its own; on any failure the uv_poll keeps running (and the
  // native answer runs there, on the event loop, as before).
  void StartAnswerThread() {
    thread_failed_ = true;  // until it runs
    if (loop_ == nullptr) return;
    if (ring_ == nullptr && buf_.empty()) buf_.resize(kMaxFrame);
    int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (efd < 0) return;
    auto* async = new uv_async_t;
    if (uv_async_init(loop_, async, &PacketSocket::OnAsync) != 0) {
      delete async;  // never registered with the loop
      ::close(efd);
      return;
    }
    async->data = this;
    if (unref_) uv_unref(reinterpret_cast<uv_handle_t*>(async));
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (auto* q : {&q_frames_, &d_frames_}) q->reserve(kQueueBytes);
      for (auto* q : {&q_ends_, &d_ends_}) q->reserve(kQueueFrames);
      for (auto* q : {&q_stamps_, &d_stamps_}) q->reserve(kQueueFrames);
    }
    uv_poll_stop(poll_);
    wake_fd_ = efd;
    async_ = async;
    stop_.store(false, std::memory_order_relaxed);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, kThreadStack);  // the thread uses a few KiB; untouched pages are not resident
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);  // the new thread inherits it: signals go to Node's threads
    int rc = pthread_create(&thread_, &attr, &PacketSocket::ThreadMain, this);
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
    pthread_attr_destroy(&attr);
    if (rc != 0) {
      async_ = nullptr;
      wake_fd_ = -1;
      async->data = nullptr;
      CloseUvHandle(async, false);
      ::close(efd);
      uv_poll_start(poll_, UV_READABLE, &PacketSocket::OnPoll);
      return;
    }
    thread_on_ = true;
    thread_failed_ = false;
    if (answer_priority_ > 0) ApplyAnswerPriority();  // a failure stays in priority_errno_ (answerThread().error)
    poll_->data = nullptr;
    CloseUvHandle(poll_, false);
    poll_ = nullptr;
  }

  // Stops and joins the thread (it wakes from poll(2) on the eventfd), then closes the uv_async: after it no frame
  // or error of the thread reaches JS. teardown: see Shutdown.
  void StopAnswerThread(bool teardown) {
    if (thread_on_) {
      stop_.store(true, std::memory_order_release);
      uint64_t one = 1;
      ssize_t w;
      do {
        w = ::write(wake_fd_, &one, sizeof one);
      } while (w < 0 && errno == EINTR);
      pthread_join(thread_, nullptr);
      thread_on_ = false;
    }
    if (wake_fd_ >= 0) {
      ::close(wake_fd_);
      wake_fd_ = -1;
    }
    if (async_ != nullptr) {
      async_->data = nullptr;
      CloseUvHandle(async_, teardown);
      async_ = nullptr;
    }
  }

  static void* ThreadMain(void* arg) {
    auto* self = static_cast<PacketSocket*>(arg);
    self->tid_.store(static_cast<int>(syscall(SYS_gettid)), std::memory_order_release);
    self->AnswerLoop();
    return nullptr;
  }

  void AnswerLoop() {
    struct pollfd fds[2];
    fds[0].fd = fd_;
    fds[0].events = POLLIN;
    fds[1].fd = wake_fd_;
    fds[1].events = POLLIN;
    while (!stop_.load(std::memory_order_acquire)) {
      fds[0].revents = fds[1].revents = 0;
      int rc = ::poll(fds, 2, -1);
      if (rc < 0) {
        if (errno == EINTR) continue;
        QueueError(errno, "poll");
        return;
      }
      if (stop_.load(std::memory_order_acquire)) return;
      if (fds[0].revents & (POLLERR | POLLHUP | POLLNVAL)) {
        // As in Drain: ENETDOWN when the link goes down (the socket works again once it is up), ENODEV when it is
        // deleted (the owner closes it). SO_ERROR reads and clears it.
        int soerr = 0;
        socklen_t len = sizeof soerr;
        if (!(fds[0].revents & POLLNVAL) && getsockopt(fd_, SOL_SOCKET, SO_ERROR, &soerr, &len) == 0 && soerr != 0) {
          QueueError(soerr, "recvfrom");
        } else if (!(fds[0].revents & POLLIN)) {
          QueueError(fds[0].revents & POLLNVAL ? EBADF : EIO, "poll");
          return;  // nothing to read and nothing to clear: polling on would spin
        }
      }
      if (fds[0].revents & POLLIN) {
        if (ring_ != nullptr) {
          ThreadDrainRing();
        } else {
          ThreadDrainRecv();
        }
      }
    }
  }

  // Every slot the kernel has handed over: answered, ignored or queued for JS, and given back at once.
  void ThreadDrainRing() {
    bool wake_js = false;
    std::lock_guard<std::mutex> lock(mu_);
    unsigned answered = 0;
    for (unsigned slots = 0; slots < ring_frame_nr_; slots++) {
      auto* hdr = Slot(ring_head_);
      if ((__atomic_load_n(&hdr->tp_status, __ATOMIC_ACQUIRE) & TP_STATUS_USER) == 0) break;
      size_t len = Wanted(hdr);
      if (len > 0) {
        const uint8_t* f = reinterpret_cast<const uint8_t*>(hdr) + hdr->tp_mac;
        int a = ArpAnswer(f, len, answered);
        if (a >= 0) {
          reply_stamp_[answered++] = StampMicros(hdr);
        } else if (a == kToJs) {
          Enqueue(f, len, StampMicros(hdr));
          wake_js = true;
        }
      }
      __atomic_store_n(&hdr->tp_status, static_cast<uint32_t>(TP_STATUS_KERNEL), __ATOMIC_RELEASE);
      ring_head_ = ring_head_ + 1 == ring_frame_nr_ ? 0 : ring_head_ + 1;
      if (answered == kReplyBatch) {
        SendReplies(answered);
        answered = 0;
      }
    }
    if (answered > 0) SendReplies(answered);
    if (wake_js || send_errno_ != 0) uv_async_send(async_);
  }

  // Without a ring: recvfrom() until EAGAIN (at most kMaxFramesPerWake frames per wake-up).
  void ThreadDrainRecv() {
    bool wake_js = false;
    std::lock_guard<std::mutex> lock(mu_);
    unsigned answered = 0;
    for (int i = 0; i < kMaxFramesPerWake; i++) {
      struct sockaddr_ll from;
      socklen_t fromlen = sizeof from;
      ssize_t n = recvfrom(fd_, buf_.data(), buf_.size(), MSG_DONTWAIT, reinterpret_cast<struct sockaddr*>(&from),
                           &fromlen);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
          QueueErrorLocked(errno, "recvfrom");
          wake_js = true;
        }
        break;
      }
      if (from.sll_pkttype == PACKET_OUTGOING && !keep_outgoing_) continue;
      int a = ArpAnswer(buf_.data(), static_cast<size_t>(n), answered);
      if (a >= 0) {
        reply_stamp_[answered++] = 0;
        if (answered == kReplyBatch) {
          SendReplies(answered);
          answered = 0;
        }
      } else if (a == kToJs) {
        Enqueue(buf_.data(), static_cast<size_t>(n), 0);
        wake_js = true;
      }
    }
    if (answered > 0) SendReplies(answered);
    if (wake_js || send_errno_ != 0) uv_async_send(async_);
  }

  // mu_ held. A frame for JS into the queue; a full queue (JS stalled) drops it, counted in statistics().drops.
  void Enqueue(const uint8_t* f, size_t len, double stamp) {
    if (q_ends_.size() >= kQueueFrames || q_frames_.size() + len > kQueueBytes) {
      q_dropped_++;
      return;
    }
    q_frames_.insert(q_frames_.end(), f, f + len);
    q_ends_.push_back(static_cast<uint32_t>(q_frames_.size()));
    q_stamps_.push_back(stamp);
  }

  void QueueError(int err, const char* syscall) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      QueueErrorLocked(err, syscall);
    }
    uv_async_send(async_);
  }

  void QueueErrorLocked(int err, const char* syscall) {
    if (q_error_count_ < kMaxQueuedErrors) q_errors_[q_error_count_++] = {err, syscall};
  }

  static void OnAsync(uv_async_t* handle) {
    auto* self = static_cast<PacketSocket*>(handle->data);
    if (self != nullptr) self->DeliverQueued();
  }

  // On Node's loop: everything the thread queued since the last call, as one batch, then its errors.
  void DeliverQueued() {
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    std::pair<int, const char*> errors[kMaxQueuedErrors];
    size_t error_count;
    int send_err;
    {
      std::lock_guard<std::mutex> lock(mu_);
      q_frames_.swap(d_frames_);
      q_ends_.swap(d_ends_);
      q_stamps_.swap(d_stamps_);
      error_count = q_error_count_;
      for (size_t i = 0; i < error_count; i++) errors[i] = q_errors_[i];
      q_error_count_ = 0;
      send_err = send_errno_;
      send_errno_ = 0;
    }
    if (!d_ends_.empty()) {
      Napi::Buffer<uint8_t> batch = Napi::Buffer<uint8_t>::Copy(env, d_frames_.data(), d_frames_.size());
      Napi::Uint32Array ends = Napi::Uint32Array::New(env, d_ends_.size());
      std::memcpy(ends.Data(), d_ends_.data(), d_ends_.size() * sizeof(uint32_t));
      Napi::Float64Array stamps;
      if (timestamps_.load(std::memory_order_relaxed)) {
        stamps = Napi::Float64Array::New(env, d_stamps_.size());
        std::memcpy(stamps.Data(), d_stamps_.data(), d_stamps_.size() * sizeof(double));
      }
      d_frames_.clear();  // capacity kept: the thread swaps them back in
      d_ends_.clear();
      d_stamps_.clear();
      Deliver(env, batch, ends, stamps);
    }
    if (send_err != 0) Report(SystemError(env, send_err, "sendmmsg", ifname_).Value());
    for (size_t i = 0; i < error_count; i++) Report(SystemError(env, errors[i].first, errors[i].second, ifname_).Value());
  }

  static constexpr int kToJs = -2;
  static constexpr int kIgnored = -1;
  static constexpr uint8_t kSkip = 0, kDeliver = 1;
  static constexpr size_t kArpFrame = 42;  // Ethernet + ARP for IPv4, unpadded (drivers pad to 60)
  static constexpr size_t kDelayBuckets = 24;

  std::string ifname_;
  uint8_t mac_[6] = {0, 0, 0, 0, 0, 0};
  // Native ARP answering (SetArpAnswers): sorted sets, per-index counters, reused reply buffers.
  bool arp_on_ = false;
  std::atomic<bool> timestamps_{false};
  int send_errno_ = 0;
  std::vector<uint32_t> arp_announced_, arp_watched_;
  std::vector<uint32_t> arp_answered_, arp_failed_;
  std::unordered_map<uint32_t, std::pair<uint32_t, uint32_t>> arp_pending_;
  std::vector<uint8_t> replies_;
  std::vector<struct iovec> reply_iov_;
  std::vector<struct mmsghdr> reply_msgs_;
  std::vector<uint32_t> reply_index_;
  std::vector<double> reply_stamp_;
  std::vector<uint8_t> kinds_;
  double delay_[kDelayBuckets + 2] = {};
  std::vector<uint8_t> buf_;
  std::vector<uint8_t> staged_;
  std::vector<uint32_t> staged_ends_;
  uint8_t* ring_ = nullptr;
  size_t ring_bytes_ = 0;
  unsigned ring_frame_size_ = 0;
  unsigned ring_frame_nr_ = 0;
  unsigned ring_head_ = 0;
  bool ignore_outgoing_ = false;
  bool keep_outgoing_ = false;  // options.outgoing: a tap
  int fd_ = -1;
  int ifindex_ = 0;
  uint64_t stat_packets_ = 0;
  uint64_t stat_drops_ = 0;
  uint64_t total_answered_ = 0;
  uv_poll_t* poll_ = nullptr;
  // The answer thread (StartAnswerThread) and its queue for JS: q_* filled by the thread, d_* drained on the loop.
  uv_loop_t* loop_ = nullptr;
  uv_async_t* async_ = nullptr;
  pthread_t thread_{};
  bool thread_on_ = false;
  bool thread_failed_ = false;
  int answer_priority_ = 0;  // setAnswerPriority: 0 SCHED_OTHER, 1..99 SCHED_FIFO
  int priority_errno_ = 0;   // the last failed pthread_setschedparam, 0 after a success
  std::atomic<int> tid_{0};  // the answer thread's kernel thread id (gettid), for answerThread()
  bool unref_ = false;
  int wake_fd_ = -1;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::vector<uint8_t> q_frames_, d_frames_;
  std::vector<uint32_t> q_ends_, d_ends_;
  std::vector<double> q_stamps_, d_stamps_;
  std::pair<int, const char*> q_errors_[kMaxQueuedErrors];
  size_t q_error_count_ = 0;
  uint64_t q_dropped_ = 0;
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
