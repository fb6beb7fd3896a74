import path from 'node:path';
import { parseArgs } from 'node:util';
import { loadModelDescription } from './engine/ModelManifest.ts';
import { LivegenError } from './errors.ts';

/** The built-in model, shipped in the repository. */
export const DEFAULT_MODEL_DIR = path.resolve(import.meta.dirname, '../../models/default');

const USAGE = `usage: livegen <command> [options]

commands:
  serve                 start the live server (not built yet: see the README's roadmap)
  model [--model DIR]   check a model directory and print what it is
  bench-model [--model DIR] [--threads N] [--runs N] [--json FILE]
                        time each ONNX graph; the model's cost per latent frame and video fps
  help                  this text
`;

async function describeModel(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { model: { type: 'string', default: DEFAULT_MODEL_DIR } } });
  const { manifest, dir } = await loadModelDescription(values.model);
  const { video, latent, spatialPyramid, temporalPyramid, gflop } = manifest;
  const stages = spatialPyramid.stages.map((s) => `${s.scale}x${s.steps}`).join(' ');
  const levels = temporalPyramid.levels.map((l) => `${l.frames}@${l.scale}`).join(' ');
  console.log(`${manifest.name} ${manifest.version} (${dir})
  video        ${video.width}x${video.height} at ${video.fps} fps
  latent       ${latent.channels}x${latent.height}x${latent.width}, ${latent.framesPerLatent} video frames per latent frame
  stages       ${stages} (scale x Euler steps)
  history      ${levels} (frames@scale), ${temporalPyramid.tokens} tokens
  cost         ${gflop.perVideoFrame.toFixed(2)} GFLOP per video frame`);
  return 0;
}

async function benchModel(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      model: { type: 'string', default: DEFAULT_MODEL_DIR },
      threads: { type: 'string', default: '2' },
      runs: { type: 'string', default: '20' },
      json: { type: 'string' },
    },
  });
  const threads = positiveInt(values.threads, '--threads');
  const runs = positiveInt(values.runs, '--runs');
  const { runGraphBench } = await import('./bench/graphBench.ts');
  await runGraphBench(values.model, threads, runs, values.json);
  return 0;
}

function positiveInt(text: string, flag: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`${flag} must be a positive integer, not ${JSON.stringify(text)}`);
  return n;
}

/** A bad command line. */
class UsageError extends Error {}

/** Runs one command; returns the process exit code. */
export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'model':
        return await describeModel(rest);
      case 'bench-model':
        return await benchModel(rest);
      case 'serve':
        console.error('livegen serve: the live server is not built yet; `livegen model` checks the built-in model.');
        return 2;
      case undefined:
      case 'help':
      case '--help':
        console.log(USAGE);
        return 0;
      default:
        console.error(`livegen: unknown command ${JSON.stringify(command)}\n\n${USAGE}`);
        return 2;
    }
  } catch (err) {
    if (err instanceof LivegenError || err instanceof UsageError || (err instanceof TypeError && 'code' in err)) {
      console.error(`livegen ${command}: ${err.message}`);
      return 1;
    }
    throw err;
  }
}
