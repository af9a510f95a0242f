// Shared helpers for berth's N-API addon: system errors as JS Errors carrying errno name, syscall and interface.
#pragma once
#include <napi.h>
#include <string>

namespace berth {

// An Error whose message names the syscall, the errno text and the interface; properties code ('EPERM'),
// errno (number), syscall and ifname (when given). src/speaker/link/packet.ts turns it into a LinkError.
Napi::Error SystemError(Napi::Env env, int err, const char* syscall, const std::string& ifname = "");

// Throws a TypeError naming the argument and the rule; returns an empty value for `return Throw...(...)`.
Napi::Value ThrowType(Napi::Env env, const std::string& message);

Napi::Object InitPacketSocket(Napi::Env env, Napi::Object exports);
Napi::Object InitSockopt(Napi::Env env, Napi::Object exports);
Napi::Object InitHeartbeatSender(Napi::Env env, Napi::Object exports);
Napi::Object InitArpLoad(Napi::Env env, Napi::Object exports);

}  // namespace berth
