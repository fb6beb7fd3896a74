// Small helpers over the node-api C interface. Every failure path throws a JS exception and
// returns false/nullptr, so callers just bail out and the process never aborts on bad input.
#pragma once
#include <node_api.h>

#include <cstddef>
#include <cstdint>
#include <string>

namespace livegen {

enum class ErrorKind { kError, kTypeError, kRangeError };

// Builds an error object without throwing it (for promise rejections).
napi_value MakeError(napi_env env, ErrorKind kind, const std::string& message);

// Throws unless an exception is already pending (the first one is the informative one).
void Throw(napi_env env, ErrorKind kind, const std::string& message);

// Turns a failed node-api call into a thrown Error; returns status == napi_ok.
bool Check(napi_env env, napi_status status, const char* what);

napi_value Undefined(napi_env env);
napi_value Null(napi_env env);

// Accepts Buffer, Uint8Array and Uint8ClampedArray; anything else throws a TypeError naming
// `name`. The pointer is only valid until JS runs again.
bool GetBytes(napi_env env, napi_value value, const char* name, const uint8_t** data,
              size_t* length);

// Reads obj[key]. `present` is false for undefined; a value of another type throws a
// TypeError naming `owner.key`.
bool GetOptionalNumber(napi_env env, napi_value obj, const char* owner, const char* key,
                       bool* present, double* out);

// Returns the native object behind `this`, throwing a TypeError if the method was called on
// something that is not an instance (e.g. Vp8Encoder.prototype.encode.call({})).
template <typename T>
T* Unwrap(napi_env env, napi_value self, const char* className) {
  void* ptr = nullptr;
  if (self == nullptr || napi_unwrap(env, self, &ptr) != napi_ok || ptr == nullptr) {
    Throw(env, ErrorKind::kTypeError, std::string("Illegal invocation: not a ") + className);
    return nullptr;
  }
  return static_cast<T*>(ptr);
}

}  // namespace livegen
