// berth_native: the speaker's raw link access (AF_PACKET) and TCP socket options (TCP_MD5SIG, SO_BINDTODEVICE).
// Loaded only through src/speaker/link/packet.ts.
#include <uv.h>
#include <time.h>
#include <cstring>
#if defined(__GLIBC__)
#include <malloc.h>
#endif
#include "common.h"

namespace berth {

Napi::Error SystemError(Napi::Env env, int err, const char* syscall, const std::string& ifname) {
  std::string code = uv_err_name(-err);
  std::string message = std::string(syscall) + (ifname.empty() ? "" : " on " + ifname) + ": " + code + " (" +
                        std::strerror(err) + ")";
  Napi::Error e = Napi::Error::New(env, message);
  e.Set("code", Napi::String::New(env, code));
  e.Set("errno", Napi::Number::New(env, err));
  e.Set("syscall", Napi::String::New(env, syscall));
  if (!ifname.empty()) e.Set("ifname", Napi::String::New(env, ifname));
  return e;
}

Napi::Value ThrowType(Napi::Env env, const std::string& message) {
  Napi::TypeError::New(env, message).ThrowAsJavaScriptException();
  return Napi::Value();
}

// mallocTrim(minFreeBytes: number): { free: number, trimmed: boolean } — glibc's malloc keeps the memory free()d
// into its arenas (V8's parser and compiler zones, OpenSSL, libuv) mapped: resident, though unused. When the arenas
// hold at least `minFreeBytes` free (mallinfo2().fordblks), malloc_trim(0) gives their whole free pages back to the
// kernel (madvise(MADV_DONTNEED), also between live chunks since glibc 2.8), so they leave the process's RSS; the
// next malloc that needs them faults fresh zero pages. `free` is the arenas' free bytes before, `trimmed` whether
// malloc_trim ran and released something. Other C libraries (no mallinfo2/malloc_trim): { free: -1, trimmed: false }.
// malloc(3), mallinfo2(3), malloc_trim(3).
static Napi::Value MallocTrim(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber() || !(info[0].As<Napi::Number>().DoubleValue() >= 0))
    return ThrowType(env, "mallocTrim(minFreeBytes): minFreeBytes must be a number >= 0");
  double min_free = info[0].As<Napi::Number>().DoubleValue();
  double free_bytes = -1;
  bool trimmed = false;
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
  struct mallinfo2 mi = mallinfo2();
  free_bytes = static_cast<double>(mi.fordblks);
  if (free_bytes >= min_free) trimmed = malloc_trim(0) == 1;
#endif
  Napi::Object o = Napi::Object::New(env);
  o.Set("free", Napi::Number::New(env, free_bytes));
  o.Set("trimmed", Napi::Boolean::New(env, trimmed));
  return o;
}

// realtimeMicros(): number — now as microseconds since the epoch read from CLOCK_REALTIME (clock_gettime(2)), the
// clock the kernel stamps received frames with (SO_TIMESTAMP / the packet ring's tp_sec/tp_nsec). JS has no direct
// reading of it: performance.timeOrigin + performance.now() is fixed once at start-up and was measured 22 µs to
// 0.3 ms off, which is the size of the latencies the benches split at a kernel stamp.
static Napi::Value RealtimeMicros(const Napi::CallbackInfo& info) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return Napi::Number::New(info.Env(), static_cast<double>(ts.tv_sec) * 1e6 + static_cast<double>(ts.tv_nsec) / 1e3);
}

}  // namespace berth

static Napi::Object InitAll(Napi::Env env, Napi::Object exports) {
  berth::InitPacketSocket(env, exports);
  berth::InitSockopt(env, exports);
  berth::InitHeartbeatSender(env, exports);
  berth::InitArpLoad(env, exports);
  exports.Set("mallocTrim", Napi::Function::New(env, berth::MallocTrim, "mallocTrim"));
  exports.Set("realtimeMicros", Napi::Function::New(env, berth::RealtimeMicros, "realtimeMicros"));
  return exports;
}

NODE_API_MODULE(berth_native, InitAll)
