import { execFile } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { once } from 'node:events';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { parseArgs } from 'node:util';
import { loadModelDescription } from '../engine/ModelManifest.ts';
import { InferenceClient } from '../engine/InferenceClient.ts';
import { Stream } from '../engine/Stream.ts';
import { UsageError, intFlag, positiveFlag } from './args.ts';

const run = promisify(execFile);
const MODELS = path.resolve(import.meta.dirname, '../../../models');
const PYTHON = process.env.LIVEGEN_PYTHON ?? '/usr/bin/python3';

interface Clip {
  name: string;
  kind: string;
  seed: number;
  latentFrames: number;
  prompts: { text: string; effectiveFrom: number }[];
  keep: [number, number][];
}

/**
 * `livegen quality`: the analyzer of DESIGN section 6 over frames of the TypeScript engine.
 * models/quality.py plans the clips and judges them; this generates them, exactly as a stream
 * would, and writes docs/QUALITY.md through the analyzer.
 */
export async function qualityCommand(args: string[], defaultModel: string): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      model: { type: 'string', default: defaultModel },
      json: { type: 'string', default: 'out/quality.json' },
      doc: { type: 'string' },
      threads: { type: 'string', default: '2' },
      seconds: { type: 'string', default: '10' },
      prompts: { type: 'string', default: '8' },
      'edit-prompts': { type: 'string', default: '24' },
      'long-minutes': { type: 'string', default: '10' },
    },
  });
  const model = await loadModelDescription(values.model);
  const fps = model.manifest.video.fps;
  const fpl = model.manifest.latent.framesPerLatent;
  if (model.manifest.video.width !== 256 || fps !== 16 || fpl !== 4) throw new UsageError('quality judges the default world at 256x256, 16 fps, 4 frames per latent frame');
  const doc = values.doc ?? qualityDocPath(model.dir, defaultModel);
  // Made before the clips, which take minutes: a missing folder must not lose them at the end.
  for (const file of [values.json, doc]) await mkdir(path.dirname(path.resolve(file)), { recursive: true });
  const dir = await mkdtemp(path.join(os.tmpdir(), 'livegen-quality-'));
  try {
    const planFile = path.join(dir, 'plan.json');
    await python(['plan', '--out', planFile, '--seconds', String(positiveFlag(values.seconds, '--seconds')),
      '--prompts', String(intFlag(values.prompts, '--prompts', 1, 100)), '--edit-prompts', String(intFlag(values['edit-prompts'], '--edit-prompts', 1, 100)),
      '--long-minutes', String(positiveFlag(values['long-minutes'], '--long-minutes'))]);
    const plan = JSON.parse(await readFile(planFile, 'utf8')) as { clips: Clip[] };
    const total = plan.clips.reduce((n, c) => n + c.latentFrames, 0);
    const client = await InferenceClient.open({ modelDir: model.dir, executionProvider: 'cpu', threads: intFlag(values.threads, '--threads', 1, 256) });
    const started = performance.now();
    let done = 0;
    try {
      for (const clip of plan.clips) {
        const stream = new Stream(client, model.manifest, { prompt: clip.prompts[0]?.text ?? '', seed: clip.seed });
        for (const p of clip.prompts.slice(1)) stream.steer(p.text, p.effectiveFrom);
        const out = createWriteStream(path.join(dir, `${clip.name}.rgb`));
        const size = model.manifest.video.width * model.manifest.video.height * 3;
        for (let k = 0; k < clip.latentFrames; k++) {
          const chunk = await stream.next();
          for (let f = 0; f < fpl; f++) {
            const index = k * fpl + f;
            if (!clip.keep.some(([a, b]) => index >= a && index < b)) continue;
            if (!out.write(chunk.frames.subarray(f * size, (f + 1) * size))) await once(out, 'drain');
          }
          done++;
          // A terminal gets a line redrawn in place; a log, a line every 200 latent frames.
          if (process.stderr.isTTY ? done % 20 === 0 || done === total : done % 200 === 0) {
            const s = (performance.now() - started) / 1000;
            const line = `quality: ${done}/${total} latent frames (${clip.name}), ${s.toFixed(0)} s, eta ${((s / done) * (total - done)).toFixed(0)} s`;
            process.stderr.write(process.stderr.isTTY ? `\r${line} ` : `${line}\n`);
          }
        }
        out.end();
        await once(out, 'finish');
      }
    } finally {
      await client.close();
    }
    process.stderr.write(`${process.stderr.isTTY ? '\n' : ''}quality: judging the frames\n`);
    const { stdout } = await python(['score', '--plan', planFile, '--frames', dir, '--json', path.resolve(values.json), '--doc', path.resolve(doc),
      '--model', path.relative(path.resolve(MODELS, '..'), model.dir)]);
    console.log(stdout.trim());
    console.log(`quality: wrote ${values.json} and ${doc}`);
    return 0;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * Where the quality page goes when --doc is not given: docs/QUALITY.md is the shipped model's page,
 * so another model's figures go beside it under out/ rather than over it.
 */
export function qualityDocPath(modelDir: string, defaultModel: string): string {
  const dir = path.resolve(modelDir);
  return dir === path.resolve(defaultModel) ? 'docs/QUALITY.md' : path.join('out', `QUALITY-${path.basename(dir)}.md`);
}

async function python(args: string[]): Promise<{ stdout: string }> {
  try {
    return await run(PYTHON, [path.join(MODELS, 'quality.py'), ...args], { cwd: MODELS, maxBuffer: 64 * 1024 * 1024 });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new UsageError(`models/quality.py ${args[0]} failed: ${e.stderr?.trim().split('\n').at(-1) ?? e.message}`);
  }
}
