import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gaussian, hash32 } from '../../server/src/engine/noise.ts';

test('hash32 matches the scalar definition in models/livegen/rng.py', () => {
  // Values printed by livegen.rng.hash32 in Python.
  assert.equal(hash32(0), 0);
  assert.equal(hash32(1), 1753845952);
  assert.equal(hash32(12345), 2435775735);
  assert.equal(hash32(0x9e3779b9), 33350994);
});

test('gaussian(7, 3) gives the values the Python generator gives', () => {
  const z = gaussian(7, 3, 4);
  const expected = [-1.4822, 1.1659, 0.4385, -0.032];
  z.forEach((v, i) => assert.ok(Math.abs(v - (expected[i] ?? NaN)) < 1e-4, `z[${i}] = ${v}, expected ${expected[i]}`));
});

test('gaussian is standard normal and odd counts are filled', () => {
  const z = gaussian(1, 0, 100001);
  let sum = 0;
  let sq = 0;
  for (const v of z) {
    sum += v;
    sq += v * v;
  }
  const mean = sum / z.length;
  assert.ok(Math.abs(mean) < 0.01, `mean ${mean}`);
  assert.ok(Math.abs(Math.sqrt(sq / z.length - mean * mean) - 1) < 0.01);
  assert.notEqual(z[100000], 0);
});
