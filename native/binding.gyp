{
  "targets": [
    {
      "target_name": "tsnet_native",
      "sources": ["src/addon.cc", "src/frame-server.cc"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NODE_ADDON_API_DISABLE_DEPRECATED", "NAPI_CPP_EXCEPTIONS", "_GNU_SOURCE"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions"],
      "cflags_cc": ["-std=c++17", "-Wall", "-Wextra", "-O2"]
    },
    {
      "target_name": "tsnet-init",
      "type": "executable",
      "sources": ["init/tsnet-init.c"],
      "defines": ["_GNU_SOURCE"],
      "cflags": ["-std=gnu11", "-Wall", "-Wextra", "-O2"],
      "libraries": ["<!@(sh init/seccomp-libs.sh)"]
    },
    {
      "target_name": "tsnet-nsexec",
      "type": "executable",
      "sources": ["nsexec/tsnet-nsexec.c"],
      "defines": ["_GNU_SOURCE"],
      "cflags": ["-std=gnu11", "-Wall", "-Wextra", "-O2"]
    },
    {
      "target_name": "tsnet-linger",
      "type": "executable",
      "sources": ["linger/tsnet-linger.c"],
      "defines": ["_GNU_SOURCE"],
      "cflags": ["-std=gnu11", "-Wall", "-Wextra", "-O2"]
    },
    {
      "target_name": "tsnet-cni-shim",
      "type": "executable",
      "sources": ["shim/tsnet-cni-shim.c"],
      "defines": ["_GNU_SOURCE"],
      "cflags": ["-std=gnu11", "-Wall", "-Wextra", "-O2"],
      "ldflags": ["<!@(sh shim/ldflags.sh)"]
    },
    {
      "target_name": "tsnet-bench-exec",
      "type": "executable",
      "sources": ["../bench/exec-timed.c"],
      "defines": ["_GNU_SOURCE"],
      "cflags": ["-std=gnu11", "-Wall", "-Wextra", "-O2"]
    }
  ]
}
