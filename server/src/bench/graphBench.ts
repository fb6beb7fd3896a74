import os from 'node:os';
import { writeFile } from 'node:fs/promises';
import * as ort from 'onnxruntime-node';
import { loadModelDescription, type ModelDescription } from '../engine/ModelManifest.ts';
import { gaussian } from '../engine/noise.ts';
import { firstRow, takeRows } from '../engine/LatentOps.ts';
import { continuationStage, stepBatch } from '../engine/Sampler.ts';
import { sessionOptions } from '../engine/sessionOptions.ts';

/** Median milliseconds of each graph call and what they add up to per latent frame. */
export interface GraphBenchResult {
  model: string;
  threads: number;
  cpu: string;
  runs: number;
  ms: { textEncoder: number; history: number; steps: number[]; vaeDecoder: number; carry: number };
  /** What the engine's steps phase runs for a latent frame with a past: its stages' steps, and a bridge model's carry. */
  stepsPhaseMs: number;
  /** Rows of each step graph run: 2 with guidance (cond, uncond), 1 at guidance 1. */
  stepBatch: number;
  latentFrameMs: number;
  videoFps: number;
  realTimeFactor: number;
  gflopPerVideoFrame: number;
  achievedGflops: number;
}

function float(dims: number[], seed: number): ort.Tensor {
  const n = dims.reduce((a, b) => a * b, 1);
  return new ort.Tensor('float32', gaussian(seed, 0, n), dims);
}

function filled(dims: number[], value: number): ort.Tensor {
  return new ort.Tensor('float32', new Float32Array(dims.reduce((a, b) => a * b, 1)).fill(value), dims);
}

async function median(session: ort.InferenceSession, feeds: Record<string, ort.Tensor>, runs: number): Promise<number> {
  for (let i = 0; i < 3; i++) await session.run(feeds);
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    await session.run(feeds);
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)] ?? NaN;
}

/**
 * Times every graph of a model on realistic inputs, one latent frame's worth: the history pass
 * once, each stage's steps as the engine runs them (batch 2 for guidance, 1 at guidance 1; for a
 * frame with a past, which is all but a stream's first), the decoder once, and a bridge model's
 * motion-carry graph once. The text encoder runs only when the prompt changes, so it is reported but not
 * counted per frame.
 */
export async function benchGraphs(dir: string, threads: number, runs: number): Promise<GraphBenchResult> {
  const model: ModelDescription = await loadModelDescription(dir);
  const m = model.manifest;
  const open = (file: string) => ort.InferenceSession.create(file, sessionOptions(threads));
  const [text, history, step, decoder] = await Promise.all([
    open(model.graphPaths.textEncoder),
    open(model.graphPaths.history),
    open(model.graphPaths.step),
    open(model.graphPaths.vaeDecoder),
  ]);
  const { channels: c, height, width } = m.latent;
  const L = m.tokenizer.maxTokens;
  const ids = new ort.Tensor('int64', new BigInt64Array(2 * L).fill(BigInt(m.tokenizer.bos)), [2, L]);
  const textMs = await median(text, { ids }, runs);
  const textOut = await text.run({ ids });

  const historyFeeds: Record<string, ort.Tensor> = { sigma_c: filled([1], m.temporalPyramid.noise) };
  m.temporalPyramid.levels.forEach((level, i) => {
    const f = level.frames;
    historyFeeds[`history_${i}`] = float([1, f, c, height * level.scale, width * level.scale], i + 1);
    historyFeeds[`history_${i}_age`] = filled([1, f], 1);
    historyFeeds[`history_${i}_mask`] = filled([1, f], 1);
  });
  const historyMs = await median(history, historyFeeds, runs);
  const ctx = await history.run(historyFeeds);
  const batch = stepBatch(m.guidance.scale);
  const perStep = (t: ort.Tensor | undefined, axis: number): ort.Tensor => {
    if (!t) throw new Error('graph output missing');
    if (batch === 1) return t;
    const r = takeRows(t.data as Float32Array, t.dims, axis, [0, 0]);
    return new ort.Tensor('float32', r.data, r.dims);
  };
  const conditionalRow = (t: ort.Tensor | undefined): ort.Tensor => {
    if (!t) throw new Error('text encoder output missing');
    const r = firstRow(t.data as Float32Array, t.dims);
    return new ort.Tensor('float32', r.data, r.dims);
  };
  const textRow = (t: ort.Tensor | undefined): ort.Tensor => {
    if (!t) throw new Error('text encoder output missing');
    return batch === 2 ? t : conditionalRow(t);
  };
  const stepFeedsBase = {
    sigma: filled([batch], 0.5),
    text: textRow(textOut['text']),
    text_mask: textRow(textOut['text_mask']),
    history_k: perStep(ctx['history_k'], 1),
    history_v: perStep(ctx['history_v'], 1),
    history_bias: perStep(ctx['history_bias'], 0),
  };
  const stepMs: number[] = [];
  for (const stage of m.spatialPyramid.stages) {
    const latent = float([batch, c, height * stage.scale, width * stage.scale], 7);
    stepMs.push(await median(step, { ...stepFeedsBase, latent }, runs));
  }
  const decoderMs = await median(decoder, { latent: float([1, c, height, width], 9), cache: filled([1, c, height, width], 0) }, runs);
  let carryMs = 0;
  if (model.graphPaths.carry) {
    const carry = await open(model.graphPaths.carry);
    const carryFeeds = {
      latent: float([1, c, height, width], 10),
      previous: float([1, c, height, width], 11),
      text: conditionalRow(textOut['text']),
      text_mask: conditionalRow(textOut['text_mask']),
    };
    carryMs = await median(carry, carryFeeds, runs);
    await carry.release();
  }

  // A latent frame with a past: every frame of a stream but its first.
  const from = continuationStage(m);
  const stepsTotal = m.spatialPyramid.stages.reduce((sum, stage, i) => sum + (i >= from ? stage.steps * (stepMs[i] ?? 0) : 0), 0);
  const latentFrameMs = historyMs + stepsTotal + decoderMs + carryMs;
  const videoFps = (m.latent.framesPerLatent * 1000) / latentFrameMs;
  await Promise.all([text, history, step, decoder].map((s) => s.release()));
  return {
    model: model.dir,
    threads,
    cpu: os.cpus()[0]?.model ?? 'unknown',
    runs,
    ms: { textEncoder: textMs, history: historyMs, steps: stepMs, vaeDecoder: decoderMs, carry: carryMs },
    stepsPhaseMs: stepsTotal + carryMs,
    stepBatch: batch,
    latentFrameMs,
    videoFps,
    realTimeFactor: videoFps / m.video.fps,
    gflopPerVideoFrame: m.gflop.perVideoFrame,
    achievedGflops: m.gflop.perLatentFrame / (latentFrameMs / 1000),
  };
}

/**
 * The box's float32 matmul rate through onnxruntime (GFLOP/s): a 1024^3 MatMul, the median of
 * `runs`. It is the ceiling the model's achieved GFLOP/s is compared with.
 */
export async function matmulPeak(threads: number, runs = 20): Promise<number> {
  const file = new URL('../../../models/bench/matmul.onnx', import.meta.url);
  const session = await ort.InferenceSession.create(file.pathname, sessionOptions(threads));
  const n = 1024;
  const ms = await median(session, { a: float([n, n], 1), b: float([n, n], 2) }, runs);
  await session.release();
  return (2 * n ** 3) / (ms / 1000) / 1e9;
}

/** Prints a table and optionally writes the JSON. */
export async function runGraphBench(dir: string, threads: number, runs: number, json: string | undefined): Promise<void> {
  const r = await benchGraphs(dir, threads, runs);
  const f = (x: number) => x.toFixed(1);
  console.log(`graph medians on ${threads} thread(s), ${r.cpu}:
  text encoder   ${f(r.ms.textEncoder)} ms (per prompt change)
  history pass   ${f(r.ms.history)} ms
  step           ${r.ms.steps.map(f).join(' / ')} ms per stage (batch ${r.stepBatch}: ${r.stepBatch === 2 ? 'guidance' : 'no unconditional half at guidance 1'})
  vae decoder    ${f(r.ms.vaeDecoder)} ms${r.ms.carry ? `\n  motion carry   ${f(r.ms.carry)} ms` : ''}
  latent frame   ${f(r.latentFrameMs)} ms -> ${f(r.videoFps)} video fps, real-time factor ${r.realTimeFactor.toFixed(2)}
  compute        ${r.gflopPerVideoFrame.toFixed(2)} GFLOP per video frame, ${f(r.achievedGflops)} GFLOP/s achieved`);
  if (json) await writeFile(json, JSON.stringify(r, null, 2) + '\n');
}
