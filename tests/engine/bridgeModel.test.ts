import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import os from 'node:os';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtemp, rm } from 'node:fs/promises';
import { loadModelDescription } from '../../server/src/engine/ModelManifest.ts';
import { checkGraphParity, checkSamplerParity } from './parity.ts';

const PYTHON = process.env['LIVEGEN_PYTHON'] ?? '/usr/bin/python3';

test('a bridge model (motion carried by its own graph, first frame picked by its critic) runs in the engine as the PyTorch reference samples it', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'livegen-bridge-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await promisify(execFile)(PYTHON, ['-m', 'tests.export_tiny', dir], { cwd: path.resolve(import.meta.dirname, '../../models') });
  const { manifest } = await loadModelDescription(dir);
  assert.equal(manifest.denoiser.continuation, 'bridge');
  assert.equal(manifest.firstFrame?.candidates, 3);
  await checkGraphParity(dir);
  await checkSamplerParity(dir);
});
