import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import os from 'node:os';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { benchCommand } from '../../server/src/commands/bench.ts';

const DEFAULT_MODEL = path.resolve(import.meta.dirname, '../../models/default');

test('bench runs the bounded stream beside its two baselines, times stream starts and the graphs alone in the same run and writes the JSON', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'livegen-bench-'));
  try {
    const json = path.join(dir, 'bench.json');
    const code = await benchCommand(['--minutes', '0.05', '--full-minutes', '0.02', '--reencode-minutes', '0.01', '--starts', '2', '--json', json], DEFAULT_MODEL);
    assert.equal(code, 0);
    const result = JSON.parse(await readFile(json, 'utf8'));
    assert.equal(result.latentFrames, 12); // 3 s of video, 4 frames per latent frame at 16 fps
    assert.equal(result.fullHistory.latentFrames, 5);
    assert.equal(result.reencodeHistory.latentFrames, 2);
    assert.ok(result.rtf > 0 && result.latentFrameMs.p50 > 0);
    assert.equal(result.streamStart.runs, 2);
    assert.ok(result.streamStart.firstLatentFrameMs.p50 > 0);
    for (const phases of [result.phasesMs.engine, result.phasesMs.graphsAlone]) {
      for (const phase of ['history', 'steps', 'decoder']) assert.ok(phases[phase] > 0, `${phase}: ${phases[phase]}`);
    }
    assert.ok(result.phasesMs.graphsAlone.latentFrame > result.phasesMs.graphsAlone.steps);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
