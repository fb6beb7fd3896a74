import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PromptLog } from '../../server/src/engine/PromptLog.ts';

test('PromptLog answers which prompt governs each latent frame', () => {
  const log = new PromptLog('red', 1000);
  log.add('green', 4, 3, 0, 2000);
  log.add('blue', 9, 8, 0, 3000);
  assert.deepEqual([0, 3, 4, 8, 9, 100].map((k) => log.conditionAt(k).prompt), ['red', 'red', 'green', 'green', 'blue', 'blue']);
  assert.deepEqual(log.entries[1], { id: 1, text: 'green', effectiveFrom: 4, blendFrames: 0, requestedAt: 2000, requestedAtFrame: 3 });
});

test('PromptLog.add() before the last effective frame throws RangeError', () => {
  const log = new PromptLog('red');
  log.add('green', 5, 4);
  assert.throws(() => log.add('blue', 3, 4), RangeError);
});

test('a later edit for the same frame wins', () => {
  const log = new PromptLog('red');
  log.add('green', 2, 1);
  log.add('blue', 2, 1);
  assert.equal(log.conditionAt(2).prompt, 'blue');
});

test('a blended edit fades from the previous prompt over its blend frames, then holds', () => {
  const log = new PromptLog('red');
  log.add('green', 4, 3, 3);
  assert.deepEqual(log.conditionAt(3), { prompt: 'red' });
  assert.deepEqual(log.conditionAt(4), { prompt: 'green', blend: { from: 'red', weight: 0.25 } });
  assert.deepEqual(log.conditionAt(6), { prompt: 'green', blend: { from: 'red', weight: 0.75 } });
  assert.deepEqual(log.conditionAt(7), { prompt: 'green' });
});
