import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { readFile } from 'node:fs/promises';
import { loadModelDescription } from '../../server/src/engine/ModelManifest.ts';
import { Tokenizer } from '../../server/src/engine/Tokenizer.ts';

const DEFAULT_MODEL = path.resolve(import.meta.dirname, '../../models/default');

test('Tokenizer gives the ids the Python tokenizer gave for the same strings', async () => {
  const { manifest } = await loadModelDescription(DEFAULT_MODEL);
  const parity = JSON.parse(await readFile(path.join(DEFAULT_MODEL, 'parity.json'), 'utf8')) as {
    tokenizer: { text: string; ids: number[] }[];
  };
  const tokenizer = new Tokenizer(manifest.tokenizer);
  assert.ok(parity.tokenizer.length >= 5);
  for (const { text, ids } of parity.tokenizer) assert.deepEqual(tokenizer.encode(text), ids, JSON.stringify(text));
});

test('Tokenizer clips 10,000 characters and encodes emoji, other scripts and control characters', async () => {
  const { manifest } = await loadModelDescription(DEFAULT_MODEL);
  const tokenizer = new Tokenizer(manifest.tokenizer);
  const { bos, unk, pad } = manifest.tokenizer;
  assert.equal(tokenizer.encode('red '.repeat(2500)).length, manifest.tokenizer.maxTokens);
  assert.deepEqual(tokenizer.encode('🦓 красный\u0000').slice(0, 4), [bos, unk, unk, pad]);
  assert.deepEqual(tokenizer.encode('').slice(0, 2), [bos, pad]);
});
