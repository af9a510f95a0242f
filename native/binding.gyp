{
  "targets": [
    {
      "target_name": "berth_native",
      "sources": ["src/addon.cc", "src/packet_socket.cc", "src/sockopt.cc", "src/heartbeat_sender.cc", "src/arp_load.cc"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS", "NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS"],
      "cflags_cc": ["-std=c++17", "-Wall", "-Wextra"]
    }
  ]
}
