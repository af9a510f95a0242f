// berth_native: the speaker's raw link access (AF_PACKET) and TCP socket options (TCP_MD5SIG, SO_BINDTODEVICE).
// Loaded only through src/speaker/link/packet.ts.
#include <uv.h>
#include <cstring>
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

}  // namespace berth

static Napi::Object InitAll(Napi::Env env, Napi::Object exports) {
  berth::InitPacketSocket(env, exports);
  berth::InitSockopt(env, exports);
  return exports;
}

NODE_API_MODULE(berth_native, InitAll)
