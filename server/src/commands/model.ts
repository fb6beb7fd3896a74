import { parseArgs } from 'node:util';
import { loadModelDescription } from '../engine/ModelManifest.ts';
import { intFlag } from './args.ts';

/** `livegen model`: validates a model directory and prints what it is. */
export async function modelCommand(args: string[], defaultModel: string): Promise<number> {
  const { values } = parseArgs({ args, options: { model: { type: 'string', default: defaultModel } } });
  const { manifest, dir } = await loadModelDescription(values.model);
  const { video, latent, spatialPyramid, temporalPyramid, gflop } = manifest;
  const stages = spatialPyramid.stages.map((s) => `${s.scale}x${s.steps}`).join(' ');
  const levels = temporalPyramid.levels.map((l) => `${l.frames}@${l.scale}`).join(' ');
  const continuation =
    manifest.denoiser.continuation === 'bridge'
      ? 'bridge: a frame with a past runs the last stage alone, from the newest frame carried on by its motion'
      : 'pyramid: every frame runs every stage from noise';
  const predicts = manifest.denoiser.predicts === 'residual' ? 'the change from the newest frame' : 'the frame';
  console.log(`${manifest.name} ${manifest.version} (${dir})
  video        ${video.width}x${video.height} at ${video.fps} fps
  latent       ${latent.channels}x${latent.height}x${latent.width}, ${latent.framesPerLatent} video frames per latent frame
  stages       ${stages} (scale x Euler steps)
  history      ${levels} (frames@scale), ${temporalPyramid.tokens} tokens
  continues    ${continuation}; the flow generates ${predicts}
  cost         ${gflop.perVideoFrame.toFixed(2)} GFLOP per video frame`);
  return 0;
}

/** `livegen bench-model`: times each graph and adds them up per latent frame. */
export async function benchModelCommand(args: string[], defaultModel: string): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      model: { type: 'string', default: defaultModel },
      threads: { type: 'string', default: '2' },
      runs: { type: 'string', default: '20' },
      json: { type: 'string' },
    },
  });
  const { runGraphBench } = await import('../bench/graphBench.ts');
  await runGraphBench(values.model, intFlag(values.threads, '--threads', 1, 256), intFlag(values.runs, '--runs', 1, 10000), values.json);
  return 0;
}
