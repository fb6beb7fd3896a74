import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, writeFile, readFile, cp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { loadModelDescription, validateManifest } from '../../server/src/engine/ModelManifest.ts';
import { ModelError } from '../../server/src/errors.ts';

const DEFAULT_MODEL = path.resolve(import.meta.dirname, '../../models/default');

async function defaultManifest(): Promise<Record<string, unknown>> {
  return JSON.parse(await readFile(path.join(DEFAULT_MODEL, 'manifest.json'), 'utf8')) as Record<string, unknown>;
}

function secondStage(manifest: Record<string, unknown>): Record<string, unknown> {
  const stage = (manifest['spatialPyramid'] as { stages: Record<string, unknown>[] }).stages[1];
  assert.ok(stage);
  return stage;
}

test('the shipped manifest is valid and names readable graphs', async () => {
  const model = await loadModelDescription(DEFAULT_MODEL);
  assert.equal(model.manifest.format, 'livegen-model');
  assert.ok(model.manifest.spatialPyramid.stages.length >= 2);
  assert.ok(model.manifest.temporalPyramid.levels.length >= 3);
  assert.deepEqual(Object.keys(model.graphPaths).sort(), ['history', 'step', 'textEncoder', 'vaeDecoder']);
});

test('a manifest with a missing field is rejected with a message that names it', async () => {
  const manifest = await defaultManifest();
  delete (manifest['latent'] as Record<string, unknown>)['channels'];
  assert.throws(() => validateManifest(manifest, 'test'), (err: unknown) => {
    assert.ok(err instanceof ModelError);
    assert.match(err.message, /\/latent\/channels/);
    assert.equal(err.code, 'LG_ERR_MODEL_INVALID');
    return true;
  });
});

test('a manifest with a field of the wrong type is rejected with a message that names it', async () => {
  const manifest = await defaultManifest();
  (manifest['video'] as Record<string, unknown>)['fps'] = 'sixteen';
  assert.throws(() => validateManifest(manifest, 'test'), /\/video\/fps/);
  const other = await defaultManifest();
  secondStage(other)['steps'] = 0;
  assert.throws(() => validateManifest(other, 'test'), /\/spatialPyramid\/stages\/1\/steps/);
});

test('a later stage without renoise constants is rejected', async () => {
  const manifest = await defaultManifest();
  delete secondStage(manifest)['renoise'];
  assert.throws(() => validateManifest(manifest, 'test'), /\/spatialPyramid\/stages\/1\/renoise/);
});

test('a model directory with a missing graph or no manifest is reported with the cause', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'livegen-model-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await assert.rejects(loadModelDescription(dir), /cannot read model manifest/);
  await writeFile(path.join(dir, 'manifest.json'), '{ not json');
  await assert.rejects(loadModelDescription(dir), /not JSON/);
  await cp(path.join(DEFAULT_MODEL, 'manifest.json'), path.join(dir, 'manifest.json'));
  await assert.rejects(loadModelDescription(dir), /\/graphs\/\w+ names \S+\.onnx, which cannot be read/);
});

test('a residual denoiser needs its newest history frame at full resolution, and no other prediction is accepted', async () => {
  const manifest = await defaultManifest();
  const denoiser = manifest['denoiser'] as Record<string, unknown>;
  denoiser['predicts'] = 'residual';
  assert.equal(validateManifest(manifest, 'test').denoiser.predicts, 'residual');
  const levels = (manifest['temporalPyramid'] as { levels: Record<string, unknown>[] }).levels;
  const finest = levels[0];
  assert.ok(finest);
  finest['scale'] = 0.5;
  assert.throws(() => validateManifest(manifest, 'test'), /\/temporalPyramid\/levels\/0\/scale: a residual denoiser/);
  denoiser['predicts'] = 'velocity';
  assert.throws(() => validateManifest(manifest, 'test'), /\/denoiser\/predicts/);
});

test('a bridge denoiser needs its newest history frame at full resolution and predicts frames', async () => {
  const manifest = await defaultManifest();
  const denoiser = manifest['denoiser'] as Record<string, unknown>;
  denoiser['continuation'] = 'bridge';
  assert.throws(() => validateManifest(manifest, 'test'), /\/graphs\/carry: a bridge model needs its motion-carry graph/);
  (manifest['graphs'] as Record<string, unknown>)['carry'] = 'motion_carry.onnx';
  assert.equal(validateManifest(manifest, 'test').denoiser.continuation, 'bridge');
  denoiser['predicts'] = 'residual';
  assert.throws(() => validateManifest(manifest, 'test'), /\/denoiser\/continuation: a bridge/);
  denoiser['predicts'] = 'frame';
  const finest = (manifest['temporalPyramid'] as { levels: Record<string, unknown>[] }).levels[0];
  assert.ok(finest);
  finest['scale'] = 0.25;
  assert.throws(() => validateManifest(manifest, 'test'), /\/temporalPyramid\/levels\/0\/scale: a bridge denoiser/);
});

test('first-frame candidates need the critic graph that picks one, and there is at least one', async () => {
  const manifest = await defaultManifest();
  delete (manifest['graphs'] as Record<string, unknown>)['critic'];
  manifest['firstFrame'] = { candidates: 8, candidateStride: 2654435769 };
  assert.throws(() => validateManifest(manifest, 'test'), /\/graphs\/critic: more than one first-frame candidate needs the critic graph/);
  (manifest['graphs'] as Record<string, unknown>)['critic'] = 'frame_critic.onnx';
  assert.equal(validateManifest(manifest, 'test').firstFrame?.candidates, 8);
  manifest['firstFrame'] = { candidates: 0, candidateStride: 1 };
  assert.throws(() => validateManifest(manifest, 'test'), /\/firstFrame\/candidates/);
});
