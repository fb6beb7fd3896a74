/** Checks of an exported model against the PyTorch fixtures its exporter wrote (parity.json). */
import assert from 'node:assert/strict';
import path from 'node:path';
import { readFile } from 'node:fs/promises';
import * as ort from 'onnxruntime-node';
import { loadModelDescription, type GraphName } from '../../server/src/engine/ModelManifest.ts';
import { InferenceClient } from '../../server/src/engine/InferenceClient.ts';
import { HistoryPyramid } from '../../server/src/engine/HistoryPyramid.ts';

interface TensorEntry {
  dtype: 'float32' | 'int64' | 'uint8';
  dims: number[];
  offset: number;
  bytes: number;
}
interface ParityCase {
  graph: GraphName;
  inputs: Record<string, TensorEntry>;
  outputs: Record<string, TensorEntry>;
}
interface SamplerCase {
  seed: number;
  prompts: { fromLatentFrame: number; prompt: string }[];
  latents: TensorEntry;
}
interface Parity {
  file: string;
  cases: ParityCase[];
  sampler: SamplerCase;
}

function view(blob: Buffer, e: TensorEntry): Float32Array | BigInt64Array | Uint8Array {
  const buf = blob.buffer.slice(blob.byteOffset + e.offset, blob.byteOffset + e.offset + e.bytes);
  if (e.dtype === 'float32') return new Float32Array(buf);
  if (e.dtype === 'int64') return new BigInt64Array(buf);
  return new Uint8Array(buf);
}

async function readParity(dir: string): Promise<{ parity: Parity; blob: Buffer }> {
  const parity = JSON.parse(await readFile(path.join(dir, 'parity.json'), 'utf8')) as Parity;
  return { parity, blob: await readFile(path.join(dir, parity.file)) };
}

/** Every graph the manifest names loads in onnxruntime-node and gives PyTorch's outputs on the parity inputs. */
export async function checkGraphParity(dir: string): Promise<void> {
  const model = await loadModelDescription(dir);
  const { parity, blob } = await readParity(dir);
  const sessions = new Map<GraphName, ort.InferenceSession>();
  for (const c of parity.cases) {
    let session = sessions.get(c.graph);
    if (!session) {
      const file = model.graphPaths[c.graph];
      assert.ok(file, `a parity case for ${c.graph}, a graph the manifest does not name`);
      session = await ort.InferenceSession.create(file, { intraOpNumThreads: 2 });
      sessions.set(c.graph, session);
      assert.deepEqual([...session.inputNames].sort(), Object.keys(c.inputs).sort(), `${c.graph} inputs`);
    }
    const feeds: Record<string, ort.Tensor> = {};
    for (const [name, e] of Object.entries(c.inputs)) feeds[name] = new ort.Tensor(e.dtype, view(blob, e), e.dims);
    const results = await session.run(feeds);
    for (const [name, e] of Object.entries(c.outputs)) {
      const got = results[name];
      assert.ok(got, `${c.graph} output ${name}`);
      assert.deepEqual(got.dims, e.dims, `${c.graph}.${name} dims`);
      const want = view(blob, e);
      const data = got.data as Float32Array | Uint8Array;
      let worst = 0;
      let scale = 0;
      let off = 0;
      for (let i = 0; i < want.length; i++) {
        const d = Math.abs(Number(data[i]) - Number(want[i]));
        worst = Math.max(worst, d);
        scale = Math.max(scale, Math.abs(Number(want[i])));
        if (d > 0) off++;
      }
      if (e.dtype === 'uint8') {
        // Rounding of values that land on .5 may differ by one level, on very few pixels.
        assert.ok(worst <= 1 && off / want.length < 1e-3, `${c.graph}.${name}: ${off} pixels differ, worst ${worst}`);
      } else {
        assert.ok(worst <= 1e-3 * Math.max(1, scale), `${c.graph}.${name}: max abs error ${worst} (scale ${scale})`);
      }
    }
  }
  assert.deepEqual([...sessions.keys()].sort(), Object.keys(model.graphPaths).sort(), 'a parity case for every graph');
  await Promise.all([...sessions.values()].map((s) => s.release()));
}

/** The TypeScript sampler in the inference worker gives the reference sampler's latents, prompt edit included. */
export async function checkSamplerParity(dir: string): Promise<void> {
  const { manifest } = await loadModelDescription(dir);
  const { parity, blob } = await readParity(dir);
  const ref = parity.sampler;
  const want = view(blob, ref.latents) as Float32Array;
  const client = await InferenceClient.open({ modelDir: dir, executionProvider: 'cpu', threads: 2 });
  try {
    const history = new HistoryPyramid(manifest);
    const [n, ...shape] = ref.latents.dims as [number, ...number[]];
    const per = shape.reduce((a, b) => a * b, 1);
    let cache: Float32Array = new Float32Array(per);
    for (let k = 0; k < n; k++) {
      const prompt = ref.prompts.filter((p) => p.fromLatentFrame <= k).at(-1)?.prompt ?? '';
      const r = await client.sample({ seed: ref.seed, frame: k, prompt, history: history.levels(), previous: history.previous(), cache });
      let worst = 0;
      for (let i = 0; i < per; i++) worst = Math.max(worst, Math.abs((r.latent[i] ?? 0) - (want[k * per + i] ?? 0)));
      assert.ok(worst < 2e-3, `latent frame ${k}: max abs difference ${worst}`);
      assert.equal(r.frames.length, manifest.latent.framesPerLatent * manifest.video.width * manifest.video.height * 3);
      history.push(want.slice(k * per, (k + 1) * per)); // continue from the reference, so errors do not compound
      cache = r.nextCache;
    }
  } finally {
    await client.close();
  }
}
