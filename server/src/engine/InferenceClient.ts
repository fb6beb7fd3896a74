import type { Worker } from 'node:worker_threads';
import { startTsWorker } from '../tsWorker.ts';
import { ModelError, InvalidStateError } from '../errors.ts';
import type { FrameJob, FrameResult } from './Sampler.ts';

/** How the worker opens the model. */
export interface WorkerOptions {
  modelDir: string;
  executionProvider: 'cpu' | 'webgpu';
  threads: number;
  guidance?: number;
}

export interface WorkerRequest {
  id: number;
  job: FrameJob;
}

export type WorkerReply =
  | { type: 'ready' }
  | { type: 'fatal'; message: string }
  | { type: 'result'; id: number; result: FrameResult }
  | { type: 'error'; id: number; message: string };

/**
 * The main thread's handle on the inference worker: one latent frame per request, buffers
 * transferred, never copied twice. Requests run in the order they are made.
 */
export class InferenceClient {
  readonly #worker: Worker;
  readonly #pending = new Map<number, { resolve: (r: FrameResult) => void; reject: (e: Error) => void }>();
  #nextId = 1;
  #closed = false;
  #failure: Error | undefined;
  #exited = false;

  private constructor(worker: Worker) {
    this.#worker = worker;
    worker.on('message', (reply: WorkerReply) => this.#onReply(reply));
    worker.on('error', (err) => this.#fail(err));
    worker.on('exit', (code) => {
      this.#exited = true;
      if (!this.#closed) this.#fail(new Error(`inference worker exited with code ${code}`));
    });
  }

  /** Starts a worker and resolves once every graph of the model is open. */
  static async open(options: WorkerOptions): Promise<InferenceClient> {
    const worker = startTsWorker(new URL('./inferenceWorker.ts', import.meta.url), options);
    await new Promise<void>((resolve, reject) => {
      const onMessage = (reply: WorkerReply) => {
        if (reply.type === 'ready') resolve();
        else if (reply.type === 'fatal') reject(new ModelError(reply.message));
      };
      worker.once('message', onMessage);
      worker.once('error', reject);
    }).catch(async (err: unknown) => {
      await worker.terminate();
      throw err;
    });
    return new InferenceClient(worker);
  }

  /** Samples and decodes one latent frame in the worker. */
  sample(job: FrameJob): Promise<FrameResult> {
    if (this.#closed) return Promise.reject(new InvalidStateError('inference client closed'));
    if (this.#failure) return Promise.reject(this.#failure);
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#worker.postMessage({ id, job } satisfies WorkerRequest);
    });
  }

  /**
   * Stops the worker once the job it is running ends (killing it mid-run would abort the
   * process); requests not yet answered reject. Idempotent.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const { reject } of this.#pending.values()) reject(new InvalidStateError('inference client closed'));
    this.#pending.clear();
    if (this.#exited) return;
    const exited = new Promise<void>((resolve) => this.#worker.once('exit', () => resolve()));
    this.#worker.postMessage('close');
    await exited;
  }

  #onReply(reply: WorkerReply): void {
    if (reply.type !== 'result' && reply.type !== 'error') return;
    const pending = this.#pending.get(reply.id);
    if (!pending) return;
    this.#pending.delete(reply.id);
    if (reply.type === 'result') pending.resolve(reply.result);
    else pending.reject(new Error(reply.message));
  }

  #fail(err: Error): void {
    this.#failure = err;
    for (const { reject } of this.#pending.values()) reject(err);
    this.#pending.clear();
  }
}
