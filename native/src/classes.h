#pragma once
#include <node_api.h>

namespace livegen {

// Each returns the constructor, or nullptr with a JS exception pending.
napi_value DefineVp8Encoder(napi_env env);
napi_value DefineVp8Decoder(napi_env env);

}  // namespace livegen
