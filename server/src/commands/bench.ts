import { writeFile } from 'node:fs/promises';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { loadModelDescription } from '../engine/ModelManifest.ts';
import { InferenceClient } from '../engine/InferenceClient.ts';
import { Stream } from '../engine/Stream.ts';
import { benchGraphs, matmulPeak } from '../bench/graphBench.ts';
import { intFlag, positiveFlag, providerFlag } from './args.ts';

const PROMPT = 'a large red circle moving left and a small yellow square bouncing on a blue background';

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
}

function stats(values: number[]): { p50: number; p95: number } {
  const s = [...values].sort((a, b) => a - b);
  return { p50: quantile(s, 0.5), p95: quantile(s, 0.95) };
}

/** Late over early median latent-frame time: 1.0 is perfectly flat. */
function flatness(ms: number[], window: number): number {
  if (ms.length < 2 * window) return NaN;
  return stats(ms.slice(-window)).p50 / stats(ms.slice(0, window)).p50;
}

/**
 * `livegen bench`: one stream with the bounded temporal pyramid for --minutes of video, and,
 * interleaved frame by frame in the same run, the same model with unbounded full-resolution
 * history for --full-minutes (it grows, which is the point, so it stops early).
 */
export async function benchCommand(args: string[], defaultModel: string): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      model: { type: 'string', default: defaultModel },
      minutes: { type: 'string', default: '1' },
      'full-minutes': { type: 'string', default: '0.5' },
      'reencode-minutes': { type: 'string', default: '0.25' },
      provider: { type: 'string', default: 'cpu' },
      threads: { type: 'string', default: '2' },
      starts: { type: 'string', default: '5' },
      json: { type: 'string' },
    },
  });
  const model = await loadModelDescription(values.model);
  const m = model.manifest;
  const threads = intFlag(values.threads, '--threads', 1, 256);
  const latentSeconds = m.latent.framesPerLatent / m.video.fps;
  const frames = Math.max(2, Math.round((positiveFlag(values.minutes, '--minutes') * 60) / latentSeconds));
  const fullFrames = Math.min(frames, Math.round((positiveFlag(values['full-minutes'], '--full-minutes') * 60) / latentSeconds));
  const reencodeFrames = Math.min(frames, Math.round((positiveFlag(values['reencode-minutes'], '--reencode-minutes') * 60) / latentSeconds));
  const starts = intFlag(values.starts, '--starts', 0, 1000);
  const provider = providerFlag(values.provider);
  const window = Math.max(1, Math.min(Math.round(60 / latentSeconds), Math.floor(frames / 10)));

  const peak = await matmulPeak(threads);
  const client = await InferenceClient.open({ modelDir: model.dir, executionProvider: provider, threads });
  const lag = monitorEventLoopDelay({ resolution: 10 });
  const pyramid = new Stream(client, m, { prompt: PROMPT, seed: 1 });
  const full = new Stream(client, m, { prompt: PROMPT, seed: 1, history: 'full' });
  const reencode = new Stream(client, m, { prompt: PROMPT, seed: 1, reencodeHistory: true });
  const pyramidMs: number[] = [];
  const phases: Record<'history' | 'steps' | 'decoder', number[]> = { history: [], steps: [], decoder: [] };
  const fullMs: number[] = [];
  const reencodeMs: number[] = [];
  const startMs: number[] = [];
  const rss: { latentFrame: number; mb: number }[] = [];
  const started = performance.now();
  lag.enable();
  try {
    for (let k = 0; k < frames; k++) {
      let t = performance.now();
      const chunk = await pyramid.next();
      pyramidMs.push(performance.now() - t);
      for (const phase of ['history', 'steps', 'decoder'] as const) phases[phase].push(chunk.ms[phase]);
      if (k < fullFrames) {
        t = performance.now();
        await full.next();
        fullMs.push(performance.now() - t);
      }
      if (k < reencodeFrames) {
        t = performance.now();
        await reencode.next();
        reencodeMs.push(performance.now() - t);
      }
      if (k % Math.max(1, Math.floor(frames / 100)) === 0) rss.push({ latentFrame: k, mb: process.memoryUsage().rss / 2 ** 20 });
      if (process.stderr.isTTY || k % 50 === 0) {
        process.stderr.write(`\rlatent frame ${k + 1}/${frames}: ${pyramidMs.at(-1)?.toFixed(0)} ms pyramid, ${fullMs.at(-1)?.toFixed(0) ?? '-'} ms full `);
      }
    }
    // A stream's first latent frame, warm: a model with a critic samples and decodes all its candidates.
    for (let i = 0; i < starts; i++) {
      const t = performance.now();
      await new Stream(client, m, { prompt: PROMPT, seed: 100 + i }).next();
      startMs.push(performance.now() - t);
    }
  } finally {
    lag.disable();
    await client.close();
  }
  process.stderr.write('\n');
  // The graphs alone, on the same box in the same run: what the engine's loop adds is the difference.
  const graphs = await benchGraphs(model.dir, threads, 20);
  const graphSteps = graphs.stepsPhaseMs;
  const latent = stats(pyramidMs);
  const result = {
    model: { name: m.name, version: m.version, dir: model.dir },
    provider,
    threads,
    videoSeconds: frames * latentSeconds,
    wallSeconds: (performance.now() - started) / 1000,
    latentFrames: frames,
    latentFrameMs: latent,
    rtf: (latentSeconds * 1000) / latent.p50,
    streamStart: {
      firstLatentFrameMs: stats(startMs),
      runs: starts,
      firstFrameCandidates: m.graphs.critic ? (m.firstFrame?.candidates ?? 1) : 1,
      note: 'a new stream\'s first latent frame, warm, one at a time after the run: every candidate sampled and decoded, the critic\'s pick',
    },
    flatness: flatness(pyramidMs, window),
    flatnessWindowLatentFrames: window,
    gflopPerLatentFrame: m.gflop.perLatentFrame,
    achievedGflops: m.gflop.perLatentFrame / (latent.p50 / 1000),
    matmulPeakGflops: peak,
    eventLoopLagMs: { p99: lag.percentile(99) / 1e6, max: lag.max / 1e6 },
    rssMb: rss,
    phasesMs: {
      engine: { history: stats(phases.history).p50, steps: stats(phases.steps).p50, decoder: stats(phases.decoder).p50 },
      graphsAlone: { history: graphs.ms.history, steps: graphSteps, decoder: graphs.ms.vaeDecoder, latentFrame: graphs.latentFrameMs },
      note: 'p50 of each phase of the pyramid stream in the inference worker, and the same graphs timed alone (20 runs each) after it',
    },
    fullHistory: {
      latentFrames: fullFrames,
      latentFrameMs: stats(fullMs),
      firstMs: stats(fullMs.slice(0, window)).p50,
      lastMs: stats(fullMs.slice(-window)).p50,
      flatness: flatness(fullMs, Math.min(window, Math.floor(fullFrames / 4))),
    },
    reencodeHistory: {
      latentFrames: reencodeFrames,
      latentFrameMs: stats(reencodeMs),
      note: 'the bounded pyramid with the history graph run before every denoising step, as Pyramid Flow samples',
    },
    note: 'generation and decoding only (no encoding); the streams share one inference worker, interleaved latent frame by latent frame',
  };
  console.log(`pyramid: p50 ${latent.p50.toFixed(1)} ms per latent frame (p95 ${latent.p95.toFixed(1)}), rtf ${result.rtf.toFixed(2)}, flatness ${result.flatness.toFixed(3)}
full history: ${result.fullHistory.firstMs.toFixed(1)} ms -> ${result.fullHistory.lastMs.toFixed(1)} ms over ${fullFrames} latent frames (flatness ${result.fullHistory.flatness.toFixed(2)})
history re-encoded at every step: p50 ${result.reencodeHistory.latentFrameMs.p50.toFixed(1)} ms per latent frame over ${reencodeFrames}
phases p50 (engine / graphs alone): history ${result.phasesMs.engine.history.toFixed(1)} / ${graphs.ms.history.toFixed(1)} ms, steps ${result.phasesMs.engine.steps.toFixed(1)} / ${graphSteps.toFixed(1)} ms, decoder ${result.phasesMs.engine.decoder.toFixed(1)} / ${graphs.ms.vaeDecoder.toFixed(1)} ms
compute: ${result.achievedGflops.toFixed(1)} GFLOP/s achieved, matmul peak ${peak.toFixed(1)} GFLOP/s
stream start: p50 ${result.streamStart.firstLatentFrameMs.p50.toFixed(1)} ms for the first latent frame (${result.streamStart.firstFrameCandidates} candidate(s))
event loop lag p99 ${result.eventLoopLagMs.p99.toFixed(1)} ms; RSS ${rss[0]?.mb.toFixed(0)} -> ${rss.at(-1)?.mb.toFixed(0)} MB`);
  if (values.json) await writeFile(values.json, JSON.stringify(result, null, 2) + '\n');
  return 0;
}
