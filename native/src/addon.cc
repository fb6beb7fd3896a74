#include "classes.h"
#include "napi_util.h"

namespace livegen {
namespace {

napi_value Init(napi_env env, napi_value exports) {
  napi_value encoder = DefineVp8Encoder(env);
  if (encoder == nullptr) return nullptr;
  napi_value decoder = DefineVp8Decoder(env);
  if (decoder == nullptr) return nullptr;
  if (!Check(env, napi_set_named_property(env, exports, "Vp8Encoder", encoder), "export") ||
      !Check(env, napi_set_named_property(env, exports, "Vp8Decoder", decoder), "export")) {
    return nullptr;
  }
  return exports;
}

}  // namespace
}  // namespace livegen

NAPI_MODULE(NODE_GYP_MODULE_NAME, livegen::Init)
