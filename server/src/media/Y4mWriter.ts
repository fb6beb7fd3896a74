import { createWriteStream, type WriteStream } from 'node:fs';
import { once } from 'node:events';

/**
 * Writes RGB frames as YUV4MPEG2 (4:2:0, BT.601 limited range, the range players assume).
 * The conversion is plain integer arithmetic, so the same frames give the same bytes.
 */
export class Y4mWriter {
  readonly #out: WriteStream;
  readonly #width: number;
  readonly #height: number;

  constructor(path: string, width: number, height: number, fps: number) {
    if (width % 2 || height % 2) throw new RangeError(`Y4M 4:2:0 needs even sizes, not ${width}x${height}`);
    this.#width = width;
    this.#height = height;
    this.#out = createWriteStream(path);
    const [num, den] = Number.isInteger(fps) ? [fps, 1] : [Math.round(fps * 1000), 1000];
    this.#out.write(`YUV4MPEG2 W${width} H${height} F${num}:${den} Ip A1:1 C420jpeg\n`);
  }

  /** Appends frames given as (n, H, W, 3) RGB bytes. */
  async write(rgb: Uint8Array): Promise<void> {
    const size = this.#width * this.#height * 3;
    for (let offset = 0; offset < rgb.length; offset += size) {
      const frame = toI420(rgb.subarray(offset, offset + size), this.#width, this.#height);
      if (!this.#out.write('FRAME\n') || !this.#out.write(frame)) await once(this.#out, 'drain');
    }
  }

  /** Flushes and closes the file. */
  async close(): Promise<void> {
    this.#out.end();
    await once(this.#out, 'finish');
  }
}

/** One RGB frame to planar I420 (Y, then U and V at half resolution, each from a 2x2 mean). */
export function toI420(rgb: Uint8Array, width: number, height: number): Uint8Array {
  const out = new Uint8Array((width * height * 3) / 2);
  const uOff = width * height;
  const vOff = uOff + (width * height) / 4;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      const r = rgb[i] ?? 0;
      const g = rgb[i + 1] ?? 0;
      const b = rgb[i + 2] ?? 0;
      out[y * width + x] = ((66 * r + 129 * g + 25 * b + 128) >> 8) + 16;
    }
  }
  for (let y = 0; y < height; y += 2) {
    for (let x = 0; x < width; x += 2) {
      let r = 0;
      let g = 0;
      let b = 0;
      for (const [dy, dx] of [[0, 0], [0, 1], [1, 0], [1, 1]] as const) {
        const i = ((y + dy) * width + x + dx) * 3;
        r += rgb[i] ?? 0;
        g += rgb[i + 1] ?? 0;
        b += rgb[i + 2] ?? 0;
      }
      const c = (y / 2) * (width / 2) + x / 2;
      out[uOff + c] = ((-38 * r - 74 * g + 112 * b + 512) >> 10) + 128;
      out[vOff + c] = ((112 * r - 94 * g - 18 * b + 512) >> 10) + 128;
    }
  }
  return out;
}
