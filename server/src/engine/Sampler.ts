import type { GraphName, Manifest } from './ModelManifest.ts';
import { Tokenizer } from './Tokenizer.ts';
import { gaussian } from './noise.ts';
import { blockNoise, takeRows, upsample2 } from './LatentOps.ts';
import type { HistoryLevel } from './HistoryPyramid.ts';

/** The seed candidate j of a stream's first frame draws all its noise from: (seed + j * stride) mod 2^32. */
export function candidateSeed(seed: number, j: number, stride: number): number {
  return (seed + j * stride) % 4294967296;
}

/** A tensor crossing the ONNX boundary. */
export interface TensorData {
  type: 'float32' | 'int64' | 'uint8';
  dims: number[];
  data: Float32Array | BigInt64Array | Uint8Array;
}

export type Feeds = Record<string, TensorData>;

/** Runs one graph of the model; the inference worker's sessions, or anything that acts like them. */
export interface GraphRunner {
  run(graph: GraphName, feeds: Feeds): Promise<Feeds>;
}

/** What one latent frame needs from its stream. */
export interface FrameJob {
  seed: number;
  frame: number;
  prompt: string;
  /** Inside a prompt blend: the earlier prompt and the weight of `prompt` against it. */
  blend?: { from: string; weight: number } | undefined;
  history: HistoryLevel[];
  /**
   * The latent frame before the newest (C, h, w): a bridge model carries the newest on by the
   * motion between them and by the prompt; none for a stream's second frame, whose motion the
   * prompt alone starts.
   */
  previous?: Float32Array | undefined;
  /**
   * The cost baseline of Pyramid Flow's own sampler, which feeds the history through the model
   * at every denoising step: the history graph runs again before each step (same result).
   */
  reencodeHistory?: boolean | undefined;
  cache: Float32Array; // (C, h, w) the decoder's causal cache; zeros for a stream's first frame
}

/** One new latent frame and its video frames. */
export interface FrameResult {
  latent: Float32Array; // (C, h, w)
  frames: Uint8Array; // (framesPerLatent, H, W, 3) RGB
  nextCache: Float32Array; // (C, h, w)
  ms: { text: number; history: number; steps: number; decoder: number };
}

function float(dims: number[], data: Float32Array): TensorData {
  return { type: 'float32', dims, data };
}

function output(feeds: Feeds, name: string): TensorData {
  const t = feeds[name];
  if (!t) throw new Error(`model graph gave no output named ${name}`);
  return t;
}

/**
 * Rows of each step graph run at a guidance weight: (cond, uncond), or at 1, where
 * v_uncond + 1 (v_cond - v_uncond) is v_cond, the conditional half alone.
 */
export function stepBatch(guidance: number): 1 | 2 {
  return guidance === 1 ? 1 : 2;
}

/** The spatial-pyramid stage a latent frame with a past starts at: the last for a bridge model. */
export function continuationStage(m: Manifest): number {
  return m.denoiser.continuation === 'bridge' ? m.spatialPyramid.stages.length - 1 : 0;
}

/**
 * The newest past latent frame, uncorrupted: slot 0 of the full-resolution history level; none at
 * a stream's start. A residual model's flow gives the change from it, and a bridge model's flow
 * starts from it.
 */
function newestFrame(finest: HistoryLevel | undefined): Float32Array | undefined {
  if (!finest?.mask[0]) return undefined;
  return finest.latents.subarray(0, finest.latents.length / finest.frames);
}

function add(a: Float32Array, b: Float32Array): Float32Array {
  const out = new Float32Array(a.length);
  for (let j = 0; j < out.length; j++) out[j] = (a[j] ?? 0) + (b[j] ?? 0);
  return out;
}

/**
 * The spatial-pyramid flow sampler with its bounded temporal-pyramid history, exactly as
 * docs/model-format.md ("Sampling one latent frame") and models/livegen/sampler.py define it.
 */
export class Sampler {
  readonly #m: Manifest;
  readonly #runner: GraphRunner;
  readonly #tokenizer: Tokenizer;
  readonly #texts = new Map<string, { text: TensorData; mask: TensorData }>();
  readonly #guidance: number;

  constructor(manifest: Manifest, runner: GraphRunner, guidance = manifest.guidance.scale) {
    this.#m = manifest;
    this.#runner = runner;
    this.#tokenizer = new Tokenizer(manifest.tokenizer);
    this.#guidance = guidance;
  }

  /** Conditional and unconditional embeddings of a prompt, computed once per distinct prompt. */
  async #text(prompt: string): Promise<{ text: TensorData; mask: TensorData }> {
    const cached = this.#texts.get(prompt);
    if (cached) return cached;
    const ids = [...this.#tokenizer.encode(prompt), ...this.#tokenizer.encode('')];
    const out = await this.#runner.run('textEncoder', {
      ids: { type: 'int64', dims: [2, this.#tokenizer.maxTokens], data: BigInt64Array.from(ids, BigInt) },
    });
    const entry = { text: output(out, 'text'), mask: output(out, 'text_mask') };
    if (this.#texts.size >= 64) this.#texts.delete(this.#texts.keys().next().value as string);
    this.#texts.set(prompt, entry);
    return entry;
  }

  /**
   * The conditional embedding fades linearly from one prompt's to another's; a token position
   * counts wherever either prompt has a token. The unconditional half is the same for both.
   */
  async #blend(from: string, to: string, weight: number): Promise<{ text: TensorData; mask: TensorData }> {
    const a = await this.#text(from);
    const b = await this.#text(to);
    const ta = a.text.data as Float32Array;
    const tb = b.text.data as Float32Array;
    const text = new Float32Array(tb.length);
    for (let j = 0; j < text.length; j++) text[j] = (1 - weight) * (ta[j] ?? 0) + weight * (tb[j] ?? 0);
    const ma = a.mask.data;
    const mask = b.mask.data.slice();
    for (let j = 0; j < mask.length; j++) if ((ma[j] ?? 0) > (mask[j] ?? 0)) mask[j] = ma[j] ?? 0;
    return { text: { ...b.text, data: text }, mask: { ...b.mask, data: mask } };
  }

  /**
   * The newest latent frame moved on by the motion the decoder sees between it and the one before
   * (zeros when there is none) and by what the prompt (its conditional row) says.
   */
  async #carry(newest: Float32Array, previous: Float32Array | undefined, text: TensorData, mask: TensorData): Promise<Float32Array> {
    const { channels: c, height, width } = this.#m.latent;
    const out = await this.#runner.run('carry', {
      latent: float([1, c, height, width], newest),
      previous: float([1, c, height, width], previous ?? new Float32Array(newest.length)),
      text,
      text_mask: mask,
    });
    return output(out, 'moved').data as Float32Array;
  }

  /** How many first frames a stream start samples: the manifest's candidates where a critic picks one. */
  #candidates(newest: Float32Array | undefined): number {
    return newest || !this.#m.graphs.critic ? 1 : (this.#m.firstFrame?.candidates ?? 1);
  }

  /** Samples and decodes one latent frame. */
  async sample(job: FrameJob): Promise<FrameResult> {
    const m = this.#m;
    const { channels: c, height, width } = m.latent;
    const base = job.frame * m.rng.streamsPerLatentFrame;
    const t0 = performance.now();
    const { text, mask } = job.blend ? await this.#blend(job.blend.from, job.prompt, job.blend.weight) : await this.#text(job.prompt);
    const t1 = performance.now();

    const sigmaC = m.temporalPyramid.noise;
    const historyFeeds: Feeds = { sigma_c: float([1], Float32Array.of(sigmaC)) };
    job.history.forEach((level, i) => {
      const n = gaussian(job.seed, base + m.rng.historyNoise + i, level.latents.length);
      const slotSize = level.latents.length / level.frames;
      const noisy = new Float32Array(level.latents.length);
      for (let j = 0; j < noisy.length; j++) {
        const slot = Math.floor(j / slotSize);
        noisy[j] = (1 - sigmaC) * (level.latents[j] ?? 0) + sigmaC * (n[j] ?? 0) * (level.mask[slot] ?? 0);
      }
      historyFeeds[`history_${i}`] = float([1, level.frames, c, level.side, level.side], noisy);
      historyFeeds[`history_${i}_age`] = float([1, level.frames], level.ages);
      historyFeeds[`history_${i}_mask`] = float([1, level.frames], level.mask);
    });
    const ctx = await this.#runner.run('history', historyFeeds);
    const newest = newestFrame(job.history[0]);
    const seeds = Array.from({ length: this.#candidates(newest) }, (_, j) => candidateSeed(job.seed, j, m.firstFrame?.candidateStride ?? 0));
    const rows = seeds.length;
    const guided = stepBatch(this.#guidance) === 2;
    // Step graph rows: each candidate's conditional half, then (guided) each one's unconditional half.
    const conditional = Array<number>(rows).fill(0);
    const textRows = [...conditional, ...Array<number>(guided ? rows : 0).fill(1)];
    const historyRows = Array<number>(textRows.length).fill(0);
    const take = (t: TensorData, axis: number, which: number[]): TensorData => ({ ...t, ...takeRows(t.data as Float32Array, t.dims, axis, which) });
    const stepFeeds: Feeds = {
      text: take(text, 0, textRows),
      text_mask: take(mask, 0, textRows),
      history_k: take(output(ctx, 'history_k'), 1, historyRows),
      history_v: take(output(ctx, 'history_v'), 1, historyRows),
      history_bias: take(output(ctx, 'history_bias'), 0, historyRows),
    };
    const t2 = performance.now();

    const stages = m.spatialPyramid.stages;
    const from = newest ? continuationStage(m) : 0;
    const first = stages[from];
    if (!first) throw new Error('manifest has no spatial-pyramid stage');
    let h = Math.round(height * first.scale);
    let w = Math.round(width * first.scale);
    let x: Float32Array = new Float32Array(rows * c * h * w);
    seeds.forEach((seed, r) => x.set(gaussian(seed, base + m.rng.stageNoise, c * h * w), r * c * h * w));
    if (newest && from > 0) {
      const start = await this.#carry(newest, job.previous, take(text, 0, [0]), take(mask, 0, [0]));
      const s = first.sigmaStart;
      for (let j = 0; j < x.length; j++) x[j] = (1 - s) * (start[j] ?? 0) + s * (x[j] ?? 0);
    }
    for (let s = from; s < stages.length; s++) {
      const stage = stages[s];
      if (!stage) continue;
      if (s > from && stage.renoise) {
        const { alpha, beta } = stage.renoise;
        const next = new Float32Array(x.length * 4);
        seeds.forEach((seed, r) => {
          const up = upsample2(x.subarray(r * c * h * w, (r + 1) * c * h * w), c, h, w);
          const bn = blockNoise(gaussian(seed, base + m.rng.stageNoise + s, up.length), c, 2 * h, 2 * w);
          for (let j = 0; j < up.length; j++) next[r * up.length + j] = alpha * (up[j] ?? 0) + beta * (bn[j] ?? 0);
        });
        x = next;
        h *= 2;
        w *= 2;
      }
      const n = stage.steps;
      for (let i = 0; i < n; i++) {
        const sigma = stage.sigmaStart + ((stage.sigmaEnd - stage.sigmaStart) * i) / n;
        if (job.reencodeHistory) await this.#runner.run('history', historyFeeds);
        const latent = new Float32Array(textRows.length * c * h * w);
        latent.set(x);
        if (guided) latent.set(x, x.length);
        const out = await this.#runner.run('step', {
          ...stepFeeds,
          latent: float([textRows.length, c, h, w], latent),
          sigma: float([textRows.length], new Float32Array(textRows.length).fill(sigma)),
        });
        const vel = output(out, 'velocity').data as Float32Array;
        const len = x.length;
        const next = new Float32Array(len);
        for (let j = 0; j < len; j++) {
          const cond = vel[j] ?? 0;
          const uncond = guided ? (vel[len + j] ?? 0) : cond;
          next[j] = (x[j] ?? 0) + (uncond + this.#guidance * (cond - uncond)) / n;
        }
        x = next;
      }
    }
    if (m.denoiser.predicts === 'residual' && newest) x = add(x, newest);
    const t3 = performance.now();

    const cache = take(float([1, c, height, width], job.cache), 0, conditional);
    const decoded = await this.#runner.run('vaeDecoder', { latent: float([rows, c, height, width], x), cache });
    const frames = output(decoded, 'frames');
    const best = rows > 1 ? await this.#pick(frames, take(text, 0, conditional), take(mask, 0, conditional)) : 0;
    const row = <T extends Float32Array | Uint8Array>(data: T): T => data.slice((best * data.length) / rows, ((best + 1) * data.length) / rows) as T;
    const t4 = performance.now();
    return {
      latent: row(x),
      frames: row(frames.data as Uint8Array),
      nextCache: row(output(decoded, 'next_cache').data as Float32Array),
      ms: { text: t1 - t0, history: t2 - t1, steps: t3 - t2, decoder: t4 - t3 },
    };
  }

  /** Which candidate first frame (rows of the decoded `frames`) the critic scores highest; the first of equals. */
  async #pick(frames: TensorData, text: TensorData, mask: TensorData): Promise<number> {
    const out = await this.#runner.run('critic', { frames, text, text_mask: mask });
    const score = output(out, 'score').data as Float32Array;
    let best = 0;
    for (let r = 1; r < score.length; r++) if ((score[r] ?? -Infinity) > (score[best] ?? -Infinity)) best = r;
    return best;
  }
}
