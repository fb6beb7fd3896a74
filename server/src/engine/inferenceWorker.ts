// worker_threads entry: the only importer of onnxruntime-node. Its run() computes on the calling
// thread (microsoft/onnxruntime#19611), so the whole latent-frame loop runs here, off the event loop.
import { parentPort, workerData } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';
import { loadModelDescription, type GraphName } from './ModelManifest.ts';
import { sessionOptions } from './sessionOptions.ts';
import { Sampler, type Feeds, type FrameJob, type GraphRunner } from './Sampler.ts';
import type { WorkerOptions, WorkerReply, WorkerRequest } from './InferenceClient.ts';

const options = workerData as WorkerOptions;
const port = parentPort;
if (!port) throw new Error('inferenceWorker must run in a worker thread');

class SessionRunner implements GraphRunner {
  readonly #sessions: Map<GraphName, ort.InferenceSession>;

  constructor(sessions: Map<GraphName, ort.InferenceSession>) {
    this.#sessions = sessions;
  }

  async run(graph: GraphName, feeds: Feeds): Promise<Feeds> {
    const session = this.#sessions.get(graph);
    if (!session) throw new Error(`no session for graph ${graph}`);
    const tensors: Record<string, ort.Tensor> = {};
    for (const [name, t] of Object.entries(feeds)) tensors[name] = new ort.Tensor(t.type, t.data, t.dims);
    let results: ort.InferenceSession.ReturnType;
    try {
      results = await session.run(tensors);
    } catch (err) {
      const shapes = Object.entries(feeds).map(([n, t]) => `${n}: ${t.type}[${t.dims.join(',')}]`).join('; ');
      throw new Error(`graph ${graph} failed: ${(err as Error).message} (inputs ${shapes})`);
    }
    const out: Feeds = {};
    for (const [name, t] of Object.entries(results)) {
      out[name] = { type: t.type as 'float32' | 'uint8', dims: [...t.dims], data: t.data as Float32Array | Uint8Array };
    }
    return out;
  }
}

async function open(): Promise<Sampler> {
  const model = await loadModelDescription(options.modelDir);
  const opts = sessionOptions(options.threads, options.executionProvider);
  const sessions = new Map<GraphName, ort.InferenceSession>();
  for (const [name, file] of Object.entries(model.graphPaths) as [GraphName, string][]) {
    try {
      sessions.set(name, await ort.InferenceSession.create(file, opts));
    } catch (err) {
      throw new Error(`cannot open model graph ${name} [${file}]: ${(err as Error).message}`);
    }
  }
  return new Sampler(model.manifest, new SessionRunner(sessions), options.guidance);
}

function reply(message: WorkerReply, transfer: ArrayBuffer[] = []): void {
  port?.postMessage(message, transfer);
}

const ready = open();
ready.then(
  () => reply({ type: 'ready' }),
  (err: unknown) => reply({ type: 'fatal', message: (err as Error).message }),
);

// Jobs run one after another, in arrival order: that order is the fairness between streams.
let queue: Promise<void> = Promise.resolve();

async function handle(request: WorkerRequest): Promise<void> {
  const sampler = await ready.catch(() => undefined);
  if (!sampler) return;
  try {
    const result = await sampler.sample(request.job satisfies FrameJob);
    reply({ type: 'result', id: request.id, result }, [result.latent.buffer, result.frames.buffer, result.nextCache.buffer] as ArrayBuffer[]);
  } catch (err) {
    reply({ type: 'error', id: request.id, message: (err as Error).message });
  }
}

port.on('message', (message: WorkerRequest | 'close') => {
  if (message === 'close') {
    // Tearing the thread down while onnxruntime computes aborts the whole process, so the
    // worker leaves only once the job in hand is done.
    void queue.then(() => process.exit(0));
    return;
  }
  queue = queue.then(() => handle(message));
});
