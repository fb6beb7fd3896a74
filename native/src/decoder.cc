// Vp8Decoder: synchronous, since decoding and converting a 256x256 frame costs about a millisecond
// and the callers (tests, loopback checks) want the picture at once.
#include <vpx/vp8dx.h>
#include <vpx/vpx_decoder.h>

#include <limits>
#include <string>

#include "classes.h"
#include "color.h"
#include "napi_util.h"

namespace livegen {
namespace {

constexpr unsigned kMaxDimension = 4096;

class Decoder {
 public:
  ~Decoder() { Close(); }

  std::string Open() {
    vpx_codec_dec_cfg_t cfg{};
    cfg.threads = 1;
    if (vpx_codec_dec_init(&codec_, vpx_codec_vp8_dx(), &cfg, 0) != VPX_CODEC_OK) {
      return std::string("vpx_codec_dec_init failed: ") + vpx_codec_error(&codec_);
    }
    open_ = true;
    return "";
  }

  void Close() {
    if (open_) vpx_codec_destroy(&codec_);
    open_ = false;
  }

  static napi_value Constructor(napi_env env, napi_callback_info info);
  static napi_value Decode(napi_env env, napi_callback_info info);
  static napi_value CloseMethod(napi_env env, napi_callback_info info);
  static void Finalize(napi_env /*env*/, void* data, void* /*hint*/) {
    delete static_cast<Decoder*>(data);
  }

 private:
  vpx_codec_ctx_t codec_{};
  bool open_ = false;
};

napi_value Decoder::Constructor(napi_env env, napi_callback_info info) {
  napi_value self = nullptr;
  if (!Check(env, napi_get_cb_info(env, info, nullptr, nullptr, &self, nullptr),
             "napi_get_cb_info")) {
    return nullptr;
  }
  napi_value newTarget = nullptr;
  if (!Check(env, napi_get_new_target(env, info, &newTarget), "napi_get_new_target")) return nullptr;
  if (newTarget == nullptr) {
    Throw(env, ErrorKind::kTypeError, "Vp8Decoder must be called with new");
    return nullptr;
  }
  auto* decoder = new Decoder();
  const std::string error = decoder->Open();
  if (!error.empty()) {
    delete decoder;
    Throw(env, ErrorKind::kError, "Vp8Decoder: " + error);
    return nullptr;
  }
  if (!Check(env, napi_wrap(env, self, decoder, Finalize, nullptr, nullptr), "napi_wrap")) {
    delete decoder;
    return nullptr;
  }
  return self;
}

napi_value Decoder::Decode(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1] = {nullptr};
  napi_value self = nullptr;
  if (!Check(env, napi_get_cb_info(env, info, &argc, argv, &self, nullptr), "napi_get_cb_info")) {
    return nullptr;
  }
  Decoder* decoder = Unwrap<Decoder>(env, self, "Vp8Decoder");
  if (decoder == nullptr) return nullptr;
  if (!decoder->open_) {
    Throw(env, ErrorKind::kError, "decoder closed");
    return nullptr;
  }
  const uint8_t* data = nullptr;
  size_t length = 0;
  if (argc < 1 || !GetBytes(env, argv[0], "frame", &data, &length)) {
    Throw(env, ErrorKind::kTypeError, "frame must be a Uint8Array or Buffer");
    return nullptr;
  }
  // An empty buffer means "flush" to libvpx, which is not what a caller passing one meant.
  if (length == 0) {
    Throw(env, ErrorKind::kRangeError, "frame is empty");
    return nullptr;
  }
  if (length > std::numeric_limits<unsigned>::max()) {
    Throw(env, ErrorKind::kRangeError, "frame is too large");
    return nullptr;
  }
  // A forged keyframe header could claim 16383x16383; refuse before libvpx allocates for it.
  vpx_codec_stream_info_t si{};
  si.sz = sizeof(si);
  if (vpx_codec_peek_stream_info(vpx_codec_vp8_dx(), data, static_cast<unsigned>(length), &si) ==
          VPX_CODEC_OK &&
      si.is_kf && (si.w > kMaxDimension || si.h > kMaxDimension)) {
    Throw(env, ErrorKind::kRangeError,
          "VP8 frame is " + std::to_string(si.w) + "x" + std::to_string(si.h) +
              ", larger than the 4096x4096 limit");
    return nullptr;
  }
  if (vpx_codec_decode(&decoder->codec_, data, static_cast<unsigned>(length), nullptr, 0) !=
      VPX_CODEC_OK) {
    std::string message = std::string("VP8 decode failed: ") + vpx_codec_error(&decoder->codec_);
    const char* detail = vpx_codec_error_detail(&decoder->codec_);
    if (detail != nullptr && *detail != '\0') message += std::string(" (") + detail + ")";
    Throw(env, ErrorKind::kError, message);
    return nullptr;
  }
  vpx_codec_iter_t iter = nullptr;
  vpx_image_t* img = vpx_codec_get_frame(&decoder->codec_, &iter);
  if (img == nullptr) return Null(env);
  // Drain so the next decode starts clean (VP8 yields at most one frame per packet anyway).
  while (vpx_codec_get_frame(&decoder->codec_, &iter) != nullptr) {
  }
  if (img->fmt != VPX_IMG_FMT_I420) {
    Throw(env, ErrorKind::kError, "VP8 decoder produced an unexpected pixel format");
    return nullptr;
  }
  const int width = static_cast<int>(img->d_w);
  const int height = static_cast<int>(img->d_h);
  napi_value rgb = nullptr;
  void* out = nullptr;
  if (!Check(env, napi_create_buffer(env, static_cast<size_t>(width) * height * 3, &out, &rgb),
             "napi_create_buffer")) {
    return nullptr;
  }
  I420ToRgb(img->planes[VPX_PLANE_Y], img->stride[VPX_PLANE_Y], img->planes[VPX_PLANE_U],
            img->stride[VPX_PLANE_U], img->planes[VPX_PLANE_V], img->stride[VPX_PLANE_V], width,
            height, static_cast<uint8_t*>(out));
  napi_value result = nullptr;
  napi_value w = nullptr;
  napi_value h = nullptr;
  if (!Check(env, napi_create_object(env, &result), "napi_create_object") ||
      !Check(env, napi_create_int32(env, width, &w), "napi_create_int32") ||
      !Check(env, napi_create_int32(env, height, &h), "napi_create_int32") ||
      !Check(env, napi_set_named_property(env, result, "width", w), "set width") ||
      !Check(env, napi_set_named_property(env, result, "height", h), "set height") ||
      !Check(env, napi_set_named_property(env, result, "rgb", rgb), "set rgb")) {
    return nullptr;
  }
  return result;
}

napi_value Decoder::CloseMethod(napi_env env, napi_callback_info info) {
  napi_value self = nullptr;
  if (!Check(env, napi_get_cb_info(env, info, nullptr, nullptr, &self, nullptr),
             "napi_get_cb_info")) {
    return nullptr;
  }
  Decoder* decoder = Unwrap<Decoder>(env, self, "Vp8Decoder");
  if (decoder == nullptr) return nullptr;
  decoder->Close();
  return Undefined(env);
}

}  // namespace

napi_value DefineVp8Decoder(napi_env env) {
  napi_property_descriptor methods[] = {
      {"decode", nullptr, Decoder::Decode, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"close", nullptr, Decoder::CloseMethod, nullptr, nullptr, nullptr, napi_default, nullptr},
  };
  napi_value cls = nullptr;
  if (!Check(env,
             napi_define_class(env, "Vp8Decoder", NAPI_AUTO_LENGTH, Decoder::Constructor, nullptr,
                               sizeof(methods) / sizeof(methods[0]), methods, &cls),
             "napi_define_class")) {
    return nullptr;
  }
  return cls;
}

}  // namespace livegen
