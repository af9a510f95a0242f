// arpLoad(options): Promise<result> — a native ARP request generator for the benches (bench/failover-arp-load.ts
// --requester native): it runs on a thread of its own (an AsyncWorker of libuv's pool), so neither the JS event
// loop nor V8 stands between a request and the wire, and it costs a small fraction of the JS requester's CPU.
//
// Sockets (packet(7)):
// - tx: AF_PACKET SOCK_RAW bound to (ifindex, protocol 0): it sends, and receives nothing.
// - tap: AF_PACKET SOCK_RAW bound to (ifindex, ETH_P_ALL) with a classic BPF filter passing EtherType 0x0806 only and
//   SO_TIMESTAMPNS. Only ETH_P_ALL taps get copies of outgoing frames (dev_queue_xmit_nit walks ptype_all), and a
//   packet socket never gets its own frames, so this second socket sees every request as it leaves for the driver
//   (sll_pkttype PACKET_OUTGOING), stamped by the kernel there, and every reply as the interface receives it, stamped
//   by the kernel too: what `tcpdump -i IFNAME arp` prints. `wire` = reply stamp − request stamp.
// Requests are RFC 826 ARP requests for `target` (every `referenceEvery`-th one for `reference` instead, when given),
// sent in paced sendmmsg(2) batches: at each tick (every `tickMicros`) as many as are due at `rate` per second. A
// reply is matched to its request as bench/failover-arp-load.ts does it:
// - match 'sha': request n carries ar$sha 02:00:nn:nn:nn:nn and ar$spa 198.51.100.30 (the reference's ar$spa is
//   198.51.100.1); the reply's ar$tha names it. For a veth pair only (a bridge floods replies to unknown MACs).
// - match 'spa': ar$sha is the interface's MAC, ar$spa rotates over 192.0.2.0/24, 198.51.100.30-199 and
//   203.0.113.0/24 (the target and reference left out); a reply goes to the latest request from its ar$tpa.
// Between ticks the thread sleeps in ppoll(2) on the tap and drains it with recvmmsg(2).
// After the last request it waits `graceMs` for replies; replies in the next 50 ms count as `late` (and their
// requests as lost). Errors: TypeError naming the option and its rule; system errors (EPERM without CAP_NET_RAW,
// ENODEV) reject with a SystemError (code, errno, syscall, ifname).
#include <arpa/inet.h>
#include <errno.h>
#include <linux/filter.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <unordered_map>
#include <vector>

#include "common.h"

namespace berth {

namespace {

constexpr size_t kFrame = 42;              // Ethernet + ARP, unpadded (the driver pads)
constexpr unsigned kMaxSendBatch = 1024;   // sendmmsg vlen per call (UIO_MAXIOV)
constexpr unsigned kRecvBatch = 64;        // recvmmsg vlen
constexpr double kMaxRequests = 20e6;      // per run: 2 × 8 bytes of bookkeeping each
constexpr unsigned kLateMs = 50;

double RealtimeMicros() {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<double>(ts.tv_sec) * 1e6 + static_cast<double>(ts.tv_nsec) / 1e3;
}

// Nanoseconds this thread has waited on a run queue (runnable, not running): /proc/thread-self/schedstat field 2
// (Documentation/scheduler/sched-stats.rst); -1 when unreadable.
double RunQueueWaitNs() {
  FILE* f = std::fopen("/proc/thread-self/schedstat", "r");
  if (f == nullptr) return -1;
  unsigned long long run = 0, wait = 0;
  int n = std::fscanf(f, "%llu %llu", &run, &wait);
  std::fclose(f);
  return n == 2 ? static_cast<double>(wait) : -1;
}

double MonotonicMicros() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) * 1e6 + static_cast<double>(ts.tv_nsec) / 1e3;
}

struct Config {
  std::string ifname;
  uint32_t target = 0;     // network order
  uint32_t reference = 0;  // network order; 0: none
  unsigned every = 10;
  bool by_sha = false;
  double rate = 0;
  double seconds = 0;
  double tick_us = 1000;
  double grace_ms = 200;
};

struct Series {
  std::vector<double> wire;  // µs: request on the wire → reply on the wire (both kernel stamps)
  std::vector<double> send;  // µs: clock read just before sendmmsg → reply's kernel stamp
  std::vector<double> read;  // µs: clock read just before sendmmsg → the thread read the reply (recvmmsg return)
  uint64_t replies = 0;
  uint64_t asked = 0;
};

class ArpLoadWorker : public Napi::AsyncWorker {
 public:
  ArpLoadWorker(Napi::Env env, Config c)
      : Napi::AsyncWorker(env, "berth:arpLoad"), c_(std::move(c)), deferred_(Napi::Promise::Deferred::New(env)) {}
  ~ArpLoadWorker() override {
    if (tx_ >= 0) ::close(tx_);
    if (tap_ >= 0) ::close(tap_);
  }
  Napi::Promise Promise() { return deferred_.Promise(); }

  void Execute() override {
    struct rusage ru0;
    getrusage(RUSAGE_THREAD, &ru0);
    double wait0 = RunQueueWaitNs();
    if (!Open()) return;
    Run();
    struct rusage ru1;
    getrusage(RUSAGE_THREAD, &ru1);
    auto us = [](const struct timeval& a, const struct timeval& b) {
      return static_cast<double>(b.tv_sec - a.tv_sec) * 1e6 + static_cast<double>(b.tv_usec - a.tv_usec);
    };
    cpu_user_us_ = us(ru0.ru_utime, ru1.ru_utime);
    cpu_sys_us_ = us(ru0.ru_stime, ru1.ru_stime);
    double wait1 = RunQueueWaitNs();
    wait_us_ = wait0 < 0 || wait1 < 0 ? -1 : (wait1 - wait0) / 1e3;
    switches_ = static_cast<double>(ru1.ru_nvcsw - ru0.ru_nvcsw + ru1.ru_nivcsw - ru0.ru_nivcsw);
    struct tpacket_stats st;
    socklen_t len = sizeof st;
    if (getsockopt(tap_, SOL_PACKET, PACKET_STATISTICS, &st, &len) == 0) kernel_drops_ = st.tp_drops;
  }

  void OnOK() override {
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    if (err_ != 0) {
      deferred_.Reject(SystemError(env, err_, err_call_, c_.ifname).Value());
      return;
    }
    Napi::Object r = Napi::Object::New(env);
    r.Set("sent", Napi::Number::New(env, static_cast<double>(sent_)));
    r.Set("requestsSeen", Napi::Number::New(env, static_cast<double>(requests_seen_)));
    r.Set("unmatched", Napi::Number::New(env, static_cast<double>(unmatched_)));
    r.Set("late", Napi::Number::New(env, static_cast<double>(late_)));
    r.Set("noRequestStamp", Napi::Number::New(env, static_cast<double>(no_request_stamp_)));
    r.Set("sendStalls", Napi::Number::New(env, static_cast<double>(send_stalls_)));
    r.Set("seconds", Napi::Number::New(env, elapsed_s_));
    r.Set("kernelDrops", Napi::Number::New(env, static_cast<double>(kernel_drops_)));
    r.Set("cpuUserMicros", Napi::Number::New(env, cpu_user_us_));
    r.Set("cpuSystemMicros", Napi::Number::New(env, cpu_sys_us_));
    r.Set("runQueueWaitMicros", Napi::Number::New(env, wait_us_));
    r.Set("contextSwitches", Napi::Number::New(env, switches_));
    r.Set("main", SeriesObject(env, main_));
    if (c_.reference != 0) r.Set("reference", SeriesObject(env, ref_));
    deferred_.Resolve(r);
  }

  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  static Napi::Object SeriesObject(Napi::Env env, const Series& s) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("asked", Napi::Number::New(env, static_cast<double>(s.asked)));
    o.Set("replies", Napi::Number::New(env, static_cast<double>(s.replies)));
    Napi::Float64Array wire = Napi::Float64Array::New(env, s.wire.size());
    if (!s.wire.empty()) std::memcpy(wire.Data(), s.wire.data(), s.wire.size() * sizeof(double));
    Napi::Float64Array send = Napi::Float64Array::New(env, s.send.size());
    if (!s.send.empty()) std::memcpy(send.Data(), s.send.data(), s.send.size() * sizeof(double));
    Napi::Float64Array read = Napi::Float64Array::New(env, s.read.size());
    if (!s.read.empty()) std::memcpy(read.Data(), s.read.data(), s.read.size() * sizeof(double));
    o.Set("wireMicros", wire);
    o.Set("sendMicros", send);
    o.Set("readMicros", read);
    return o;
  }

  bool Fail(int err, const char* call) {
    err_ = err;
    err_call_ = call;
    return false;
  }

  bool Open() {
    unsigned ifindex = if_nametoindex(c_.ifname.c_str());
    if (ifindex == 0) return Fail(errno == ENXIO ? ENODEV : errno, "if_nametoindex");
    tx_ = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
    if (tx_ < 0) return Fail(errno, "socket");
    struct ifreq ifr;
    std::memset(&ifr, 0, sizeof ifr);
    std::strncpy(ifr.ifr_name, c_.ifname.c_str(), IFNAMSIZ - 1);
    if (ioctl(tx_, SIOCGIFHWADDR, &ifr) < 0) return Fail(errno, "ioctl(SIOCGIFHWADDR)");
    std::memcpy(mac_, ifr.ifr_hwaddr.sa_data, 6);
    struct sockaddr_ll sll;
    std::memset(&sll, 0, sizeof sll);
    sll.sll_family = AF_PACKET;
    sll.sll_protocol = 0;  // send only
    sll.sll_ifindex = static_cast<int>(ifindex);
    if (bind(tx_, reinterpret_cast<struct sockaddr*>(&sll), sizeof sll) < 0) return Fail(errno, "bind");

    tap_ = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);  // protocol 0: nothing queued before bind
    if (tap_ < 0) return Fail(errno, "socket");
    static struct sock_filter arp_only[] = {
        {BPF_LD | BPF_H | BPF_ABS, 0, 0, 12},
        {BPF_JMP | BPF_JEQ | BPF_K, 0, 1, ETHERTYPE_ARP},
        {BPF_RET | BPF_K, 0, 0, 0xffff},
        {BPF_RET | BPF_K, 0, 0, 0},
    };
    struct sock_fprog prog = {static_cast<unsigned short>(sizeof arp_only / sizeof arp_only[0]), arp_only};
    if (setsockopt(tap_, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof prog) < 0)
      return Fail(errno, "setsockopt(SO_ATTACH_FILTER)");
    int one = 1;
    if (setsockopt(tap_, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof one) < 0)
      return Fail(errno, "setsockopt(SO_TIMESTAMPNS)");
    int rcvbuf = 16 << 20;  // beyond rmem_max with CAP_NET_ADMIN; else what rmem_max allows
    if (setsockopt(tap_, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf) < 0)
      setsockopt(tap_, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    sll.sll_protocol = htons(ETH_P_ALL);
    if (bind(tap_, reinterpret_cast<struct sockaddr*>(&sll), sizeof sll) < 0) return Fail(errno, "bind");
    return true;
  }

  // The ar$spa rotation of match 'spa' (bench/failover-arp-load.ts's SPA list): documentation ranges, without the
  // target and the reference.
  void BuildSpaList() {
    auto add = [&](uint32_t host_order) {
      uint32_t n = htonl(host_order);
      if (n == c_.target || n == c_.reference) return;
      spa_index_[n] = static_cast<unsigned>(spa_.size());
      spa_.push_back(n);
    };
    for (uint32_t i = 0; i < 256; i++) add(0xc0000200u + i);      // 192.0.2.0/24
    for (uint32_t i = 0; i < 170; i++) add(0xc6336400u + 30 + i);  // 198.51.100.30-199
    for (uint32_t i = 0; i < 256; i++) add(0xcb007100u + i);      // 203.0.113.0/24
    last_seq_.assign(spa_.size(), -1);
  }

  bool IsRef(uint64_t seq) const { return c_.reference != 0 && seq % c_.every == c_.every - 1; }

  void BuildRequest(uint64_t seq, uint8_t* f) {
    static const uint8_t kHead[10] = {0x08, 0x06, 0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01};
    std::memset(f, 0xff, 6);
    std::memcpy(f + 6, mac_, 6);
    std::memcpy(f + 12, kHead, 10);
    std::memcpy(f + 22, mac_, 6);
    std::memset(f + 32, 0, 6);
    bool ref = IsRef(seq);
    uint32_t tpa = ref ? c_.reference : c_.target;
    std::memcpy(f + 38, &tpa, 4);
    if (c_.by_sha) {
      f[22] = 0x02;
      f[23] = 0x00;
      uint32_t s = htonl(static_cast<uint32_t>(seq));
      std::memcpy(f + 24, &s, 4);
      uint32_t spa = ref ? htonl(0xc6336401u) : htonl(0xc633641eu);  // 198.51.100.1 / 198.51.100.30
      std::memcpy(f + 28, &spa, 4);
    } else {
      size_t i = seq % spa_.size();
      std::memcpy(f + 28, &spa_[i], 4);
      last_seq_[i] = static_cast<int64_t>(seq);
    }
  }

  // The request a frame's key names: ar$sha (requests) / ar$tha (replies) in 'sha', ar$spa / ar$tpa in 'spa'.
  int64_t SeqOf(const uint8_t* hw, const uint8_t* ip) const {
    if (c_.by_sha) {
      if (hw[0] != 0x02 || hw[1] != 0x00) return -1;
      uint32_t s;
      std::memcpy(&s, hw + 2, 4);
      return static_cast<int64_t>(ntohl(s));
    }
    uint32_t a;
    std::memcpy(&a, ip, 4);
    auto it = spa_index_.find(a);
    return it == spa_index_.end() ? -1 : last_seq_[it->second];
  }

  void OnFrame(const uint8_t* f, size_t len, bool outgoing, double stamp, double read_at, bool collecting) {
    static const uint8_t kArpHead[6] = {0x00, 0x01, 0x08, 0x00, 0x06, 0x04};
    if (len < kFrame || f[12] != 0x08 || f[13] != 0x06 || std::memcmp(f + 14, kArpHead, 6) != 0) return;
    uint16_t op = static_cast<uint16_t>(f[20] << 8 | f[21]);
    if (outgoing) {
      if (op != 1 || std::memcmp(f + 6, mac_, 6) != 0) return;
      uint32_t tpa;
      std::memcpy(&tpa, f + 38, 4);
      if (tpa != c_.target && (c_.reference == 0 || tpa != c_.reference)) return;
      int64_t seq = SeqOf(f + 22, f + 28);
      if (seq < 0 || static_cast<uint64_t>(seq) >= sent_) return;
      if (tx_stamp_[seq] == 0) {
        tx_stamp_[seq] = stamp;
        requests_seen_++;
      }
      return;
    }
    if (op != 2) return;
    uint32_t spa;
    std::memcpy(&spa, f + 28, 4);
    bool ref;
    if (spa == c_.target)
      ref = false;
    else if (c_.reference != 0 && spa == c_.reference)
      ref = true;
    else
      return;
    int64_t seq = SeqOf(f + 32, f + 38);
    if (seq < 0 || static_cast<uint64_t>(seq) >= sent_ || send_stamp_[seq] == 0 || IsRef(seq) != ref) {
      unmatched_++;
      return;
    }
    double sent_at = send_stamp_[seq];
    double tx_at = tx_stamp_[seq];
    send_stamp_[seq] = 0;  // answered
    if (!collecting) {
      late_++;
      return;
    }
    Series& s = ref ? ref_ : main_;
    s.replies++;
    s.send.push_back(stamp - sent_at);
    s.read.push_back(read_at - sent_at);
    if (tx_at > 0)
      s.wire.push_back(stamp - tx_at);
    else
      no_request_stamp_++;
  }

  // Drains the tap (recvmmsg until EAGAIN). False on a receive error (err_ set).
  bool Drain(bool collecting) {
    for (;;) {
      int n = recvmmsg(tap_, rmsgs_, kRecvBatch, MSG_DONTWAIT, nullptr);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return true;
        if (errno == ENETDOWN) return true;  // reported by the counts (lost requests)
        return Fail(errno, "recvmmsg");
      }
      double read_at = RealtimeMicros();
      for (int i = 0; i < n; i++) {
        double stamp = 0;
        for (struct cmsghdr* cm = CMSG_FIRSTHDR(&rmsgs_[i].msg_hdr); cm != nullptr;
             cm = CMSG_NXTHDR(&rmsgs_[i].msg_hdr, cm)) {
          if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_TIMESTAMPNS) {
            struct timespec ts;
            std::memcpy(&ts, CMSG_DATA(cm), sizeof ts);
            stamp = static_cast<double>(ts.tv_sec) * 1e6 + static_cast<double>(ts.tv_nsec) / 1e3;
          }
        }
        if (stamp == 0) stamp = read_at;
        OnFrame(rbuf_[i], rmsgs_[i].msg_len, rfrom_[i].sll_pkttype == PACKET_OUTGOING, stamp, read_at, collecting);
      }
      if (n < static_cast<int>(kRecvBatch)) return true;
    }
  }

  void PrepareRecv() {
    for (unsigned i = 0; i < kRecvBatch; i++) {
      riov_[i].iov_base = rbuf_[i];
      riov_[i].iov_len = sizeof rbuf_[i];
      std::memset(&rmsgs_[i], 0, sizeof rmsgs_[i]);
      rmsgs_[i].msg_hdr.msg_iov = &riov_[i];
      rmsgs_[i].msg_hdr.msg_iovlen = 1;
      rmsgs_[i].msg_hdr.msg_name = &rfrom_[i];
      rmsgs_[i].msg_hdr.msg_namelen = sizeof rfrom_[i];
      rmsgs_[i].msg_hdr.msg_control = rctl_[i];
      rmsgs_[i].msg_hdr.msg_controllen = sizeof rctl_[i];
    }
  }

  void ResetRecv() {
    for (unsigned i = 0; i < kRecvBatch; i++) {
      rmsgs_[i].msg_hdr.msg_namelen = sizeof rfrom_[i];
      rmsgs_[i].msg_hdr.msg_controllen = sizeof rctl_[i];
    }
  }

  void Run() {
    uint64_t total = static_cast<uint64_t>(std::llround(c_.rate * c_.seconds));
    send_stamp_.assign(total, 0);
    tx_stamp_.assign(total, 0);
    if (!c_.by_sha) BuildSpaList();
    std::vector<uint8_t> frames(static_cast<size_t>(kMaxSendBatch) * kFrame);
    std::vector<struct iovec> iov(kMaxSendBatch);
    std::vector<struct mmsghdr> msgs(kMaxSendBatch);
    for (unsigned i = 0; i < kMaxSendBatch; i++) {
      iov[i].iov_base = frames.data() + static_cast<size_t>(i) * kFrame;
      iov[i].iov_len = kFrame;
      std::memset(&msgs[i], 0, sizeof msgs[i]);
      msgs[i].msg_hdr.msg_iov = &iov[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
    }
    PrepareRecv();
    main_.wire.reserve(total);
    main_.send.reserve(total);
    main_.read.reserve(total);
    const double start = MonotonicMicros();
    double next_tick = start;
    double grace_end = 0, late_end = 0;
    for (;;) {
      double now = MonotonicMicros();
      if (sent_ < total && now >= next_tick) {
        uint64_t due = std::min<uint64_t>(total, static_cast<uint64_t>((now - start) / 1e6 * c_.rate));
        while (sent_ < due) {
          // 'spa': at most half the rotation per call, drained between calls, so a request's outgoing copy is read
          // before a later request reuses its ar$spa.
          uint64_t cap = c_.by_sha ? kMaxSendBatch : std::min<uint64_t>(kMaxSendBatch, spa_.size() / 2);
          unsigned n = static_cast<unsigned>(std::min<uint64_t>(due - sent_, cap));
          for (unsigned i = 0; i < n; i++) BuildRequest(sent_ + i, frames.data() + static_cast<size_t>(i) * kFrame);
          double t = RealtimeMicros();
          for (unsigned i = 0; i < n; i++) send_stamp_[sent_ + i] = t;
          int k;
          do {
            k = sendmmsg(tx_, msgs.data(), n, MSG_DONTWAIT);
          } while (k < 0 && errno == EINTR);
          if (k < 0 && errno != EAGAIN && errno != ENOBUFS && errno != EWOULDBLOCK) {
            Fail(errno, "sendmmsg");
            return;
          }
          if (k < 0) k = 0;
          for (unsigned i = static_cast<unsigned>(k); i < n; i++) send_stamp_[sent_ + i] = 0;
          sent_ += static_cast<uint64_t>(k);
          if (static_cast<unsigned>(k) < n) {
            send_stalls_++;  // queue full: the rest at the next tick (their spa slots are rewritten then)
            break;
          }
          if (sent_ < due) {
            ResetRecv();
            if (!Drain(true)) return;
          }
        }
        next_tick += c_.tick_us;
        if (next_tick < now) next_tick = now + c_.tick_us / 2;  // behind (preempted): no catch-up burst of ticks
        if (sent_ >= total) {
          elapsed_s_ = (MonotonicMicros() - start) / 1e6;
          grace_end = MonotonicMicros() + c_.grace_ms * 1000;
          late_end = grace_end + kLateMs * 1000;
        }
      }
      bool collecting = grace_end == 0 || now < grace_end;
      if (late_end != 0 && now >= late_end) break;
      double until = sent_ < total ? next_tick : (collecting ? grace_end : late_end);
      double wait = until - MonotonicMicros();
      struct timespec ts;
      if (wait < 0) wait = 0;
      ts.tv_sec = static_cast<time_t>(wait / 1e6);
      ts.tv_nsec = static_cast<long>((wait - static_cast<double>(ts.tv_sec) * 1e6) * 1e3);
      struct pollfd p = {tap_, POLLIN, 0};
      int pr = ppoll(&p, 1, &ts, nullptr);
      if (pr < 0 && errno != EINTR) {
        Fail(errno, "ppoll");
        return;
      }
      if (pr > 0) {
        ResetRecv();
        if (!Drain(collecting)) return;
      }
    }
    for (uint64_t s = 0; s < sent_; s++) (IsRef(s) ? ref_ : main_).asked++;
  }

  Config c_;
  Napi::Promise::Deferred deferred_;
  int tx_ = -1, tap_ = -1;
  uint8_t mac_[6] = {0, 0, 0, 0, 0, 0};
  int err_ = 0;
  const char* err_call_ = "";
  std::vector<double> send_stamp_, tx_stamp_;  // per request: realtime µs (0: not sent / answered; not seen)
  std::vector<uint32_t> spa_;
  std::unordered_map<uint32_t, unsigned> spa_index_;
  std::vector<int64_t> last_seq_;
  Series main_, ref_;
  uint64_t sent_ = 0, requests_seen_ = 0, unmatched_ = 0, late_ = 0, no_request_stamp_ = 0, send_stalls_ = 0;
  uint64_t kernel_drops_ = 0;
  double elapsed_s_ = 0, cpu_user_us_ = 0, cpu_sys_us_ = 0, wait_us_ = -1, switches_ = 0;
  uint8_t rbuf_[kRecvBatch][128];
  uint8_t rctl_[kRecvBatch][CMSG_SPACE(sizeof(struct timespec)) + 64];
  struct sockaddr_ll rfrom_[kRecvBatch];
  struct iovec riov_[kRecvBatch];
  struct mmsghdr rmsgs_[kRecvBatch];
};

bool ParseIPv4(Napi::Value v, uint32_t* out) {
  if (!v.IsString()) return false;
  struct in_addr a;
  if (inet_pton(AF_INET, v.As<Napi::String>().Utf8Value().c_str(), &a) != 1) return false;
  *out = a.s_addr;
  return true;
}

double NumberOr(Napi::Object o, const char* key, double fallback, bool* bad) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined()) return fallback;
  if (!v.IsNumber()) {
    *bad = true;
    return 0;
  }
  return v.As<Napi::Number>().DoubleValue();
}

// arpLoad({ ifname, target, rate, seconds, match?, reference?, referenceEvery?, tickMicros?, graceMs? }): Promise.
Napi::Value ArpLoad(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsObject()) return ThrowType(env, "arpLoad(options): options must be an object");
  Napi::Object o = info[0].As<Napi::Object>();
  Config c;
  Napi::Value ifname = o.Get("ifname");
  if (!ifname.IsString()) return ThrowType(env, "arpLoad: ifname must be a string");
  c.ifname = ifname.As<Napi::String>().Utf8Value();
  if (c.ifname.empty() || c.ifname.size() >= IFNAMSIZ || c.ifname.find('/') != std::string::npos)
    return ThrowType(env, "arpLoad: ifname \"" + c.ifname + "\" is invalid: 1.." + std::to_string(IFNAMSIZ - 1) +
                              " characters without '/'");
  if (!ParseIPv4(o.Get("target"), &c.target) || c.target == 0)
    return ThrowType(env, "arpLoad: target must be an IPv4 address (dotted quad, not 0.0.0.0)");
  Napi::Value ref = o.Get("reference");
  if (!ref.IsUndefined() && (!ParseIPv4(ref, &c.reference) || c.reference == 0 || c.reference == c.target))
    return ThrowType(env, "arpLoad: reference must be an IPv4 address other than the target");
  bool bad = false;
  c.rate = NumberOr(o, "rate", -1, &bad);
  c.seconds = NumberOr(o, "seconds", -1, &bad);
  double every = NumberOr(o, "referenceEvery", 10, &bad);
  c.tick_us = NumberOr(o, "tickMicros", 1000, &bad);
  c.grace_ms = NumberOr(o, "graceMs", 200, &bad);
  if (bad) return ThrowType(env, "arpLoad: rate, seconds, referenceEvery, tickMicros and graceMs must be numbers");
  if (!(c.rate > 0 && c.rate <= 1e6)) return ThrowType(env, "arpLoad: rate " + std::to_string(c.rate) + " must be in (0, 1000000] requests/s");
  if (!(c.seconds > 0) || c.rate * c.seconds > kMaxRequests || std::llround(c.rate * c.seconds) < 1)
    return ThrowType(env, "arpLoad: seconds " + std::to_string(c.seconds) +
                              " must be > 0, with rate × seconds in 1..20,000,000 requests");
  if (!(every >= 2 && every <= 1e6 && every == std::floor(every)))
    return ThrowType(env, "arpLoad: referenceEvery " + std::to_string(every) + " must be an integer in 2..1000000");
  c.every = static_cast<unsigned>(every);
  if (!(c.tick_us >= 10 && c.tick_us <= 1e6))
    return ThrowType(env, "arpLoad: tickMicros " + std::to_string(c.tick_us) + " must be in 10..1000000");
  if (!(c.grace_ms >= 0 && c.grace_ms <= 60000))
    return ThrowType(env, "arpLoad: graceMs " + std::to_string(c.grace_ms) + " must be in 0..60000");
  Napi::Value match = o.Get("match");
  std::string m = match.IsUndefined() ? "spa" : (match.IsString() ? match.As<Napi::String>().Utf8Value() : "?");
  if (m != "spa" && m != "sha") return ThrowType(env, "arpLoad: match \"" + m + "\" is invalid: \"spa\" or \"sha\"");
  c.by_sha = m == "sha";
  if (c.reference != 0 && !c.by_sha) return ThrowType(env, "arpLoad: reference needs match \"sha\"");
  auto* w = new ArpLoadWorker(env, std::move(c));
  Napi::Promise p = w->Promise();
  w->Queue();
  return p;
}

}  // namespace

Napi::Object InitArpLoad(Napi::Env env, Napi::Object exports) {
  exports.Set("arpLoad", Napi::Function::New(env, ArpLoad, "arpLoad"));
  return exports;
}

}  // namespace berth
