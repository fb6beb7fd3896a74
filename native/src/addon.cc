#include <vpx/vpx_codec.h>

#include "classes.h"
#include "napi_util.h"

namespace livegen {
namespace {

napi_value Init(napi_env env, napi_value exports) {
  napi_value encoder = DefineVp8Encoder(env);
  if (encoder == nullptr) return nullptr;
  napi_value decoder = DefineVp8Decoder(env);
  if (decoder == nullptr) return nullptr;
  napi_value version = nullptr;
  const char* vpx = vpx_codec_version_str();
  if (!Check(env, napi_create_string_utf8(env, vpx, NAPI_AUTO_LENGTH, &version), "version") ||
      !Check(env, napi_set_named_property(env, exports, "Vp8Encoder", encoder), "export") ||
      !Check(env, napi_set_named_property(env, exports, "Vp8Decoder", decoder), "export") ||
      !Check(env, napi_set_named_property(env, exports, "libvpxVersion", version), "export")) {
    return nullptr;
  }
  return exports;
}

}  // namespace
}  // namespace livegen

NAPI_MODULE(NODE_GYP_MODULE_NAME, livegen::Init)
