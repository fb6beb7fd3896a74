import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import os from 'node:os';
import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { loadModelDescription } from '../../server/src/engine/ModelManifest.ts';
import { InferenceClient } from '../../server/src/engine/InferenceClient.ts';
import { Stream } from '../../server/src/engine/Stream.ts';
import { InvalidStateError } from '../../server/src/errors.ts';

const MODEL_DIR = process.env['LIVEGEN_TEST_MODEL'] ?? path.resolve(import.meta.dirname, '../../models/default');
const RED = 'a large red circle moving left on a blue background';
const GREEN = 'a large green circle moving left on a blue background';

async function open(t: { after: (fn: () => Promise<void>) => void }) {
  const { manifest } = await loadModelDescription(MODEL_DIR);
  const client = await InferenceClient.open({ modelDir: MODEL_DIR, executionProvider: 'cpu', threads: 2 });
  t.after(() => client.close());
  return { manifest, client };
}

test('the same seed and prompt log give the same frames, byte for byte', async (t) => {
  const { manifest, client } = await open(t);
  const run = async () => {
    const s = new Stream(client, manifest, { prompt: RED, seed: 42 });
    s.steer(GREEN, 2);
    const frames: Uint8Array[] = [];
    for (let k = 0; k < 3; k++) frames.push((await s.next()).frames);
    return Buffer.concat(frames);
  };
  assert.ok((await run()).equals(await run()));
});

test('a steer governs from the first latent frame not yet started, and the log records it', async (t) => {
  const { manifest, client } = await open(t);
  const s = new Stream(client, manifest, { prompt: RED, seed: 1 });
  assert.equal((await s.next()).prompt, RED);
  const pending = s.next(); // frame 1 is in flight: the steer cannot reach it
  const entry = s.steer(GREEN);
  assert.equal(entry.effectiveFrom, 2);
  assert.equal((await pending).prompt, RED);
  assert.equal((await s.next()).prompt, GREEN);
  assert.deepEqual(s.prompts.map((p) => [p.text, p.effectiveFrom, p.requestedAtFrame]), [[RED, 0, 0], [GREEN, 2, 1]]);
});

test('any prompt string generates: empty, 10,000 characters, emoji, other scripts, control characters', async (t) => {
  const { manifest, client } = await open(t);
  for (const prompt of ['', 'red '.repeat(2500), '🦓🦓 a big 🟥 circle', 'красный круг 赤い円', 'a red\u0000circle\u001b[31m']) {
    const chunk = await new Stream(client, manifest, { prompt, seed: 3 }).next();
    assert.equal(chunk.frames.length, manifest.latent.framesPerLatent * manifest.video.width * manifest.video.height * 3);
  }
});

test('a closed stream rejects next() and steer() with InvalidStateError; a bad seed is a TypeError', async (t) => {
  const { manifest, client } = await open(t);
  const s = new Stream(client, manifest, { prompt: RED, seed: 0 });
  s.close();
  await assert.rejects(s.next(), InvalidStateError);
  assert.throws(() => s.steer(GREEN), InvalidStateError);
  assert.throws(() => new Stream(client, manifest, { prompt: RED, seed: -1 }), TypeError);
  assert.throws(() => new Stream(client, manifest, { prompt: RED, seed: 2 ** 32 }), TypeError);
});

test('an unreadable model directory or a broken graph is reported with the cause', async (t) => {
  await assert.rejects(InferenceClient.open({ modelDir: '/nonexistent', executionProvider: 'cpu', threads: 1 }), /cannot read model manifest/);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'livegen-broken-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await cp(MODEL_DIR, dir, { recursive: true });
  await writeFile(path.join(dir, 'denoiser_step.onnx'), 'not a model');
  await assert.rejects(InferenceClient.open({ modelDir: dir, executionProvider: 'cpu', threads: 1 }), /cannot open model graph step/);
});
