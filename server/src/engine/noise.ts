/**
 * The seeded Gaussian generator of models/livegen/rng.py, written again with the same results:
 * counter-based, so any latent frame's noise is drawn without drawing what came before it.
 * docs/model-format.md gives the algorithm.
 */

/** The 32-bit integer hash behind the generator. */
export function hash32(x: number): number {
  x ^= x >>> 16;
  x = Math.imul(x, 0x7feb352d);
  x ^= x >>> 15;
  x = Math.imul(x, 0x846ca68b);
  x ^= x >>> 16;
  return x >>> 0;
}

const TWO_POW_32 = 4294967296;

/** `count` standard normal values for (seed, stream), as float32. */
export function gaussian(seed: number, stream: number, count: number): Float32Array {
  const base = (seed + hash32((stream + 0x9e3779b9) >>> 0)) >>> 0;
  const out = new Float32Array(count);
  for (let j = 0; 2 * j < count; j++) {
    const u1 = (hash32((base + 2 * j) >>> 0) + 1) / TWO_POW_32;
    const u2 = hash32((base + 2 * j + 1) >>> 0) / TWO_POW_32;
    const r = Math.sqrt(-2 * Math.log(u1));
    out[2 * j] = r * Math.cos(2 * Math.PI * u2);
    if (2 * j + 1 < count) out[2 * j + 1] = r * Math.sin(2 * Math.PI * u2);
  }
  return out;
}
