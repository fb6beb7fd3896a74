import type { Manifest } from './ModelManifest.ts';
import type { InferenceClient } from './InferenceClient.ts';
import { HistoryPyramid, type HistoryMode } from './HistoryPyramid.ts';
import { PromptLog, type PromptEntry } from './PromptLog.ts';
import type { FrameResult } from './Sampler.ts';
import { InvalidStateError } from '../errors.ts';

export interface StreamOptions {
  prompt: string;
  seed: number;
  history?: HistoryMode;
  /** Run the history graph before every denoising step: a cost baseline only (Sampler). */
  reencodeHistory?: boolean;
}

/** A decoded latent frame of a stream. */
export interface StreamChunk extends FrameResult {
  /** Index of the latent frame; its video frames are index * framesPerLatent onwards. */
  index: number;
  prompt: string;
}

/**
 * One generated video: its seed, prompt log, history and decoder cache. Latent frames are made
 * one at a time, in order; a steer governs from the first latent frame not yet started.
 */
export class Stream {
  readonly #client: InferenceClient;
  readonly #seed: number;
  readonly #history: HistoryPyramid;
  readonly #log: PromptLog;
  readonly #reencodeHistory: boolean;
  #cache: Float32Array;
  #next = 0;
  #inFlight = false;
  #closed = false;

  constructor(client: InferenceClient, manifest: Manifest, options: StreamOptions) {
    if (!Number.isInteger(options.seed) || options.seed < 0 || options.seed > 0xffffffff) {
      throw new TypeError(`seed must be an integer in 0..4294967295, not ${options.seed}`);
    }
    this.#client = client;
    this.#seed = options.seed;
    this.#history = new HistoryPyramid(manifest, options.history ?? 'pyramid');
    this.#log = new PromptLog(options.prompt);
    this.#reencodeHistory = options.reencodeHistory ?? false;
    const { channels, height, width } = manifest.latent;
    this.#cache = new Float32Array(channels * height * width);
  }

  /** The seed of the stream's noise. */
  get seed(): number {
    return this.#seed;
  }

  /** Latent frames generated so far. */
  get generated(): number {
    return this.#next;
  }

  /** The prompt log, oldest first. */
  get prompts(): readonly PromptEntry[] {
    return this.#log.entries;
  }

  /**
   * Changes the prompt from the first latent frame not yet started (or `from`, if later), fading
   * the text embeddings over `blendFrames` latent frames when that is above 0.
   */
  steer(prompt: string, from?: number, blendFrames = 0): PromptEntry {
    if (this.#closed) throw new InvalidStateError('stream closed');
    const first = this.#next + (this.#inFlight ? 1 : 0);
    return this.#log.add(prompt, Math.max(first, from ?? first), this.#next, blendFrames);
  }

  /** Generates and decodes the next latent frame. */
  async next(): Promise<StreamChunk> {
    if (this.#closed) throw new InvalidStateError('stream closed');
    if (this.#inFlight) throw new InvalidStateError('a latent frame is already being generated');
    const index = this.#next;
    const { prompt, blend } = this.#log.conditionAt(index);
    this.#inFlight = true;
    try {
      const result = await this.#client.sample({
        seed: this.#seed,
        frame: index,
        prompt,
        blend,
        history: this.#history.levels(),
        previous: this.#history.previous(),
        reencodeHistory: this.#reencodeHistory,
        cache: this.#cache,
      });
      this.#history.push(result.latent);
      this.#cache = result.nextCache;
      this.#next = index + 1;
      return { ...result, index, prompt };
    } finally {
      this.#inFlight = false;
    }
  }

  /** Stops the stream; later calls throw. Idempotent. */
  close(): void {
    this.#closed = true;
  }
}
