// RGB <-> I420 in BT.601 limited range, the matrix VP8 decoders and browsers assume.
#pragma once
#include <cstddef>
#include <cstdint>

namespace livegen {

// Packed RGB (width*height*3) to three planes. Chroma is the mean of each 2x2 block, so
// width and height must be even. The integer formulas match server/src/media/Y4mWriter.ts
// so the same frame gives the same bytes on both paths.
void RgbToI420(const uint8_t* rgb, int width, int height, uint8_t* y, int yStride, uint8_t* u,
               int uStride, uint8_t* v, int vStride);

// Three planes to packed RGB. Any width/height (odd sizes use the shared last chroma sample).
void I420ToRgb(const uint8_t* y, int yStride, const uint8_t* u, int uStride, const uint8_t* v,
               int vStride, int width, int height, uint8_t* rgb);

}  // namespace livegen
