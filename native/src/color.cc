#include "color.h"

namespace livegen {

namespace {
inline uint8_t Clamp8(int x) { return static_cast<uint8_t>(x < 0 ? 0 : (x > 255 ? 255 : x)); }
}  // namespace

void RgbToI420(const uint8_t* rgb, int width, int height, uint8_t* y, int yStride, uint8_t* u,
               int uStride, uint8_t* v, int vStride) {
  for (int row = 0; row < height; ++row) {
    const uint8_t* src = rgb + static_cast<size_t>(row) * width * 3;
    uint8_t* dst = y + static_cast<size_t>(row) * yStride;
    for (int x = 0; x < width; ++x, src += 3) {
      dst[x] = static_cast<uint8_t>(((66 * src[0] + 129 * src[1] + 25 * src[2] + 128) >> 8) + 16);
    }
  }
  const size_t rowBytes = static_cast<size_t>(width) * 3;
  for (int row = 0; row < height; row += 2) {
    const uint8_t* top = rgb + static_cast<size_t>(row) * rowBytes;
    const uint8_t* bottom = top + rowBytes;
    uint8_t* du = u + static_cast<size_t>(row / 2) * uStride;
    uint8_t* dv = v + static_cast<size_t>(row / 2) * vStride;
    for (int x = 0; x < width; x += 2) {
      const int i = x * 3;
      const int r = top[i] + top[i + 3] + bottom[i] + bottom[i + 3];
      const int g = top[i + 1] + top[i + 4] + bottom[i + 1] + bottom[i + 4];
      const int b = top[i + 2] + top[i + 5] + bottom[i + 2] + bottom[i + 5];
      // Arithmetic right shift of negatives (floor), as JavaScript's >> does.
      du[x / 2] = Clamp8(((-38 * r - 74 * g + 112 * b + 512) >> 10) + 128);
      dv[x / 2] = Clamp8(((112 * r - 94 * g - 18 * b + 512) >> 10) + 128);
    }
  }
}

void I420ToRgb(const uint8_t* y, int yStride, const uint8_t* u, int uStride, const uint8_t* v,
               int vStride, int width, int height, uint8_t* rgb) {
  for (int row = 0; row < height; ++row) {
    const uint8_t* sy = y + static_cast<size_t>(row) * yStride;
    const uint8_t* su = u + static_cast<size_t>(row / 2) * uStride;
    const uint8_t* sv = v + static_cast<size_t>(row / 2) * vStride;
    uint8_t* dst = rgb + static_cast<size_t>(row) * width * 3;
    for (int x = 0; x < width; ++x, dst += 3) {
      const int c = 298 * (sy[x] - 16);
      const int d = su[x / 2] - 128;
      const int e = sv[x / 2] - 128;
      dst[0] = Clamp8((c + 409 * e + 128) >> 8);
      dst[1] = Clamp8((c - 100 * d - 208 * e + 128) >> 8);
      dst[2] = Clamp8((c + 516 * d + 128) >> 8);
    }
  }
}

}  // namespace livegen
