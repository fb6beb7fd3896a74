import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { readFile } from 'node:fs/promises';
import * as ort from 'onnxruntime-node';
import { loadModelDescription, type GraphName } from '../../server/src/engine/ModelManifest.ts';

const DEFAULT_MODEL = path.resolve(import.meta.dirname, '../../models/default');

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

function view(blob: Buffer, e: TensorEntry): Float32Array | BigInt64Array | Uint8Array {
  const buf = blob.buffer.slice(blob.byteOffset + e.offset, blob.byteOffset + e.offset + e.bytes);
  if (e.dtype === 'float32') return new Float32Array(buf);
  if (e.dtype === 'int64') return new BigInt64Array(buf);
  return new Uint8Array(buf);
}

test('every graph of the shipped model loads in onnxruntime-node and matches PyTorch on the parity inputs', async () => {
  const model = await loadModelDescription(DEFAULT_MODEL);
  const parity = JSON.parse(await readFile(path.join(DEFAULT_MODEL, 'parity.json'), 'utf8')) as { file: string; cases: ParityCase[] };
  const blob = await readFile(path.join(DEFAULT_MODEL, parity.file));
  const sessions = new Map<GraphName, ort.InferenceSession>();
  const seen = new Set<GraphName>();
  for (const c of parity.cases) {
    let session = sessions.get(c.graph);
    if (!session) {
      session = await ort.InferenceSession.create(model.graphPaths[c.graph], { intraOpNumThreads: 2 });
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
    seen.add(c.graph);
  }
  assert.deepEqual([...seen].sort(), ['history', 'step', 'textEncoder', 'vaeDecoder']);
});
