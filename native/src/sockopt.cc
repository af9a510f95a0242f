// TCP socket options the BGP session needs on sockets Node owns: TCP_MD5SIG(_EXT) (RFC 2385) and SO_BINDTODEVICE
// (VRF), plus a bare TCP socket (tcpSocket) so a key can be set before connect(): Linux drops a SYN that should be
// signed and is not, so an active session must carry its key from the first segment. tcp(7), socket(7).
#include <arpa/inet.h>
#include <errno.h>
#include <linux/filter.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <vector>

#include "common.h"

namespace berth {

static bool FdArg(const Napi::CallbackInfo& info, size_t i, int* fd) {
  if (info.Length() <= i || !info[i].IsNumber()) return false;
  double d = info[i].As<Napi::Number>().DoubleValue();
  if (!(d >= 0 && d <= 2147483647) || d != static_cast<int>(d)) return false;
  *fd = static_cast<int>(d);
  return true;
}

// setTcpMd5Sig(fd: number, address: string, prefixLength: number /* -1: none */, key: Buffer /* empty: delete */)
// The address family follows the socket's: an IPv4 peer on an IPv6 socket is set as ::ffff:a.b.c.d, as the kernel
// requires (tcp_v6_parse_md5_keys).
static Napi::Value SetTcpMd5Sig(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd;
  if (!FdArg(info, 0, &fd) || info.Length() < 4 || !info[1].IsString() || !info[2].IsNumber() || !info[3].IsBuffer())
    return ThrowType(env, "setTcpMd5Sig(fd: int, address: string, prefixLength: int, key: Buffer)");
  std::string address = info[1].As<Napi::String>().Utf8Value();
  int prefix = info[2].As<Napi::Number>().Int32Value();
  Napi::Buffer<uint8_t> key = info[3].As<Napi::Buffer<uint8_t>>();
  if (key.Length() > TCP_MD5SIG_MAXKEYLEN)
    return ThrowType(env, "TCP MD5 key must be at most " + std::to_string(TCP_MD5SIG_MAXKEYLEN) + " bytes");

  struct sockaddr_storage local;
  socklen_t locallen = sizeof local;
  std::memset(&local, 0, sizeof local);
  if (getsockname(fd, reinterpret_cast<struct sockaddr*>(&local), &locallen) < 0) {
    SystemError(env, errno, "getsockname").ThrowAsJavaScriptException();
    return Napi::Value();
  }
  struct tcp_md5sig md5;
  std::memset(&md5, 0, sizeof md5);
  struct in_addr v4;
  struct in6_addr v6;
  bool is4 = inet_pton(AF_INET, address.c_str(), &v4) == 1;
  bool is6 = !is4 && inet_pton(AF_INET6, address.c_str(), &v6) == 1;
  if (!is4 && !is6) return ThrowType(env, "TCP MD5 peer address \"" + address + "\" is not an IPv4 or IPv6 address");
  if (prefix > (is4 ? 32 : 128)) return ThrowType(env, "TCP MD5 prefix length out of range for " + address);
  if (local.ss_family == AF_INET6) {
    auto* sin6 = reinterpret_cast<struct sockaddr_in6*>(&md5.tcpm_addr);
    sin6->sin6_family = AF_INET6;
    if (is4) {
      sin6->sin6_addr.s6_addr[10] = 0xff;
      sin6->sin6_addr.s6_addr[11] = 0xff;
      std::memcpy(&sin6->sin6_addr.s6_addr[12], &v4, 4);
    } else {
      sin6->sin6_addr = v6;
    }
  } else if (local.ss_family == AF_INET) {
    if (!is4) return ThrowType(env, "TCP MD5 peer " + address + " is IPv6 but the socket is IPv4");
    auto* sin = reinterpret_cast<struct sockaddr_in*>(&md5.tcpm_addr);
    sin->sin_family = AF_INET;
    sin->sin_addr = v4;
  } else {
    SystemError(env, EAFNOSUPPORT, "setsockopt(TCP_MD5SIG)").ThrowAsJavaScriptException();
    return Napi::Value();
  }
  int optname = TCP_MD5SIG;
  if (prefix >= 0) {
    optname = TCP_MD5SIG_EXT;
    md5.tcpm_flags = TCP_MD5SIG_FLAG_PREFIX;
    md5.tcpm_prefixlen = static_cast<uint8_t>(prefix);
  }
  md5.tcpm_keylen = static_cast<uint16_t>(key.Length());
  std::memcpy(md5.tcpm_key, key.Data(), key.Length());
  if (setsockopt(fd, IPPROTO_TCP, optname, &md5, sizeof md5) < 0) {
    int err = errno;
    // Deleting a key that was never set is not an error for the caller.
    if (key.Length() == 0 && err == ENOENT) return env.Undefined();
    SystemError(env, err, optname == TCP_MD5SIG ? "setsockopt(TCP_MD5SIG)" : "setsockopt(TCP_MD5SIG_EXT)")
        .ThrowAsJavaScriptException();
    return Napi::Value();
  }
  return env.Undefined();
}

// bindToDevice(fd: number, ifname: string /* '' unbinds */)
static Napi::Value BindToDevice(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd;
  if (!FdArg(info, 0, &fd) || info.Length() < 2 || !info[1].IsString())
    return ThrowType(env, "bindToDevice(fd: int, ifname: string)");
  std::string ifname = info[1].As<Napi::String>().Utf8Value();
  if (ifname.size() >= IFNAMSIZ)
    return ThrowType(env, "interface name \"" + ifname + "\" is longer than " + std::to_string(IFNAMSIZ - 1));
  if (setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, ifname.c_str(), static_cast<socklen_t>(ifname.size())) < 0) {
    SystemError(env, errno, "setsockopt(SO_BINDTODEVICE)", ifname).ThrowAsJavaScriptException();
    return Napi::Value();
  }
  return env.Undefined();
}

// setMinTtl(fd: number, family: 4 | 6, ttl: number /* 0..255, 0 = off */): IP_MINTTL / IPV6_MINHOPCOUNT, the kernel
// drops received TCP segments whose TTL / hop limit is lower (GTSM, RFC 5082). Linux applies it to TCP only: UDP
// datagrams are delivered whatever their TTL (checked on 6.18), so it cannot do BFD's RFC 5881 §5 check.
static Napi::Value SetMinTtl(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd;
  if (!FdArg(info, 0, &fd) || info.Length() < 3 || !info[1].IsNumber() || !info[2].IsNumber())
    return ThrowType(env, "setMinTtl(fd: int, family: 4 | 6, ttl: int)");
  int family = info[1].As<Napi::Number>().Int32Value();
  int ttl = info[2].As<Napi::Number>().Int32Value();
  if (family != 4 && family != 6) return ThrowType(env, "setMinTtl: family must be 4 or 6");
  if (ttl < 0 || ttl > 255) return ThrowType(env, "setMinTtl: ttl must be in 0..255");
  int rc = family == 4 ? setsockopt(fd, IPPROTO_IP, IP_MINTTL, &ttl, sizeof ttl)
                       : setsockopt(fd, IPPROTO_IPV6, IPV6_MINHOPCOUNT, &ttl, sizeof ttl);
  if (rc < 0) {
    SystemError(env, errno, family == 4 ? "setsockopt(IP_MINTTL)" : "setsockopt(IPV6_MINHOPCOUNT)")
        .ThrowAsJavaScriptException();
    return Napi::Value();
  }
  return env.Undefined();
}

// setTtl(fd: number, family: 4 | 6, ttl: number /* 1..255 */): IP_TTL / IPV6_UNICAST_HOPS of what the socket sends
// (GTSM senders use 255, RFC 5082; a directly connected eBGP session 1).
static Napi::Value SetTtl(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd;
  if (!FdArg(info, 0, &fd) || info.Length() < 3 || !info[1].IsNumber() || !info[2].IsNumber())
    return ThrowType(env, "setTtl(fd: int, family: 4 | 6, ttl: int)");
  int family = info[1].As<Napi::Number>().Int32Value();
  int ttl = info[2].As<Napi::Number>().Int32Value();
  if (family != 4 && family != 6) return ThrowType(env, "setTtl: family must be 4 or 6");
  if (ttl < 1 || ttl > 255) return ThrowType(env, "setTtl: ttl must be in 1..255");
  int rc = family == 4 ? setsockopt(fd, IPPROTO_IP, IP_TTL, &ttl, sizeof ttl)
                       : setsockopt(fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS, &ttl, sizeof ttl);
  if (rc < 0) {
    SystemError(env, errno, family == 4 ? "setsockopt(IP_TTL)" : "setsockopt(IPV6_UNICAST_HOPS)")
        .ThrowAsJavaScriptException();
    return Napi::Value();
  }
  return env.Undefined();
}

// attachSocketFilter(fd: number, program: Buffer /* struct sock_filter[] in host order; empty: detach */,
//                    drain?: boolean): number
// SO_ATTACH_FILTER on any socket fd Node owns, e.g. BFD's UDP sockets, where IP_MINTTL does not apply: a classic BPF
// program reading the TTL / hop limit at SKF_NET_OFF drops datagrams in the kernel (RFC 5881 §5). socket(7).
// The filter only sees what arrives after it: with `drain` (datagram sockets only) what was queued before is read and
// discarded (recv MSG_DONTWAIT until EAGAIN), so nothing unfiltered is ever delivered. Returns how many were discarded.
static Napi::Value AttachSocketFilter(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd;
  if (!FdArg(info, 0, &fd) || info.Length() < 2 || !info[1].IsBuffer())
    return ThrowType(env, "attachSocketFilter(fd: int, program: Buffer, drain?: boolean)");
  bool drain = info.Length() > 2 && info[2].IsBoolean() && info[2].As<Napi::Boolean>().Value();
  Napi::Buffer<uint8_t> prog = info[1].As<Napi::Buffer<uint8_t>>();
  size_t n = prog.Length() / sizeof(struct sock_filter);
  if (prog.Length() % sizeof(struct sock_filter) != 0 || n > BPF_MAXINSNS)
    return ThrowType(env, "attachSocketFilter: program must be 0.." + std::to_string(BPF_MAXINSNS) +
                              " struct sock_filter of 8 bytes");
  if (n == 0) {
    int unused = 0;
    if (setsockopt(fd, SOL_SOCKET, SO_DETACH_FILTER, &unused, sizeof unused) < 0 && errno != ENOENT) {
      SystemError(env, errno, "setsockopt(SO_DETACH_FILTER)").ThrowAsJavaScriptException();
      return Napi::Value();
    }
    return env.Undefined();
  }
  std::vector<struct sock_filter> insns(n);
  std::memcpy(insns.data(), prog.Data(), prog.Length());
  struct sock_fprog fprog;
  fprog.len = static_cast<unsigned short>(n);
  fprog.filter = insns.data();
  if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &fprog, sizeof fprog) < 0) {
    SystemError(env, errno, "setsockopt(SO_ATTACH_FILTER)").ThrowAsJavaScriptException();
    return Napi::Value();
  }
  uint32_t discarded = 0;
  if (drain) {
    char scratch[1];
    while (recv(fd, scratch, sizeof scratch, MSG_DONTWAIT | MSG_TRUNC) >= 0) discarded++;
  }
  return Napi::Number::New(env, discarded);
}

// tcpSocket(family: 4 | 6): number — a new unconnected TCP socket fd (close-on-exec) for new net.Socket({ fd }).
static Napi::Value TcpSocket(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int family = info.Length() > 0 && info[0].IsNumber() ? info[0].As<Napi::Number>().Int32Value() : 0;
  if (family != 4 && family != 6) return ThrowType(env, "tcpSocket(family): family must be 4 or 6");
  int fd = socket(family == 4 ? AF_INET : AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    SystemError(env, errno, "socket").ThrowAsJavaScriptException();
    return Napi::Value();
  }
  return Napi::Number::New(env, fd);
}

// closeFd(fd: number): for an fd from tcpSocket that never reached a net.Socket.
static Napi::Value CloseFd(const Napi::CallbackInfo& info) {
  int fd;
  if (!FdArg(info, 0, &fd)) return ThrowType(info.Env(), "closeFd(fd: int)");
  ::close(fd);
  return info.Env().Undefined();
}

Napi::Object InitSockopt(Napi::Env env, Napi::Object exports) {
  exports.Set("setTcpMd5Sig", Napi::Function::New(env, SetTcpMd5Sig, "setTcpMd5Sig"));
  exports.Set("bindToDevice", Napi::Function::New(env, BindToDevice, "bindToDevice"));
  exports.Set("setMinTtl", Napi::Function::New(env, SetMinTtl, "setMinTtl"));
  exports.Set("setTtl", Napi::Function::New(env, SetTtl, "setTtl"));
  exports.Set("attachSocketFilter", Napi::Function::New(env, AttachSocketFilter, "attachSocketFilter"));
  exports.Set("tcpSocket", Napi::Function::New(env, TcpSocket, "tcpSocket"));
  exports.Set("closeFd", Napi::Function::New(env, CloseFd, "closeFd"));
  return exports;
}

}  // namespace berth
