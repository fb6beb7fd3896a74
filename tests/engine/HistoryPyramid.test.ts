import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HistoryPyramid } from '../../server/src/engine/HistoryPyramid.ts';
import type { Manifest } from '../../server/src/engine/ModelManifest.ts';

const manifest = {
  latent: { channels: 2, height: 16, width: 16, framesPerLatent: 4, patch: 2 },
  temporalPyramid: {
    levels: [
      { scale: 1, frames: 1 },
      { scale: 0.5, frames: 2 },
      { scale: 0.25, frames: 4 },
    ],
    noise: 0.1,
    tokens: 112,
  },
} as unknown as Manifest;

const frame = (value: number) => new Float32Array(2 * 16 * 16).fill(value);
const tokens = (h: HistoryPyramid) => h.levels().reduce((n, l) => n + l.frames * (l.side / 2) ** 2, 0);

test('HistoryPyramid gives the model a fixed token count however long the stream runs', () => {
  const h = new HistoryPyramid(manifest);
  const counts = new Set<number>();
  for (let k = 0; k < 500; k++) {
    h.push(frame(k));
    if (k >= 7) counts.add(tokens(h));
  }
  assert.deepEqual([...counts], [112]);
  assert.equal(h.length, 7);
});

test('HistoryPyramid keeps the newest frame at full resolution and pools older ones', () => {
  const h = new HistoryPyramid(manifest);
  for (let k = 0; k < 10; k++) h.push(frame(k));
  const [full, half, quarter] = h.levels();
  assert.ok(full && half && quarter);
  assert.equal(full.side, 16);
  assert.equal(full.latents[0], 9);
  assert.equal(half.side, 8);
  assert.deepEqual([half.latents[0], half.latents[2 * 8 * 8]], [8, 7]);
  assert.deepEqual([...quarter.ages], [4, 5, 6, 7]);
  assert.deepEqual([...quarter.mask], [1, 1, 1, 1]);
});

test('HistoryPyramid masks the slots before the stream started', () => {
  const h = new HistoryPyramid(manifest);
  assert.deepEqual(h.levels().map((l) => [...l.mask]), [[0], [0, 0], [0, 0, 0, 0]]);
  h.push(frame(1));
  h.push(frame(2));
  assert.deepEqual(h.levels().map((l) => [...l.mask]), [[1], [1, 0], [0, 0, 0, 0]]);
});

test('HistoryPyramid in full mode keeps every frame at full resolution: the unbounded baseline', () => {
  const h = new HistoryPyramid(manifest, 'full');
  for (let k = 0; k < 50; k++) h.push(frame(k));
  const [first, ...rest] = h.levels();
  assert.equal(first?.frames, 50);
  assert.equal(first?.side, 16);
  assert.equal(first?.latents[0], 49);
  assert.ok(rest.every((l) => l.frames === 1 && l.mask[0] === 0));
});

test('HistoryPyramid gives the frame before the newest at full resolution, once there is one', () => {
  const h = new HistoryPyramid(manifest);
  assert.equal(h.previous(), undefined);
  h.push(frame(1));
  assert.equal(h.previous(), undefined);
  for (let k = 2; k < 20; k++) h.push(frame(k));
  assert.deepEqual(h.previous(), frame(18));
});
