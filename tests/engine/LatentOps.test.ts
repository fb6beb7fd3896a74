import { test } from 'node:test';
import assert from 'node:assert/strict';
import { avgPool, blockNoise, firstRow, takeRows, upsample2 } from '../../server/src/engine/LatentOps.ts';
import { gaussian } from '../../server/src/engine/noise.ts';

test('avgPool takes block means and upsample2 repeats each value in a 2x2 block', () => {
  const x = Float32Array.from({ length: 16 }, (_, i) => i); // (1, 4, 4)
  assert.deepEqual([...avgPool(x, 1, 4, 4, 2)], [2.5, 4.5, 10.5, 12.5]);
  assert.deepEqual([...avgPool(x, 1, 4, 4, 4)], [7.5]);
  assert.deepEqual([...upsample2(Float32Array.of(1, 2), 1, 1, 2)], [1, 1, 2, 2, 1, 1, 2, 2]);
});

test('blockNoise has zero mean in every 2x2 block and unit variance', () => {
  const z = gaussian(3, 1, 4 * 32 * 32);
  const n = blockNoise(z, 4, 32, 32);
  for (const m of avgPool(n, 4, 32, 32, 2)) assert.ok(Math.abs(m) < 1e-5);
  const variance = n.reduce((s, v) => s + v * v, 0) / n.length;
  assert.ok(Math.abs(variance - 1) < 0.05, `variance ${variance}`);
});

test('takeRows picks slices along the chosen axis, in the given order, repeats included', () => {
  const r = takeRows(Float32Array.of(1, 2, 3, 4), [2, 1, 2], 1, [0, 0]);
  assert.deepEqual(r.dims, [2, 2, 2]);
  assert.deepEqual([...r.data], [1, 2, 1, 2, 3, 4, 3, 4]);
  const rows = takeRows(Float32Array.of(1, 2, 3, 4, 5, 6), [3, 2], 0, [2, 0, 2]);
  assert.deepEqual(rows.dims, [3, 2]);
  assert.deepEqual([...rows.data], [5, 6, 1, 2, 5, 6]);
});

test('firstRow keeps the first row of the batch axis', () => {
  const r = firstRow(Float32Array.of(1, 2, 3, 4, 5, 6), [2, 3]);
  assert.deepEqual(r.dims, [1, 3]);
  assert.deepEqual([...r.data], [1, 2, 3]);
});
