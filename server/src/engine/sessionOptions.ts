import type { InferenceSession } from 'onnxruntime-node';

/**
 * How every onnxruntime session of the model is opened, in the engine and in its benchmarks.
 *
 * Spinning is off: each session has its own intra-op pool, and with spinning on, a pool whose
 * graph just finished keeps its threads busy-waiting while the next graph runs on another pool.
 * In the latent-frame loop (history, 13 steps, decoder: four sessions in turn) on 2 cores that
 * made a latent frame about 1.5 times slower (docs/PERF.md).
 */
export function sessionOptions(threads: number, executionProvider: 'cpu' | 'webgpu' = 'cpu'): InferenceSession.SessionOptions {
  return {
    executionProviders: [executionProvider],
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    extra: { session: { intra_op: { allow_spinning: '0' } } },
  };
}
