import { readFile, access } from 'node:fs/promises';
import { constants } from 'node:fs';
import path from 'node:path';
import { Type, type Static } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { ModelError } from '../errors.ts';

const PositiveInt = Type.Integer({ minimum: 1 });
const Sigma = Type.Number({ minimum: 0, maximum: 1 });

const Stage = Type.Object({
  scale: Type.Number({ exclusiveMinimum: 0, maximum: 1 }),
  sigmaStart: Sigma,
  sigmaEnd: Sigma,
  steps: PositiveInt,
  renoise: Type.Optional(Type.Object({ alpha: Type.Number(), beta: Type.Number() })),
});

/** manifest.json of a model directory; docs/model-format.md describes every field. */
export const ManifestSchema = Type.Object({
  format: Type.Literal('livegen-model'),
  formatVersion: Type.Literal(1),
  name: Type.String({ minLength: 1 }),
  version: Type.String({ minLength: 1 }),
  video: Type.Object({ width: PositiveInt, height: PositiveInt, fps: Type.Number({ exclusiveMinimum: 0 }) }),
  latent: Type.Object({
    channels: PositiveInt,
    height: PositiveInt,
    width: PositiveInt,
    framesPerLatent: PositiveInt,
    patch: PositiveInt,
  }),
  tokenizer: Type.Object({
    kind: Type.Literal('words'),
    maxTokens: Type.Integer({ minimum: 2 }),
    pad: Type.Integer({ minimum: 0 }),
    unk: Type.Integer({ minimum: 0 }),
    bos: Type.Integer({ minimum: 0 }),
    vocab: Type.Array(Type.String(), { minItems: 3 }),
  }),
  spatialPyramid: Type.Object({ stages: Type.Array(Stage, { minItems: 1 }) }),
  temporalPyramid: Type.Object({
    levels: Type.Array(Type.Object({ scale: Type.Number({ exclusiveMinimum: 0, maximum: 1 }), frames: PositiveInt }), {
      minItems: 1,
    }),
    noise: Sigma,
    tokens: PositiveInt,
  }),
  guidance: Type.Object({ scale: Type.Number({ minimum: 0 }) }),
  // Absent in models without a critic: those sample one first frame.
  firstFrame: Type.Optional(Type.Object({ candidates: PositiveInt, candidateStride: Type.Integer({ minimum: 0, maximum: 0xffffffff }) })),
  denoiser: Type.Object({
    width: PositiveInt,
    depth: PositiveInt,
    heads: PositiveInt,
    textWidth: PositiveInt,
    // Both absent in models exported before they existed: those predict frames through the whole pyramid.
    predicts: Type.Optional(Type.Union([Type.Literal('frame'), Type.Literal('residual')])),
    continuation: Type.Optional(Type.Union([Type.Literal('pyramid'), Type.Literal('bridge')])),
  }),
  rng: Type.Object({
    algorithm: Type.Literal('hash32-box-muller'),
    streamsPerLatentFrame: PositiveInt,
    stageNoise: Type.Integer({ minimum: 0 }),
    historyNoise: Type.Integer({ minimum: 0 }),
  }),
  graphs: Type.Object({
    textEncoder: Type.String({ minLength: 1 }),
    history: Type.String({ minLength: 1 }),
    step: Type.String({ minLength: 1 }),
    vaeDecoder: Type.String({ minLength: 1 }),
    carry: Type.Optional(Type.String({ minLength: 1 })), // a bridge model's alone
    critic: Type.Optional(Type.String({ minLength: 1 })), // scores first-frame candidates
  }),
  gflop: Type.Object({ perLatentFrame: Type.Number(), perVideoFrame: Type.Number() }),
});

export type Manifest = Static<typeof ManifestSchema>;
export type GraphName = keyof Manifest['graphs'];

const check = TypeCompiler.Compile(ManifestSchema);

/** A validated manifest with the absolute path of each graph. */
export interface ModelDescription {
  dir: string;
  manifest: Manifest;
  graphPaths: { [K in keyof Manifest['graphs']]: string }; // optional where the manifest's graph is
}

/** Checks a parsed manifest; the error names the first bad field by its JSON pointer. */
export function validateManifest(value: unknown, source: string): Manifest {
  const first = check.Errors(value).First();
  if (first) {
    const where = first.path === '' ? 'the manifest' : `field ${first.path}`;
    throw new ModelError(`invalid model manifest [${source}]: ${where}: ${first.message}`);
  }
  const manifest = value as Manifest;
  const stages = manifest.spatialPyramid.stages;
  stages.forEach((stage, i) => {
    if (i > 0 && !stage.renoise) {
      throw new ModelError(`invalid model manifest [${source}]: field /spatialPyramid/stages/${i}/renoise: required after the first stage`);
    }
  });
  const { predicts, continuation } = manifest.denoiser;
  if ((predicts === 'residual' || continuation === 'bridge') && manifest.temporalPyramid.levels[0]?.scale !== 1) {
    throw new ModelError(
      `invalid model manifest [${source}]: field /temporalPyramid/levels/0/scale: a ${predicts === 'residual' ? 'residual' : 'bridge'} denoiser builds on the newest history frame, which must be at full resolution (scale 1)`,
    );
  }
  if (continuation === 'bridge' && !manifest.graphs.carry) {
    throw new ModelError(`invalid model manifest [${source}]: field /graphs/carry: a bridge model needs its motion-carry graph`);
  }
  if ((manifest.firstFrame?.candidates ?? 1) > 1 && !manifest.graphs.critic) {
    throw new ModelError(`invalid model manifest [${source}]: field /graphs/critic: more than one first-frame candidate needs the critic graph that picks one`);
  }
  if (predicts === 'residual' && continuation === 'bridge') {
    throw new ModelError(`invalid model manifest [${source}]: field /denoiser/continuation: a bridge starts from the newest history frame, so it predicts frames, not residuals`);
  }
  const vocabSize = manifest.tokenizer.vocab.length;
  for (const key of ['pad', 'unk', 'bos'] as const) {
    if (manifest.tokenizer[key] >= vocabSize) {
      throw new ModelError(`invalid model manifest [${source}]: field /tokenizer/${key}: id ${manifest.tokenizer[key]} is outside the vocabulary`);
    }
  }
  return manifest;
}

/** Reads and validates `<dir>/manifest.json` and checks that every graph file is readable. */
export async function loadModelDescription(dir: string): Promise<ModelDescription> {
  const file = path.join(dir, 'manifest.json');
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new ModelError(`cannot read model manifest [${file}]: ${(err as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new ModelError(`model manifest is not JSON [${file}]: ${(err as Error).message}`);
  }
  const manifest = validateManifest(parsed, file);
  const graphPaths = {} as ModelDescription['graphPaths'];
  for (const [name, rel] of Object.entries(manifest.graphs) as [GraphName, string][]) {
    const graph = path.resolve(dir, rel);
    try {
      await access(graph, constants.R_OK);
    } catch {
      throw new ModelError(`model graph missing [${file}]: field /graphs/${name} names ${rel}, which cannot be read`);
    }
    graphPaths[name] = graph;
  }
  return { dir: path.resolve(dir), manifest, graphPaths };
}
