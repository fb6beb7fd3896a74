// Vp8Encoder: RGB frames in, VP8 frames out. The colour conversion and vpx_codec_encode run on
// the libuv thread pool so a 30-60 fps stream does not stall the event loop.
//
// Concurrency model: every JS-facing call runs on the main thread. At most one job is on the
// thread pool per encoder (`current_`); later calls wait in `queue_` and start, in order, from
// the completion callback. The codec is touched off the main thread only by that one job, and
// on the main thread only while no job is in flight, so no locking is needed.
#include <vpx/vp8cx.h>
#include <vpx/vpx_encoder.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "classes.h"
#include "color.h"
#include "napi_util.h"

namespace livegen {
namespace {

constexpr int kMaxDimension = 4096;
constexpr double kMaxFps = 1000;
constexpr double kMaxBitrateKbps = 1000000;  // 1 Gbit/s: beyond any real VP8 stream
constexpr const char* kClosed = "encoder closed";

struct EncodeJob {
  std::vector<uint8_t> rgb;  // copied so the caller may reuse its buffer at once
  bool forceKeyframe = false;
  napi_deferred deferred = nullptr;
  // Filled by the worker.
  std::string error;
  bool hasPacket = false;
  bool keyframe = false;
  std::vector<uint8_t> packet;
};

std::string CodecError(vpx_codec_ctx_t* codec, const char* what) {
  std::string message = std::string(what) + ": " + vpx_codec_error(codec);
  const char* detail = vpx_codec_error_detail(codec);
  if (detail != nullptr && *detail != '\0') message += std::string(" (") + detail + ")";
  return message;
}

class Encoder {
 public:
  Encoder(int width, int height) : width_(width), height_(height) {}
  ~Encoder() { DestroyCodec(); }

  // Returns an error message, empty on success.
  std::string Open(double fps, unsigned bitrateKbps, unsigned keyframeInterval) {
    vpx_codec_iface_t* iface = vpx_codec_vp8_cx();
    if (vpx_codec_enc_config_default(iface, &cfg_, 0) != VPX_CODEC_OK) {
      return "vpx_codec_enc_config_default failed";
    }
    cfg_.g_w = static_cast<unsigned>(width_);
    cfg_.g_h = static_cast<unsigned>(height_);
    // One tick per frame; milli-frames keep fractional rates such as 29.97 exact enough.
    cfg_.g_timebase.num = 1000;
    cfg_.g_timebase.den = static_cast<int>(std::lround(fps * 1000));
    cfg_.g_threads = 1;
    cfg_.g_pass = VPX_RC_ONE_PASS;
    cfg_.g_lag_in_frames = 0;  // a frame in, its packet out: no look-ahead latency
    cfg_.g_error_resilient = VPX_ERROR_RESILIENT_DEFAULT;  // a lost packet must not poison later frames
    cfg_.rc_end_usage = VPX_CBR;
    cfg_.rc_target_bitrate = bitrateKbps;
    cfg_.rc_dropframe_thresh = 0;  // the stream is paced by the generator; keep every frame
    cfg_.rc_resize_allowed = 0;
    cfg_.rc_min_quantizer = 2;
    cfg_.rc_max_quantizer = 56;
    // The buffer model WebRTC's VP8 wrapper uses for camera video.
    cfg_.rc_undershoot_pct = 100;
    cfg_.rc_overshoot_pct = 15;
    cfg_.rc_buf_initial_sz = 500;
    cfg_.rc_buf_optimal_sz = 600;
    cfg_.rc_buf_sz = 1000;
    cfg_.kf_mode = VPX_KF_AUTO;
    cfg_.kf_min_dist = 0;
    cfg_.kf_max_dist = keyframeInterval;

    if (vpx_codec_enc_init(&codec_, iface, &cfg_, 0) != VPX_CODEC_OK) {
      return CodecError(&codec_, "vpx_codec_enc_init failed");
    }
    codecOpen_ = true;
    // Cap keyframe size relative to the per-frame budget (WebRTC's rule) so a forced keyframe
    // does not burst far past the target bitrate.
    const unsigned maxIntraPct =
        std::max(300u, static_cast<unsigned>(cfg_.rc_buf_optimal_sz * 0.5 * fps / 10));
    // Negative cpu-used fixes the speed. A positive value makes VP8 realtime mode tune its speed
    // to a share of the frame interval from measured encode times, which spends CPU the model
    // needs and makes output depend on machine load.
    if (vpx_codec_control(&codec_, VP8E_SET_CPUUSED, -10) != VPX_CODEC_OK ||
        vpx_codec_control(&codec_, VP8E_SET_TOKEN_PARTITIONS, VP8_ONE_TOKENPARTITION) !=
            VPX_CODEC_OK ||
        vpx_codec_control(&codec_, VP8E_SET_NOISE_SENSITIVITY, 0u) != VPX_CODEC_OK ||
        vpx_codec_control(&codec_, VP8E_SET_STATIC_THRESHOLD, 1u) != VPX_CODEC_OK ||
        vpx_codec_control(&codec_, VP8E_SET_MAX_INTRA_BITRATE_PCT, maxIntraPct) != VPX_CODEC_OK) {
      return CodecError(&codec_, "vpx_codec_control failed");
    }
    if (vpx_img_alloc(&image_, VPX_IMG_FMT_I420, cfg_.g_w, cfg_.g_h, 16) == nullptr) {
      return "vpx_img_alloc failed";
    }
    imageAllocated_ = true;
    return "";
  }

  static napi_value Constructor(napi_env env, napi_callback_info info);
  static napi_value Encode(napi_env env, napi_callback_info info);
  static napi_value SetBitrate(napi_env env, napi_callback_info info);
  static napi_value Close(napi_env env, napi_callback_info info);

 private:
  static void Finalize(napi_env env, void* data, void* hint);
  static void Execute(napi_env env, void* data);
  static void Complete(napi_env env, napi_status status, void* data);

  // Worker thread: fills job->error or job->packet. Touches only the codec and image.
  void Run(EncodeJob* job) {
    RgbToI420(job->rgb.data(), width_, height_, image_.planes[VPX_PLANE_Y],
              image_.stride[VPX_PLANE_Y], image_.planes[VPX_PLANE_U], image_.stride[VPX_PLANE_U],
              image_.planes[VPX_PLANE_V], image_.stride[VPX_PLANE_V]);
    const vpx_enc_frame_flags_t flags = job->forceKeyframe ? VPX_EFLAG_FORCE_KF : 0;
    if (vpx_codec_encode(&codec_, &image_, pts_, 1, flags, VPX_DL_REALTIME) != VPX_CODEC_OK) {
      job->error = CodecError(&codec_, "vpx_codec_encode failed");
      return;
    }
    ++pts_;
    vpx_codec_iter_t iter = nullptr;
    while (const vpx_codec_cx_pkt_t* pkt = vpx_codec_get_cx_data(&codec_, &iter)) {
      // With lag 0 and no partition output there is at most one frame packet per call.
      if (pkt->kind != VPX_CODEC_CX_FRAME_PKT || job->hasPacket) continue;
      const auto* bytes = static_cast<const uint8_t*>(pkt->data.frame.buf);
      job->packet.assign(bytes, bytes + pkt->data.frame.sz);
      job->keyframe = (pkt->data.frame.flags & VPX_FRAME_IS_KEY) != 0;
      job->hasPacket = true;
    }
  }

  // Main thread. Starts the next queued job if none is in flight.
  void StartNext(napi_env env) {
    while (current_ == nullptr && !queue_.empty()) {
      // current_ must be set before queueing: the worker may start at once.
      current_ = std::move(queue_.front());
      queue_.pop_front();
      napi_value name = nullptr;
      napi_status status = napi_create_string_utf8(env, "livegen:Vp8Encoder.encode",
                                                   NAPI_AUTO_LENGTH, &name);
      if (status == napi_ok) {
        status = napi_create_async_work(env, nullptr, name, Execute, Complete, this, &work_);
      }
      if (status == napi_ok) {
        status = napi_queue_async_work(env, work_);
        if (status != napi_ok) {
          napi_delete_async_work(env, work_);
          work_ = nullptr;
        }
      }
      if (status != napi_ok) {
        std::unique_ptr<EncodeJob> job = std::move(current_);
        Reject(env, job.get(), ErrorKind::kError, "could not queue the encode on the thread pool");
        continue;
      }
      // Keep the JS object alive while the worker uses this encoder.
      if (self_ == nullptr && wrapper_ != nullptr) {
        napi_reference_ref(env, wrapper_, nullptr);
        self_ = wrapper_;
      }
    }
    if (current_ == nullptr && self_ != nullptr) {
      napi_reference_unref(env, self_, nullptr);
      self_ = nullptr;
    }
  }

  static void Reject(napi_env env, EncodeJob* job, ErrorKind kind, const std::string& message) {
    napi_reject_deferred(env, job->deferred, MakeError(env, kind, message));
    job->deferred = nullptr;
  }

  // Main thread, only while no job is in flight.
  void ApplyPendingBitrate() {
    if (pendingBitrate_ == 0 || !codecOpen_) return;
    cfg_.rc_target_bitrate = pendingBitrate_;
    pendingBitrate_ = 0;
    vpx_codec_enc_config_set(&codec_, &cfg_);
  }

  void DestroyCodec() {
    if (codecOpen_) vpx_codec_destroy(&codec_);
    codecOpen_ = false;
    if (imageAllocated_) vpx_img_free(&image_);
    imageAllocated_ = false;
  }

  const int width_;
  const int height_;
  vpx_codec_enc_cfg_t cfg_{};
  vpx_codec_ctx_t codec_{};
  vpx_image_t image_{};
  bool codecOpen_ = false;
  bool imageAllocated_ = false;
  vpx_codec_pts_t pts_ = 0;
  bool closed_ = false;
  bool finalized_ = false;     // the JS object is gone; free on completion
  unsigned pendingBitrate_ = 0;  // set while a job is in flight, applied when it ends
  napi_ref wrapper_ = nullptr;  // weak reference to the JS object
  napi_ref self_ = nullptr;     // == wrapper_ while it is held strong
  napi_async_work work_ = nullptr;
  std::unique_ptr<EncodeJob> current_;
  std::deque<std::unique_ptr<EncodeJob>> queue_;
};

bool ReadDimension(napi_env env, napi_value options, const char* key, int* out) {
  bool present = false;
  double value = 0;
  if (!GetOptionalNumber(env, options, "Vp8Encoder options", key, &present, &value)) return false;
  if (!present || !(std::floor(value) == value) || value < 2 || value > kMaxDimension ||
      std::fmod(value, 2) != 0) {
    Throw(env, present ? ErrorKind::kRangeError : ErrorKind::kTypeError,
          std::string("Vp8Encoder ") + key + " must be an even integer from 2 to " +
              std::to_string(kMaxDimension) +
              (present ? ", got " + std::to_string(value) : ", got undefined"));
    return false;
  }
  *out = static_cast<int>(value);
  return true;
}

napi_value Encoder::Constructor(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1] = {nullptr};
  napi_value self = nullptr;
  if (!Check(env, napi_get_cb_info(env, info, &argc, argv, &self, nullptr), "napi_get_cb_info")) {
    return nullptr;
  }
  napi_value newTarget = nullptr;
  if (!Check(env, napi_get_new_target(env, info, &newTarget), "napi_get_new_target")) return nullptr;
  if (newTarget == nullptr) {
    Throw(env, ErrorKind::kTypeError, "Vp8Encoder must be called with new");
    return nullptr;
  }
  napi_valuetype type = napi_undefined;
  if (argc < 1 || napi_typeof(env, argv[0], &type) != napi_ok || type != napi_object) {
    Throw(env, ErrorKind::kTypeError,
          "Vp8Encoder options must be an object { width, height, fps, bitrateKbps }");
    return nullptr;
  }
  napi_value options = argv[0];
  int width = 0;
  int height = 0;
  if (!ReadDimension(env, options, "width", &width) ||
      !ReadDimension(env, options, "height", &height)) {
    return nullptr;
  }
  bool present = false;
  double fps = 0;
  if (!GetOptionalNumber(env, options, "Vp8Encoder options", "fps", &present, &fps)) return nullptr;
  if (!present || !std::isfinite(fps) || fps <= 0 || fps > kMaxFps) {
    Throw(env, ErrorKind::kRangeError, "Vp8Encoder fps must be a number in (0, 1000]");
    return nullptr;
  }
  double bitrate = 0;
  if (!GetOptionalNumber(env, options, "Vp8Encoder options", "bitrateKbps", &present, &bitrate)) {
    return nullptr;
  }
  if (!present || !std::isfinite(bitrate) || bitrate <= 0 || bitrate > kMaxBitrateKbps) {
    Throw(env, ErrorKind::kRangeError, "Vp8Encoder bitrateKbps must be a number in (0, 1000000]");
    return nullptr;
  }
  double interval = 0;
  if (!GetOptionalNumber(env, options, "Vp8Encoder options", "keyframeInterval", &present,
                         &interval)) {
    return nullptr;
  }
  if (!present) {
    interval = std::max(1.0, std::round(10 * fps));
  } else if (!(std::floor(interval) == interval) || interval < 1 || interval > 1e6) {
    Throw(env, ErrorKind::kRangeError,
          "Vp8Encoder keyframeInterval must be an integer from 1 to 1000000 (frames)");
    return nullptr;
  }

  auto encoder = std::make_unique<Encoder>(width, height);
  const std::string error = encoder->Open(
      fps, static_cast<unsigned>(std::max(1.0, std::round(bitrate))), static_cast<unsigned>(interval));
  if (!error.empty()) {
    Throw(env, ErrorKind::kError, "Vp8Encoder: " + error);
    return nullptr;
  }
  Encoder* raw = encoder.get();
  if (!Check(env, napi_wrap(env, self, raw, Finalize, nullptr, &raw->wrapper_), "napi_wrap")) {
    return nullptr;
  }
  encoder.release();  // owned by the JS object from here on
  return self;
}

void Encoder::Finalize(napi_env env, void* data, void* /*hint*/) {
  auto* encoder = static_cast<Encoder*>(data);
  if (encoder->wrapper_ != nullptr) napi_delete_reference(env, encoder->wrapper_);
  encoder->wrapper_ = nullptr;
  encoder->self_ = nullptr;
  // Normally unreachable while a job runs (the reference is strong then), but at environment
  // teardown finalizers run regardless: leave the memory to Complete in that case.
  if (encoder->current_ != nullptr) {
    encoder->finalized_ = true;
    return;
  }
  delete encoder;
}

// Rejects `deferred` with the pending JS exception (or `fallback` if there is none).
void RejectWithPending(napi_env env, napi_deferred deferred, const char* fallback) {
  napi_value exception = nullptr;
  bool pending = false;
  if (napi_is_exception_pending(env, &pending) == napi_ok && pending) {
    napi_get_and_clear_last_exception(env, &exception);
  }
  napi_reject_deferred(env, deferred,
                       exception != nullptr ? exception
                                            : MakeError(env, ErrorKind::kTypeError, fallback));
}

napi_value Encoder::Encode(napi_env env, napi_callback_info info) {
  napi_deferred deferred = nullptr;
  napi_value promise = nullptr;
  if (!Check(env, napi_create_promise(env, &deferred, &promise), "napi_create_promise")) {
    return nullptr;
  }
  // Every failure below rejects rather than throws: callers of an async method handle one path.
  size_t argc = 2;
  napi_value argv[2] = {nullptr, nullptr};
  napi_value self = nullptr;
  Encoder* encoder = nullptr;
  if (napi_get_cb_info(env, info, &argc, argv, &self, nullptr) == napi_ok) {
    encoder = Unwrap<Encoder>(env, self, "Vp8Encoder");
  }
  if (encoder == nullptr) {
    RejectWithPending(env, deferred, "Illegal invocation: not a Vp8Encoder");
    return promise;
  }
  auto job = std::make_unique<EncodeJob>();
  job->deferred = deferred;
  if (encoder->closed_) {
    Reject(env, job.get(), ErrorKind::kError, kClosed);
    return promise;
  }
  const uint8_t* data = nullptr;
  size_t length = 0;
  if (!GetBytes(env, argv[0], "rgb", &data, &length)) {
    RejectWithPending(env, deferred, "rgb must be a Uint8Array or Buffer");
    return promise;
  }
  const size_t expected = static_cast<size_t>(encoder->width_) * encoder->height_ * 3;
  if (length != expected) {
    Reject(env, job.get(), ErrorKind::kRangeError,
           "rgb must be " + std::to_string(encoder->width_) + "x" +
               std::to_string(encoder->height_) + "x3 = " + std::to_string(expected) +
               " bytes, got " + std::to_string(length));
    return promise;
  }
  napi_valuetype keyType = napi_undefined;
  if (argv[1] == nullptr || napi_typeof(env, argv[1], &keyType) != napi_ok ||
      keyType != napi_boolean || napi_get_value_bool(env, argv[1], &job->forceKeyframe) != napi_ok) {
    Reject(env, job.get(), ErrorKind::kTypeError, "keyframe must be a boolean");
    return promise;
  }
  job->rgb.assign(data, data + length);
  encoder->queue_.push_back(std::move(job));
  encoder->StartNext(env);
  return promise;
}

void Encoder::Execute(napi_env /*env*/, void* data) {
  auto* encoder = static_cast<Encoder*>(data);
  encoder->Run(encoder->current_.get());
}

void Encoder::Complete(napi_env env, napi_status status, void* data) {
  auto* encoder = static_cast<Encoder*>(data);
  std::unique_ptr<EncodeJob> job = std::move(encoder->current_);
  napi_delete_async_work(env, encoder->work_);
  encoder->work_ = nullptr;

  if (status != napi_ok) {
    Reject(env, job.get(), ErrorKind::kError, "encode was cancelled");
  } else if (!job->error.empty()) {
    Reject(env, job.get(), ErrorKind::kError, job->error);
  } else if (!job->hasPacket) {
    napi_resolve_deferred(env, job->deferred, Null(env));
  } else {
    napi_value result = nullptr;
    napi_value buffer = nullptr;
    napi_value keyframe = nullptr;
    void* copy = nullptr;
    if (napi_create_object(env, &result) == napi_ok &&
        napi_create_buffer_copy(env, job->packet.size(), job->packet.data(), &copy, &buffer) ==
            napi_ok &&
        napi_get_boolean(env, job->keyframe, &keyframe) == napi_ok &&
        napi_set_named_property(env, result, "data", buffer) == napi_ok &&
        napi_set_named_property(env, result, "keyframe", keyframe) == napi_ok) {
      napi_resolve_deferred(env, job->deferred, result);
    } else {
      Reject(env, job.get(), ErrorKind::kError, "could not build the encoded frame");
    }
  }

  if (encoder->finalized_) {
    delete encoder;
    return;
  }
  if (encoder->closed_) {
    encoder->DestroyCodec();  // close() arrived while this job ran
  } else {
    encoder->ApplyPendingBitrate();
  }
  encoder->StartNext(env);
}

napi_value Encoder::SetBitrate(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1] = {nullptr};
  napi_value self = nullptr;
  if (!Check(env, napi_get_cb_info(env, info, &argc, argv, &self, nullptr), "napi_get_cb_info")) {
    return nullptr;
  }
  Encoder* encoder = Unwrap<Encoder>(env, self, "Vp8Encoder");
  if (encoder == nullptr) return nullptr;
  if (encoder->closed_) {
    Throw(env, ErrorKind::kError, kClosed);
    return nullptr;
  }
  napi_valuetype type = napi_undefined;
  double kbps = 0;
  if (argc < 1 || napi_typeof(env, argv[0], &type) != napi_ok || type != napi_number) {
    Throw(env, ErrorKind::kTypeError, "bitrate (kbps) must be a number");
    return nullptr;
  }
  napi_get_value_double(env, argv[0], &kbps);
  if (!std::isfinite(kbps) || kbps <= 0 || kbps > kMaxBitrateKbps) {
    Throw(env, ErrorKind::kRangeError,
          "bitrate must be in (0, 1000000] kbps, got " + std::to_string(kbps));
    return nullptr;
  }
  const unsigned target = static_cast<unsigned>(std::max(1.0, std::round(kbps)));
  if (encoder->current_ != nullptr) {
    // The worker owns the codec now; the next frame picks the change up.
    encoder->pendingBitrate_ = target;
    return Undefined(env);
  }
  encoder->pendingBitrate_ = 0;
  vpx_codec_enc_cfg_t cfg = encoder->cfg_;
  cfg.rc_target_bitrate = target;
  if (vpx_codec_enc_config_set(&encoder->codec_, &cfg) != VPX_CODEC_OK) {
    Throw(env, ErrorKind::kError, CodecError(&encoder->codec_, "setBitrate failed"));
    return nullptr;
  }
  encoder->cfg_ = cfg;
  return Undefined(env);
}

napi_value Encoder::Close(napi_env env, napi_callback_info info) {
  napi_value self = nullptr;
  if (!Check(env, napi_get_cb_info(env, info, nullptr, nullptr, &self, nullptr),
             "napi_get_cb_info")) {
    return nullptr;
  }
  Encoder* encoder = Unwrap<Encoder>(env, self, "Vp8Encoder");
  if (encoder == nullptr) return nullptr;
  if (encoder->closed_) return Undefined(env);
  encoder->closed_ = true;
  // Queued frames never reach the codec; the one in flight finishes and resolves normally.
  while (!encoder->queue_.empty()) {
    Reject(env, encoder->queue_.front().get(), ErrorKind::kError, kClosed);
    encoder->queue_.pop_front();
  }
  if (encoder->current_ == nullptr) encoder->DestroyCodec();
  return Undefined(env);
}

}  // namespace

napi_value DefineVp8Encoder(napi_env env) {
  napi_property_descriptor methods[] = {
      {"encode", nullptr, Encoder::Encode, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"setBitrate", nullptr, Encoder::SetBitrate, nullptr, nullptr, nullptr, napi_default,
       nullptr},
      {"close", nullptr, Encoder::Close, nullptr, nullptr, nullptr, napi_default, nullptr},
  };
  napi_value cls = nullptr;
  if (!Check(env,
             napi_define_class(env, "Vp8Encoder", NAPI_AUTO_LENGTH, Encoder::Constructor, nullptr,
                               sizeof(methods) / sizeof(methods[0]), methods, &cls),
             "napi_define_class")) {
    return nullptr;
  }
  return cls;
}

}  // namespace livegen
