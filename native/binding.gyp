{
  "targets": [
    {
      "target_name": "livegen_native",
      "sources": [
        "src/addon.cc",
        "src/color.cc",
        "src/decoder.cc",
        "src/encoder.cc",
        "src/napi_util.cc"
      ],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS"],
      "cflags_cc!": ["-std=gnu++17", "-fno-exceptions"],
      "cflags_cc": ["-std=c++17", "-O2", "-Wall", "-Wextra", "-fexceptions"],
      "libraries": ["-lvpx"]
    }
  ]
}
