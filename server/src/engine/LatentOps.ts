/**
 * The few tensor operations the sampler needs on (C, h, w) float32 latents, in plain loops:
 * they touch a few thousand values per latent frame, far below what a graph call costs.
 */

/** Mean of each f x f block: (C, h, w) -> (C, h/f, w/f). */
export function avgPool(x: Float32Array, c: number, h: number, w: number, f: number): Float32Array {
  if (f === 1) return x.slice();
  const oh = h / f;
  const ow = w / f;
  const out = new Float32Array(c * oh * ow);
  const inv = 1 / (f * f);
  for (let ch = 0; ch < c; ch++) {
    for (let y = 0; y < oh; y++) {
      for (let xo = 0; xo < ow; xo++) {
        let sum = 0;
        for (let dy = 0; dy < f; dy++) {
          const row = (ch * h + y * f + dy) * w + xo * f;
          for (let dx = 0; dx < f; dx++) sum += x[row + dx] ?? 0;
        }
        out[(ch * oh + y) * ow + xo] = sum * inv;
      }
    }
  }
  return out;
}

/** Nearest 2x upsampling: (C, h, w) -> (C, 2h, 2w). */
export function upsample2(x: Float32Array, c: number, h: number, w: number): Float32Array {
  const out = new Float32Array(c * 4 * h * w);
  const w2 = 2 * w;
  for (let ch = 0; ch < c; ch++) {
    for (let y = 0; y < 2 * h; y++) {
      const src = (ch * h + (y >> 1)) * w;
      const dst = (ch * 2 * h + y) * w2;
      for (let xo = 0; xo < w2; xo++) out[dst + xo] = x[src + (xo >> 1)] ?? 0;
    }
  }
  return out;
}

/** Pyramid Flow's block noise: (2 / sqrt 3)(z - mean of its 2x2 block), zero mean in every block. */
export function blockNoise(z: Float32Array, c: number, h: number, w: number): Float32Array {
  const means = upsample2(avgPool(z, c, h, w, 2), c, h / 2, w / 2);
  const k = 2 / Math.sqrt(3);
  const out = new Float32Array(z.length);
  for (let i = 0; i < z.length; i++) out[i] = k * ((z[i] ?? 0) - (means[i] ?? 0));
  return out;
}

/** The first row of a batch (axis 0): the conditional half of guidance's (cond, uncond) pair. */
export function firstRow(data: Float32Array, dims: readonly number[]): { data: Float32Array; dims: number[] } {
  const [rows = 1, ...rest] = dims;
  return { data: data.subarray(0, data.length / rows), dims: [1, ...rest] };
}

/**
 * The slices `rows` of a tensor along `axis`, in that order (an index may repeat): the batch rows a
 * graph call needs, such as guidance's (cond, uncond) pair or one row per first-frame candidate.
 */
export function takeRows(data: Float32Array, dims: readonly number[], axis: number, rows: readonly number[]): { data: Float32Array; dims: number[] } {
  const outer = dims.slice(0, axis).reduce((a, b) => a * b, 1);
  const count = dims[axis] ?? 1;
  const inner = data.length / outer / count;
  const out = new Float32Array(outer * rows.length * inner);
  for (let o = 0; o < outer; o++) {
    rows.forEach((r, i) => out.set(data.subarray((o * count + r) * inner, (o * count + r + 1) * inner), (o * rows.length + i) * inner));
  }
  const newDims = [...dims];
  newDims[axis] = rows.length;
  return { data: out, dims: newDims };
}
