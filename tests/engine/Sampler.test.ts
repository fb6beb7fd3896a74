import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { loadModelDescription, type Manifest } from '../../server/src/engine/ModelManifest.ts';
import { InferenceClient } from '../../server/src/engine/InferenceClient.ts';
import { HistoryPyramid } from '../../server/src/engine/HistoryPyramid.ts';
import { Sampler, type Feeds, type GraphRunner, type TensorData } from '../../server/src/engine/Sampler.ts';
import { gaussian } from '../../server/src/engine/noise.ts';
import { checkSamplerParity } from './parity.ts';

const MODEL_DIR = process.env['LIVEGEN_TEST_MODEL'] ?? path.resolve(import.meta.dirname, '../../models/default');

const zeros = (dims: number[]): TensorData => ({ type: 'float32', dims, data: new Float32Array(dims.reduce((a, b) => a * b, 1)) });

/** Stands in for the model's graphs: text, history and decoder give zeros; the step (and carry) graphs are the test's. */
function fakeRunner(manifest: Manifest, graphs: { step: (feeds: Feeds) => Feeds; carry?: (feeds: Feeds) => Feeds }): GraphRunner {
  const tokens = manifest.tokenizer.maxTokens;
  return {
    run: async (graph, feeds): Promise<Feeds> => {
      if (graph === 'textEncoder') return { text: zeros([2, tokens, 4]), text_mask: zeros([2, tokens]) };
      if (graph === 'history') return { history_k: zeros([1, 1, 1, 1, 1]), history_v: zeros([1, 1, 1, 1, 1]), history_bias: zeros([1, 1, 1, 1]) };
      if (graph === 'step') return graphs.step(feeds);
      if (graph === 'carry') {
        assert.ok(graphs.carry, 'the sampler ran the carry graph');
        return graphs.carry(feeds);
      }
      return { frames: { type: 'uint8', dims: [1], data: new Uint8Array(1) }, next_cache: zeros([1]) };
    },
  };
}

test('the TypeScript sampler in the worker gives the PyTorch reference latents, prompt edit included', async () => {
  await checkSamplerParity(MODEL_DIR);
});

test('at guidance 1 the sampler skips the unconditional half and gives what the full guided formula gives', async (t) => {
  const { manifest } = await loadModelDescription(MODEL_DIR);
  const open = (guidance: number) => InferenceClient.open({ modelDir: MODEL_DIR, executionProvider: 'cpu', threads: 2, guidance });
  const [plain, guided] = await Promise.all([open(1), open(1 + 1e-6)]);
  t.after(() => Promise.all([plain.close(), guided.close()]));
  const { channels, height, width } = manifest.latent;
  const job = () => ({ seed: 3, frame: 0, prompt: 'a small red square moving left on a blue background',
    history: new HistoryPyramid(manifest).levels(), cache: new Float32Array(channels * height * width) });
  const a = await plain.sample(job());
  const b = await guided.sample(job());
  let worst = 0;
  for (let i = 0; i < a.latent.length; i++) worst = Math.max(worst, Math.abs((a.latent[i] ?? 0) - (b.latent[i] ?? 0)));
  assert.ok(worst < 1e-3, `max abs difference ${worst}`);
});

test('at guidance 1 every step graph runs on the conditional half alone (batch 1)', async () => {
  const { manifest } = await loadModelDescription(MODEL_DIR);
  const stepBatches: number[][] = [];
  const runner = fakeRunner(manifest, {
    step: (feeds) => {
      const batchOf = (name: string, axis = 0) => feeds[name]?.dims[axis] ?? -1;
      stepBatches.push([batchOf('latent'), batchOf('sigma'), batchOf('text'), batchOf('text_mask'),
        batchOf('history_k', 1), batchOf('history_v', 1), batchOf('history_bias')]);
      return { velocity: zeros(feeds['latent']?.dims ?? []) };
    },
  });
  const { channels, height, width } = manifest.latent;
  const job = { seed: 1, frame: 0, prompt: 'a red circle', history: new HistoryPyramid(manifest).levels(), cache: new Float32Array(channels * height * width) };
  await new Sampler(manifest, runner, 1).sample(job);
  await new Sampler(manifest, runner, 3).sample(job);
  const steps = manifest.spatialPyramid.stages.reduce((n, s) => n + s.steps, 0);
  assert.deepEqual(stepBatches, [...Array(steps).fill([1, 1, 1, 1, 1, 1, 1]), ...Array(steps).fill([2, 2, 2, 2, 2, 2, 2])]);
});

test('a residual model adds its flow to the newest history frame, and a first frame is the flow alone', async () => {
  const { manifest } = await loadModelDescription(MODEL_DIR);
  const residual = { ...manifest, denoiser: { ...manifest.denoiser, predicts: 'residual' as const } };
  const frame = { ...manifest, denoiser: { ...manifest.denoiser, predicts: 'frame' as const } };
  const { channels, height, width } = manifest.latent;
  const per = channels * height * width;
  const runner = fakeRunner(manifest, {
    step: (feeds) => {
      const latent = feeds['latent'];
      assert.ok(latent);
      return { velocity: { ...latent, data: (latent.data as Float32Array).map((v) => 0.5 - 0.3 * v) } };
    },
  });
  const history = new HistoryPyramid(manifest);
  const job = (frameIndex: number) => ({ seed: 5, frame: frameIndex, prompt: 'a red circle', history: history.levels(), cache: new Float32Array(per) });
  const first = [await new Sampler(frame, runner).sample(job(0)), await new Sampler(residual, runner).sample(job(0))];
  assert.deepEqual(first[1]?.latent, first[0]?.latent);
  const older = Float32Array.from({ length: per }, (_, j) => Math.cos(j));
  const newest = Float32Array.from({ length: per }, (_, j) => Math.sin(j));
  history.push(older);
  history.push(newest);
  const [a, b] = [await new Sampler(frame, runner).sample(job(2)), await new Sampler(residual, runner).sample(job(2))];
  let worst = 0;
  for (let j = 0; j < per; j++) worst = Math.max(worst, Math.abs((b.latent[j] ?? 0) - (a.latent[j] ?? 0) - (newest[j] ?? 0)));
  assert.ok(worst < 1e-6, `max abs difference ${worst}`);
});

test('a bridge model continues from the newest history frame carried on by the carry graph (given the frame before it, zeros for a second frame, and the prompt), through the last stage alone, and samples a first frame through every stage', async () => {
  const { manifest } = await loadModelDescription(MODEL_DIR);
  const bridge = { ...manifest, denoiser: { ...manifest.denoiser, continuation: 'bridge' as const } };
  const { channels, height, width } = manifest.latent;
  const per = channels * height * width;
  const steps: { dims: number[]; sigma: number; latent: Float32Array }[] = [];
  const carried: Float32Array[][] = [];
  const runner = fakeRunner(manifest, {
    step: (feeds) => {
      const latent = feeds['latent'];
      assert.ok(latent);
      steps.push({ dims: latent.dims, sigma: (feeds['sigma']?.data as Float32Array)[0] ?? NaN, latent: (latent.data as Float32Array).slice() });
      return { velocity: zeros(latent.dims) };
    },
    carry: (feeds) => {
      const [latent, previous, text, mask] = [feeds['latent'], feeds['previous'], feeds['text'], feeds['text_mask']];
      assert.ok(latent && previous && text && mask);
      assert.equal(text.dims[0], 1); // the prompt's conditional row alone
      assert.equal(mask.dims[0], 1);
      carried.push([(latent.data as Float32Array).slice(), (previous.data as Float32Array).slice()]);
      const data = latent.data as Float32Array;
      return { moved: { ...latent, data: data.map((v, j) => v + 2 * ((previous.data as Float32Array)[j] ?? 0)) } };
    },
  });
  const stages = manifest.spatialPyramid.stages;
  const last = stages.at(-1);
  assert.ok(last);
  const history = new HistoryPyramid(manifest);
  const job = (frame: number) => ({ seed: 9, frame, prompt: 'a red circle', history: history.levels(), cache: new Float32Array(per) });
  await new Sampler(bridge, runner, 1).sample(job(0));
  assert.equal(steps.length, stages.reduce((n, s) => n + s.steps, 0));
  steps.length = 0;
  const newest = Float32Array.from({ length: per }, (_, j) => Math.sin(j));
  history.push(newest);
  const result = await new Sampler(bridge, runner, 1).sample(job(1));
  assert.equal(steps.length, last.steps);
  assert.deepEqual(steps.map((s) => s.dims), Array(last.steps).fill([1, channels, height, width]));
  assert.ok(Math.abs((steps[0]?.sigma ?? NaN) - last.sigmaStart) < 1e-6);
  const noise = gaussian(9, 1 * manifest.rng.streamsPerLatentFrame + manifest.rng.stageNoise, per);
  let worst = 0;
  for (let j = 0; j < per; j++) {
    const start = (1 - last.sigmaStart) * (newest[j] ?? 0) + last.sigmaStart * (noise[j] ?? 0);
    worst = Math.max(worst, Math.abs((steps[0]?.latent[j] ?? 0) - start), Math.abs((result.latent[j] ?? 0) - start));
  }
  assert.ok(worst < 1e-6, `max abs difference ${worst}`); // zero velocity: the start is the result
  assert.deepEqual(carried, [[newest, new Float32Array(per)]]); // one past frame: nothing before it
  carried.length = 0;

  // With a frame before the newest, the start is the newest carried on by the carry graph.
  steps.length = 0;
  const next = Float32Array.from({ length: per }, (_, j) => Math.cos(j));
  history.push(next);
  await new Sampler(bridge, runner, 1).sample({ ...job(2), previous: history.previous() });
  assert.deepEqual(carried, [[next, newest]]);
  const noise2 = gaussian(9, 2 * manifest.rng.streamsPerLatentFrame + manifest.rng.stageNoise, per);
  worst = 0;
  for (let j = 0; j < per; j++) {
    const start = (1 - last.sigmaStart) * ((next[j] ?? 0) + 2 * (newest[j] ?? 0)) + last.sigmaStart * (noise2[j] ?? 0);
    worst = Math.max(worst, Math.abs((steps[0]?.latent[j] ?? 0) - start));
  }
  assert.ok(worst < 1e-6, `carried start: max abs difference ${worst}`);
});
