import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { loadModelDescription } from '../../server/src/engine/ModelManifest.ts';
import { checkGraphParity } from './parity.ts';

const DEFAULT_MODEL = process.env['LIVEGEN_TEST_MODEL'] ?? path.resolve(import.meta.dirname, '../../models/default');

test('every graph of the shipped model loads in onnxruntime-node and matches PyTorch on the parity inputs', async () => {
  await checkGraphParity(DEFAULT_MODEL);
  const model = await loadModelDescription(DEFAULT_MODEL);
  assert.ok(['history', 'step', 'textEncoder', 'vaeDecoder'].every((g) => g in model.graphPaths));
});
