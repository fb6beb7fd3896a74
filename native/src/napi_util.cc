#include "napi_util.h"

namespace livegen {

napi_value MakeError(napi_env env, ErrorKind kind, const std::string& message) {
  napi_value msg = nullptr;
  napi_value err = nullptr;
  if (napi_create_string_utf8(env, message.c_str(), message.size(), &msg) != napi_ok) return nullptr;
  switch (kind) {
    case ErrorKind::kTypeError:
      napi_create_type_error(env, nullptr, msg, &err);
      break;
    case ErrorKind::kRangeError:
      napi_create_range_error(env, nullptr, msg, &err);
      break;
    default:
      napi_create_error(env, nullptr, msg, &err);
      break;
  }
  return err;
}

void Throw(napi_env env, ErrorKind kind, const std::string& message) {
  bool pending = false;
  if (napi_is_exception_pending(env, &pending) == napi_ok && pending) return;
  switch (kind) {
    case ErrorKind::kTypeError:
      napi_throw_type_error(env, nullptr, message.c_str());
      break;
    case ErrorKind::kRangeError:
      napi_throw_range_error(env, nullptr, message.c_str());
      break;
    default:
      napi_throw_error(env, nullptr, message.c_str());
      break;
  }
}

bool Check(napi_env env, napi_status status, const char* what) {
  if (status == napi_ok) return true;
  const napi_extended_error_info* info = nullptr;
  std::string message = std::string(what) + " failed";
  if (napi_get_last_error_info(env, &info) == napi_ok && info != nullptr &&
      info->error_message != nullptr) {
    message += ": ";
    message += info->error_message;
  }
  Throw(env, ErrorKind::kError, message);
  return false;
}

napi_value Undefined(napi_env env) {
  napi_value v = nullptr;
  napi_get_undefined(env, &v);
  return v;
}

napi_value Null(napi_env env) {
  napi_value v = nullptr;
  napi_get_null(env, &v);
  return v;
}

bool GetBytes(napi_env env, napi_value value, const char* name, const uint8_t** data,
              size_t* length) {
  bool isTyped = false;
  if (value != nullptr && napi_is_typedarray(env, value, &isTyped) == napi_ok && isTyped) {
    napi_typedarray_type type;
    size_t count = 0;
    void* ptr = nullptr;
    if (!Check(env, napi_get_typedarray_info(env, value, &type, &count, &ptr, nullptr, nullptr),
               "napi_get_typedarray_info")) {
      return false;
    }
    if (type == napi_uint8_array || type == napi_uint8_clamped_array) {
      *data = static_cast<const uint8_t*>(ptr);
      *length = ptr == nullptr ? 0 : count;  // a detached buffer reads as empty
      return true;
    }
  }
  Throw(env, ErrorKind::kTypeError, std::string(name) + " must be a Uint8Array or Buffer");
  return false;
}

bool GetOptionalNumber(napi_env env, napi_value obj, const char* owner, const char* key,
                       bool* present, double* out) {
  napi_value value = nullptr;
  if (!Check(env, napi_get_named_property(env, obj, key, &value), "reading an option")) return false;
  napi_valuetype type;
  if (!Check(env, napi_typeof(env, value, &type), "napi_typeof")) return false;
  if (type == napi_undefined) {
    *present = false;
    return true;
  }
  if (type != napi_number) {
    Throw(env, ErrorKind::kTypeError, std::string(owner) + "." + key + " must be a number");
    return false;
  }
  *present = true;
  return Check(env, napi_get_value_double(env, value, out), "napi_get_value_double");
}

}  // namespace livegen
