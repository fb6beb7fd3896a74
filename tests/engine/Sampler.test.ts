import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { readFile } from 'node:fs/promises';
import { loadModelDescription } from '../../server/src/engine/ModelManifest.ts';
import { InferenceClient } from '../../server/src/engine/InferenceClient.ts';
import { HistoryPyramid } from '../../server/src/engine/HistoryPyramid.ts';

const MODEL_DIR = process.env['LIVEGEN_TEST_MODEL'] ?? path.resolve(import.meta.dirname, '../../models/default');

interface SamplerCase {
  seed: number;
  prompts: { fromLatentFrame: number; prompt: string }[];
  latents: { dims: number[]; offset: number; bytes: number };
}

test('the TypeScript sampler in the worker gives the PyTorch reference latents, prompt edit included', async (t) => {
  const { manifest } = await loadModelDescription(MODEL_DIR);
  const parity = JSON.parse(await readFile(path.join(MODEL_DIR, 'parity.json'), 'utf8')) as { file: string; sampler: SamplerCase };
  const blob = await readFile(path.join(MODEL_DIR, parity.file));
  const ref = parity.sampler;
  const want = new Float32Array(blob.buffer.slice(blob.byteOffset + ref.latents.offset, blob.byteOffset + ref.latents.offset + ref.latents.bytes));
  const client = await InferenceClient.open({ modelDir: MODEL_DIR, executionProvider: 'cpu', threads: 2 });
  t.after(() => client.close());
  const history = new HistoryPyramid(manifest);
  const [n, ...shape] = ref.latents.dims as [number, ...number[]];
  const per = shape.reduce((a, b) => a * b, 1);
  let cache: Float32Array = new Float32Array(per);
  for (let k = 0; k < n; k++) {
    const prompt = ref.prompts.filter((p) => p.fromLatentFrame <= k).at(-1)?.prompt ?? '';
    const r = await client.sample({ seed: ref.seed, frame: k, prompt, history: history.levels(), cache });
    let worst = 0;
    for (let i = 0; i < per; i++) worst = Math.max(worst, Math.abs((r.latent[i] ?? 0) - (want[k * per + i] ?? 0)));
    assert.ok(worst < 2e-3, `latent frame ${k}: max abs difference ${worst}`);
    assert.equal(r.frames.length, manifest.latent.framesPerLatent * manifest.video.width * manifest.video.height * 3);
    history.push(want.slice(k * per, (k + 1) * per)); // continue from the reference, so errors do not compound
    cache = r.nextCache;
  }
});
