import { readFile, writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { loadModelDescription, type ModelDescription } from '../engine/ModelManifest.ts';
import { InferenceClient } from '../engine/InferenceClient.ts';
import { Stream } from '../engine/Stream.ts';
import type { HistoryMode } from '../engine/HistoryPyramid.ts';
import { Y4mWriter } from '../media/Y4mWriter.ts';
import { WebmWriter } from '../media/WebmWriter.ts';
import { UsageError, intFlag, positiveFlag, providerFlag } from './args.ts';

/** What `generate --log` writes and `replay` reads: seed + prompt log = the same frames. */
export interface GenerationLog {
  format: 'livegen-log';
  version: 1;
  model: { name: string; version: string };
  seed: number;
  history: HistoryMode;
  latentFrames: number;
  prompts: { text: string; effectiveFrom: number; blendFrames?: number }[];
}

interface Plan {
  model: ModelDescription;
  seed: number;
  history: HistoryMode;
  latentFrames: number;
  prompts: { text: string; effectiveFrom: number; blendFrames?: number }[];
  out: string;
  threads: number;
  provider: 'cpu' | 'webgpu';
}

const COMMON = {
  model: { type: 'string' },
  out: { type: 'string' },
  threads: { type: 'string', default: '2' },
  provider: { type: 'string', default: 'cpu' },
} as const;

/** `livegen generate`: a prompt, optional timed edits, a Y4M file. */
export async function generateCommand(args: string[], defaultModel: string): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      ...COMMON,
      prompt: { type: 'string' },
      edit: { type: 'string', multiple: true, default: [] },
      seconds: { type: 'string', default: '10' },
      seed: { type: 'string', default: '0' },
      history: { type: 'string', default: 'pyramid' },
      log: { type: 'string' },
      blend: { type: 'string', default: '0' },
    },
  });
  if (values.prompt === undefined) throw new UsageError('generate needs --prompt "..."');
  if (!values.out) throw new UsageError('generate needs --out FILE.y4m');
  if (values.history !== 'pyramid' && values.history !== 'full') throw new UsageError('--history is pyramid or full');
  const model = await loadModelDescription(values.model ?? defaultModel);
  const m = model.manifest;
  const latentSeconds = m.latent.framesPerLatent / m.video.fps;
  const seconds = positiveFlag(values.seconds, '--seconds');
  const blendFrames = intFlag(values.blend, '--blend', 0, 64);
  const prompts = [{ text: values.prompt, effectiveFrom: 0, blendFrames: 0 }];
  for (const edit of values.edit) {
    const eq = edit.indexOf('=');
    const at = eq > 0 ? Number(edit.slice(0, eq)) : NaN;
    if (!Number.isFinite(at) || at < 0) throw new UsageError(`--edit is SECONDS=PROMPT, not ${JSON.stringify(edit)}`);
    prompts.push({ text: edit.slice(eq + 1), effectiveFrom: Math.ceil(at / latentSeconds - 1e-9), blendFrames });
  }
  prompts.sort((a, b) => a.effectiveFrom - b.effectiveFrom);
  const plan: Plan = {
    model,
    seed: intFlag(values.seed, '--seed', 0, 0xffffffff),
    history: values.history,
    latentFrames: Math.max(1, Math.round(seconds / latentSeconds)),
    prompts,
    out: values.out,
    threads: intFlag(values.threads, '--threads', 1, 256),
    provider: providerFlag(values.provider),
  };
  await run(plan);
  if (values.log) {
    const log: GenerationLog = {
      format: 'livegen-log',
      version: 1,
      model: { name: m.name, version: m.version },
      seed: plan.seed,
      history: plan.history,
      latentFrames: plan.latentFrames,
      prompts: plan.prompts,
    };
    await writeFile(values.log, JSON.stringify(log, null, 2) + '\n');
  }
  return 0;
}

/** `livegen replay log.json --out again.y4m`: the same frames, byte for byte. */
export async function replayCommand(args: string[], defaultModel: string): Promise<number> {
  const { values, positionals } = parseArgs({ args, options: COMMON, allowPositionals: true });
  const [file] = positionals;
  if (!file || !values.out) throw new UsageError('replay needs a log file and --out FILE.y4m');
  let log: GenerationLog;
  try {
    log = JSON.parse(await readFile(file, 'utf8')) as GenerationLog;
  } catch (err) {
    throw new UsageError(`cannot read log ${file}: ${(err as Error).message}`);
  }
  if (log.format !== 'livegen-log' || !Array.isArray(log.prompts) || !Number.isInteger(log.latentFrames)) {
    throw new UsageError(`${file} is not a livegen generation log`);
  }
  const model = await loadModelDescription(values.model ?? defaultModel);
  if (model.manifest.name !== log.model.name || model.manifest.version !== log.model.version) {
    console.error(`replay: warning: log made with ${log.model.name} ${log.model.version}, replaying with ${model.manifest.name} ${model.manifest.version}`);
  }
  await run({ model, seed: log.seed, history: log.history, latentFrames: log.latentFrames, prompts: log.prompts, out: values.out, threads: intFlag(values.threads, '--threads', 1, 256), provider: providerFlag(values.provider) });
  return 0;
}

async function run(plan: Plan): Promise<void> {
  const m = plan.model.manifest;
  const [first, ...edits] = plan.prompts;
  const client = await InferenceClient.open({ modelDir: plan.model.dir, executionProvider: plan.provider, threads: plan.threads });
  const writer = plan.out.toLowerCase().endsWith('.webm')
    ? new WebmWriter(plan.out, m.video.width, m.video.height, m.video.fps)
    : new Y4mWriter(plan.out, m.video.width, m.video.height, m.video.fps);
  const started = performance.now();
  try {
    const stream = new Stream(client, m, { prompt: first?.text ?? '', seed: plan.seed, history: plan.history });
    for (const e of edits) stream.steer(e.text, e.effectiveFrom, e.blendFrames ?? 0);
    for (let k = 0; k < plan.latentFrames; k++) {
      const chunk = await stream.next();
      await writer.write(chunk.frames);
      progress(k + 1, plan.latentFrames, started);
    }
  } finally {
    await writer.close();
    await client.close();
  }
  const wall = (performance.now() - started) / 1000;
  const frames = plan.latentFrames * m.latent.framesPerLatent;
  const video = frames / m.video.fps;
  process.stderr.write('\n');
  console.log(`${frames} frames (${video.toFixed(1)} s of video) in ${wall.toFixed(1)} s: real-time factor ${(video / wall).toFixed(2)} -> ${plan.out}`);
}

function progress(done: number, total: number, started: number): void {
  if (!process.stderr.isTTY && done !== total && done % 10 !== 0) return;
  const width = 30;
  const filled = Math.round((done / total) * width);
  const elapsed = (performance.now() - started) / 1000;
  const eta = (elapsed / done) * (total - done);
  process.stderr.write(`\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total} latent frames, ${elapsed.toFixed(0)} s, eta ${eta.toFixed(0)} s `);
}
