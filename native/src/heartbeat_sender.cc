// HeartbeatSender: the liveness heartbeats' sender (src/speaker/liveness/native-sender.ts) as a pthread of the addon
// instead of a worker thread. A worker is a second V8 isolate and Node environment: ~7 MiB of RssAnon and ~2 MiB of
// the node binary's pages (issue 8: speaker RSS <= 64 MB); this thread is a 64 KiB stack and a 96 KiB slot table.
//
// Same contract as the worker (src/speaker/liveness/sender-source.ts): the main thread pre-encodes and signs the next
// heartbeats (seq lastSent+1 ... lastSent+depth) and queues them; the thread sends one per interval to every peer
// and publishes the last seq it sent; when the main thread stops refilling (hung for depth x interval), the thread
// runs out and goes silent (counted as `starved`), so a wedged speaker is declared dead instead of kept alive by its
// sender. The thread makes no allocation (no malloc arena of its own) and holds no JS value: JS reads stats(),
// lastSent() and left() (polled), so nothing crosses back into the event loop.
//
// JS API (all synchronous; TypeErrors name the argument and the rule; system errors carry code/errno/syscall):
//   new HeartbeatSender(bindAddress: string, intervalMs: number, lastSent: number)  socket bound to bindAddress:0
//   queue(seqs: number[], bufs: Buffer[])   (re)place heartbeats (<= 1472 bytes each; seq <= lastSent ignored)
//   setPeers(addresses: string[], ports: number[])
//   leave(bufs: Buffer[])   stop the periodic sends; send these 10 ms apart; then left() is true
//   stats(): { sent, sendErrors, starved, rounds, maxDriftMs (worst timer lateness since the last call), lastError }
//   lastSent(): number;  left(): boolean;  port(): number (the bound port);  close() (idempotent; joins the thread)
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <vector>

#include "common.h"

namespace berth {
namespace {

constexpr size_t kSlots = 64;         // >= the queue depth (20 by default; native-sender.ts checks <= 64)
constexpr size_t kMaxDatagram = 1472;  // one Ethernet MTU of UDP/IPv4 payload; heartbeats are ~100 bytes
constexpr size_t kMaxLeave = 8;
constexpr size_t kThreadStack = 64 * 1024;

struct Slot {
  int64_t seq = 0;  // 0: empty
  uint16_t len = 0;
  uint8_t data[kMaxDatagram];
};

int64_t MonoNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

class HeartbeatSender : public Napi::ObjectWrap<HeartbeatSender> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "HeartbeatSender",
                       {InstanceMethod<&HeartbeatSender::Queue>("queue"),
                        InstanceMethod<&HeartbeatSender::SetPeers>("setPeers"),
                        InstanceMethod<&HeartbeatSender::Leave>("leave"),
                        InstanceMethod<&HeartbeatSender::Stats>("stats"),
                        InstanceMethod<&HeartbeatSender::LastSent>("lastSent"),
                        InstanceMethod<&HeartbeatSender::Left>("left"),
                        InstanceMethod<&HeartbeatSender::Port>("port"),
                        InstanceMethod<&HeartbeatSender::Close>("close")});
  }

  explicit HeartbeatSender(const Napi::CallbackInfo& info) : Napi::ObjectWrap<HeartbeatSender>(info) {
    // First: the destructor (run even when this constructor throws) destroys it.
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&cond_, &ca);
    pthread_condattr_destroy(&ca);
    Napi::Env env = info.Env();
    if (info.Length() < 3 || !info[0].IsString() || !info[1].IsNumber() || !info[2].IsNumber()) {
      ThrowType(env, "HeartbeatSender(bindAddress: string, intervalMs: number, lastSent: number)");
      return;
    }
    std::string addr = info[0].As<Napi::String>().Utf8Value();
    double interval = info[1].As<Napi::Number>().DoubleValue();
    double last = info[2].As<Napi::Number>().DoubleValue();
    if (!(interval >= 1 && interval <= 60000 && interval == static_cast<int64_t>(interval))) {
      ThrowType(env, "HeartbeatSender: intervalMs must be an integer in 1..60000");
      return;
    }
    if (!(last >= 0 && last <= 9007199254740991.0 && last == static_cast<int64_t>(last))) {
      ThrowType(env, "HeartbeatSender: lastSent must be a whole number >= 0");
      return;
    }
    sockaddr_storage ss{};
    socklen_t sl = 0;
    if (!Parse(addr, 0, &ss, &sl)) {
      ThrowType(env, "HeartbeatSender: bindAddress \"" + addr + "\" is not an IPv4 or IPv6 address");
      return;
    }
    family_ = ss.ss_family;
    fd_ = ::socket(family_, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) {
      SystemError(env, errno, "socket").ThrowAsJavaScriptException();
      return;
    }
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&ss), sl) != 0) {
      int e = errno;
      ::close(fd_);
      fd_ = -1;
      SystemError(env, e, "bind").ThrowAsJavaScriptException();
      return;
    }
    sockaddr_storage bound{};
    socklen_t bl = sizeof bound;
    if (::getsockname(fd_, reinterpret_cast<sockaddr*>(&bound), &bl) == 0) {
      port_ = ntohs(bound.ss_family == AF_INET ? reinterpret_cast<sockaddr_in*>(&bound)->sin_port
                                               : reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port);
    }
    interval_ns_ = static_cast<int64_t>(interval) * 1000000;
    last_sent_.store(static_cast<int64_t>(last));
    slots_.resize(kSlots);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, kThreadStack);
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);  // inherited by the thread: signals go to Node's threads
    int rc = pthread_create(&thread_, &attr, &HeartbeatSender::ThreadMain, this);
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
    pthread_attr_destroy(&attr);
    if (rc != 0) {
      ::close(fd_);
      fd_ = -1;
      SystemError(env, rc, "pthread_create").ThrowAsJavaScriptException();
      return;
    }
    thread_on_ = true;
    if (napi_add_env_cleanup_hook(env, &HeartbeatSender::CleanupHook, this) == napi_ok) hook_ = true;
  }

  ~HeartbeatSender() override {
    Shutdown();
    pthread_cond_destroy(&cond_);
  }

 private:
  static bool Parse(const std::string& addr, uint16_t port, sockaddr_storage* ss, socklen_t* sl) {
    *ss = sockaddr_storage{};
    auto* v4 = reinterpret_cast<sockaddr_in*>(ss);
    auto* v6 = reinterpret_cast<sockaddr_in6*>(ss);
    if (inet_pton(AF_INET, addr.c_str(), &v4->sin_addr) == 1) {
      v4->sin_family = AF_INET;
      v4->sin_port = htons(port);
      *sl = sizeof(sockaddr_in);
      return true;
    }
    if (inet_pton(AF_INET6, addr.c_str(), &v6->sin6_addr) == 1) {
      v6->sin6_family = AF_INET6;
      v6->sin6_port = htons(port);
      *sl = sizeof(sockaddr_in6);
      return true;
    }
    return false;
  }

  static void CleanupHook(void* arg) {
    auto* self = static_cast<HeartbeatSender*>(arg);
    self->hook_ = false;
    self->Shutdown();
  }

  // Stops and joins the thread, closes the socket. Idempotent.
  void Shutdown() {
    if (thread_on_) {
      pthread_mutex_lock(&mu_);
      stop_ = true;
      pthread_cond_signal(&cond_);
      pthread_mutex_unlock(&mu_);
      pthread_join(thread_, nullptr);
      thread_on_ = false;
    }
    if (fd_ >= 0) {
      ::close(fd_);
      fd_ = -1;
    }
    if (hook_) {
      napi_remove_env_cleanup_hook(Env(), &HeartbeatSender::CleanupHook, this);
      hook_ = false;
    }
  }

  static void* ThreadMain(void* arg) {
    static_cast<HeartbeatSender*>(arg)->Run();
    return nullptr;
  }

  // Sends `len` bytes to every peer; mu_ held.
  void SendAll(const uint8_t* data, size_t len) {
    for (size_t i = 0; i < peers_.size(); i++) {
      const sockaddr_storage& to = peers_[i];
      socklen_t tl = to.ss_family == AF_INET ? sizeof(sockaddr_in) : sizeof(sockaddr_in6);
      if (::sendto(fd_, data, len, MSG_DONTWAIT | MSG_NOSIGNAL, reinterpret_cast<const sockaddr*>(&to), tl) >= 0) {
        sent_++;
        continue;
      }
      int e = errno;
      send_errors_++;
      char host[INET6_ADDRSTRLEN] = "?";
      const void* a = to.ss_family == AF_INET ? static_cast<const void*>(&reinterpret_cast<const sockaddr_in*>(&to)->sin_addr)
                                              : static_cast<const void*>(&reinterpret_cast<const sockaddr_in6*>(&to)->sin6_addr);
      inet_ntop(to.ss_family, a, host, sizeof host);
      char buf[96];
      const char* msg = strerror_r(e, buf, sizeof buf);  // GNU: returns the text (maybe static)
      snprintf(last_error_, sizeof last_error_, "%s: %s", host, msg);
    }
  }

  static timespec At(int64_t ns) {
    timespec ts;
    ts.tv_sec = ns / 1000000000;
    ts.tv_nsec = ns % 1000000000;
    return ts;
  }

  void Run() {
    pthread_mutex_lock(&mu_);
    // The clock starts with the first queue() (as the worker's first tick follows its start): no starved first round.
    while (!stop_ && !leaving_ && !queued_) pthread_cond_wait(&cond_, &mu_);
    int64_t next = MonoNs();
    while (!stop_) {
      if (leaving_) {
        for (size_t i = 0; i < leave_count_ && !stop_; i++) {
          SendAll(leave_[i].data, leave_[i].len);
          timespec until = At(MonoNs() + 10000000);
          while (!stop_ && pthread_cond_timedwait(&cond_, &mu_, &until) != ETIMEDOUT) {
          }
        }
        left_.store(true);
        while (!stop_) pthread_cond_wait(&cond_, &mu_);
        break;
      }
      int64_t now = MonoNs();
      if (now < next) {
        timespec until = At(next);
        pthread_cond_timedwait(&cond_, &mu_, &until);
        continue;  // woken early (stop, leave, queue) or on time: look again
      }
      int64_t drift = (now - next) / 1000000;
      if (drift > window_drift_ms_) window_drift_ms_ = drift;
      rounds_++;
      int64_t seq = last_sent_.load() + 1;
      Slot& s = slots_[static_cast<size_t>(seq) % kSlots];
      if (s.seq == seq) {
        last_sent_.store(seq);
        SendAll(s.data, s.len);
      } else {
        starved_++;
      }
      next += interval_ns_;
      if (next < now) next = now + interval_ns_;
    }
    pthread_mutex_unlock(&mu_);
  }

  static bool Datagram(const Napi::Value& v, const uint8_t** data, size_t* len) {
    if (!v.IsBuffer()) return false;
    auto b = v.As<Napi::Buffer<uint8_t>>();
    if (b.Length() == 0 || b.Length() > kMaxDatagram) return false;
    *data = b.Data();
    *len = b.Length();
    return true;
  }

  Napi::Value Queue(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 2 || !info[0].IsArray() || !info[1].IsArray() ||
        info[0].As<Napi::Array>().Length() != info[1].As<Napi::Array>().Length()) {
      return ThrowType(env, "queue(seqs: number[], bufs: Buffer[]): two arrays of the same length");
    }
    Napi::Array seqs = info[0].As<Napi::Array>(), bufs = info[1].As<Napi::Array>();
    uint32_t n = seqs.Length();
    if (n > kSlots) return ThrowType(env, "queue: at most 64 heartbeats at once");
    for (uint32_t i = 0; i < n; i++) {
      Napi::Value sv = seqs.Get(i);
      const uint8_t* d = nullptr;
      size_t l = 0;
      if (!sv.IsNumber() || sv.As<Napi::Number>().DoubleValue() < 1) return ThrowType(env, "queue: seqs[i] must be a number >= 1");
      if (!Datagram(bufs.Get(i), &d, &l)) return ThrowType(env, "queue: bufs[i] must be a Buffer of 1..1472 bytes");
    }
    pthread_mutex_lock(&mu_);
    int64_t last = last_sent_.load();
    for (uint32_t i = 0; i < n; i++) {
      int64_t seq = static_cast<int64_t>(seqs.Get(i).As<Napi::Number>().DoubleValue());
      if (seq <= last || seq > last + static_cast<int64_t>(kSlots)) continue;
      const uint8_t* d = nullptr;
      size_t l = 0;
      if (!Datagram(bufs.Get(i), &d, &l)) continue;
      Slot& s = slots_[static_cast<size_t>(seq) % kSlots];
      s.seq = seq;
      s.len = static_cast<uint16_t>(l);
      memcpy(s.data, d, l);
    }
    if (!queued_) {
      queued_ = true;
      pthread_cond_signal(&cond_);
    }
    pthread_mutex_unlock(&mu_);
    return env.Undefined();
  }

  Napi::Value SetPeers(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 2 || !info[0].IsArray() || !info[1].IsArray() ||
        info[0].As<Napi::Array>().Length() != info[1].As<Napi::Array>().Length()) {
      return ThrowType(env, "setPeers(addresses: string[], ports: number[]): two arrays of the same length");
    }
    Napi::Array as = info[0].As<Napi::Array>(), ps = info[1].As<Napi::Array>();
    std::vector<sockaddr_storage> peers;
    peers.reserve(as.Length());
    for (uint32_t i = 0; i < as.Length(); i++) {
      Napi::Value a = as.Get(i), p = ps.Get(i);
      double port = p.IsNumber() ? p.As<Napi::Number>().DoubleValue() : -1;
      if (!a.IsString() || !(port >= 1 && port <= 65535 && port == static_cast<int>(port))) {
        return ThrowType(env, "setPeers: addresses[i] must be a string and ports[i] an integer in 1..65535");
      }
      sockaddr_storage ss;
      socklen_t sl;
      std::string text = a.As<Napi::String>().Utf8Value();
      if (!Parse(text, static_cast<uint16_t>(port), &ss, &sl) || ss.ss_family != family_) {
        return ThrowType(env, "setPeers: \"" + text + "\" is not an address of the bind address's family");
      }
      peers.push_back(ss);
    }
    pthread_mutex_lock(&mu_);
    peers_.swap(peers);  // the old vector is freed below, on this thread, outside the lock
    pthread_mutex_unlock(&mu_);
    return env.Undefined();
  }

  Napi::Value Leave(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsArray()) return ThrowType(env, "leave(bufs: Buffer[])");
    Napi::Array bufs = info[0].As<Napi::Array>();
    if (bufs.Length() > kMaxLeave) return ThrowType(env, "leave: at most 8 heartbeats");
    pthread_mutex_lock(&mu_);
    leave_count_ = 0;
    for (uint32_t i = 0; i < bufs.Length(); i++) {
      const uint8_t* d = nullptr;
      size_t l = 0;
      if (!Datagram(bufs.Get(i), &d, &l)) continue;
      leave_[leave_count_].len = static_cast<uint16_t>(l);
      memcpy(leave_[leave_count_].data, d, l);
      leave_count_++;
    }
    leaving_ = true;
    if (!thread_on_) left_.store(true);
    pthread_cond_signal(&cond_);
    pthread_mutex_unlock(&mu_);
    return env.Undefined();
  }

  Napi::Value Stats(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    pthread_mutex_lock(&mu_);
    double sent = static_cast<double>(sent_), errors = static_cast<double>(send_errors_),
           starved = static_cast<double>(starved_), rounds = static_cast<double>(rounds_),
           drift = static_cast<double>(window_drift_ms_);
    window_drift_ms_ = 0;
    std::string last_error(last_error_);
    pthread_mutex_unlock(&mu_);
    Napi::Object o = Napi::Object::New(env);
    o.Set("sent", sent);
    o.Set("sendErrors", errors);
    o.Set("starved", starved);
    o.Set("rounds", rounds);
    o.Set("maxDriftMs", drift);
    o.Set("lastError", last_error);
    return o;
  }

  Napi::Value LastSent(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), static_cast<double>(last_sent_.load()));
  }
  Napi::Value Left(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), left_.load()); }
  Napi::Value Port(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), port_); }
  Napi::Value Close(const Napi::CallbackInfo& info) {
    Shutdown();
    left_.store(true);
    return info.Env().Undefined();
  }

  int fd_ = -1;
  int family_ = AF_INET;
  int port_ = 0;
  int64_t interval_ns_ = 0;
  pthread_t thread_{};
  bool thread_on_ = false;
  bool hook_ = false;
  pthread_mutex_t mu_ = PTHREAD_MUTEX_INITIALIZER;
  pthread_cond_t cond_;
  // guarded by mu_:
  bool stop_ = false;
  bool leaving_ = false;
  bool queued_ = false;
  std::vector<Slot> slots_;
  std::vector<sockaddr_storage> peers_;
  struct LeaveItem {
    uint16_t len = 0;
    uint8_t data[kMaxDatagram];
  } leave_[kMaxLeave];
  size_t leave_count_ = 0;
  uint64_t sent_ = 0, send_errors_ = 0, starved_ = 0, rounds_ = 0;
  int64_t window_drift_ms_ = 0;
  char last_error_[160] = "";
  // read without the lock:
  std::atomic<int64_t> last_sent_{0};
  std::atomic<bool> left_{false};
};

}  // namespace

Napi::Object InitHeartbeatSender(Napi::Env env, Napi::Object exports) {
  exports.Set("HeartbeatSender", HeartbeatSender::Define(env));
  return exports;
}

}  // namespace berth
