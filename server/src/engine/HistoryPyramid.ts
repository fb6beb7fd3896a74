import type { Manifest } from './ModelManifest.ts';
import { avgPool } from './LatentOps.ts';

/** One level of the history as the history graph takes it (batch 1). */
export interface HistoryLevel {
  frames: number;
  side: number; // latent side at this level
  latents: Float32Array; // (frames, C, side, side), newest first
  ages: Float32Array; // (frames,) in latent frames: 1 is the frame just before the new one
  mask: Float32Array; // (frames,) 1 for a frame, 0 for an empty slot
}

export type HistoryMode = 'pyramid' | 'full';

/**
 * The temporal pyramid of one stream: the newest latent frames at full resolution, older ones
 * pooled coarser, the oldest dropped. Its token count is fixed once the stream has as many
 * frames as it has slots. `full` keeps every past frame at full resolution, unbounded: the cost
 * baseline the benchmark compares against.
 */
export class HistoryPyramid {
  readonly #levels: Manifest['temporalPyramid']['levels'];
  readonly #c: number;
  readonly #side: number;
  readonly #mode: HistoryMode;
  readonly #capacity: number;
  #past: Float32Array[] = []; // oldest first

  constructor(manifest: Manifest, mode: HistoryMode = 'pyramid') {
    this.#levels = manifest.temporalPyramid.levels;
    this.#c = manifest.latent.channels;
    this.#side = manifest.latent.height;
    this.#mode = mode;
    this.#capacity = mode === 'full' ? Infinity : this.#levels.reduce((n, l) => n + l.frames, 0);
  }

  /** Past latent frames held. */
  get length(): number {
    return this.#past.length;
  }

  /** Adds the newest latent frame (C, h, w); the oldest falls out when the pyramid is full. */
  push(latent: Float32Array): void {
    this.#past.push(latent);
    if (this.#past.length > this.#capacity) this.#past.shift();
  }

  /** The latent frame before the newest (C, h, w), uncorrupted; none before a stream's second frame. */
  previous(): Float32Array | undefined {
    return this.#past.at(-2);
  }

  /** The history graph's input for the next latent frame. */
  levels(): HistoryLevel[] {
    if (this.#mode === 'full') return this.#fullLevels();
    const out: HistoryLevel[] = [];
    let age = 1;
    for (const level of this.#levels) {
      const f = Math.round(1 / level.scale);
      const side = this.#side / f;
      const per = this.#c * side * side;
      const entry = this.#empty(level.frames, side);
      for (let slot = 0; slot < level.frames; slot++, age++) {
        entry.ages[slot] = age;
        const frame = this.#past[this.#past.length - age];
        if (!frame) continue;
        entry.latents.set(avgPool(frame, this.#c, this.#side, this.#side, f), slot * per);
        entry.mask[slot] = 1;
      }
      out.push(entry);
    }
    return out;
  }

  #empty(frames: number, side: number): HistoryLevel {
    return {
      frames,
      side,
      latents: new Float32Array(frames * this.#c * side * side),
      ages: new Float32Array(frames),
      mask: new Float32Array(frames),
    };
  }

  // Every past frame in level 0, newest first; the coarser levels get one empty slot each.
  #fullLevels(): HistoryLevel[] {
    const n = Math.max(1, this.#past.length);
    const per = this.#c * this.#side * this.#side;
    const first = this.#empty(n, this.#side);
    for (let slot = 0; slot < n; slot++) {
      first.ages[slot] = slot + 1;
      const frame = this.#past[this.#past.length - 1 - slot];
      if (!frame) continue;
      first.latents.set(frame, slot * per);
      first.mask[slot] = 1;
    }
    const rest = this.#levels.slice(1).map((level) => {
      const empty = this.#empty(1, this.#side * level.scale);
      empty.ages[0] = n + 1;
      return empty;
    });
    return [first, ...rest];
  }
}
