import { randomInt } from 'node:crypto';
import type { Manifest } from '../engine/ModelManifest.ts';
import type { InferenceClient } from '../engine/InferenceClient.ts';
import type { ServerConfig } from '../config.ts';
import type { Metrics } from '../Metrics.ts';
import { CapacityError, NotFoundError } from '../errors.ts';
import { LiveStream, type LiveStreamOptions } from './LiveStream.ts';

/**
 * Every stream on this server. All streams share one inference worker whose queue runs requests
 * in arrival order; a stream never has more than one latent frame in flight, so the worker serves
 * streams round-robin and none can starve another. Admission control keeps the count within what
 * the box generates in real time.
 */
export class StreamRegistry {
  readonly #streams = new Map<string, LiveStream>();
  readonly #client: InferenceClient;
  readonly #manifest: Manifest;
  readonly #config: ServerConfig;
  readonly #metrics: Metrics;
  #closing = false;

  constructor(client: InferenceClient, manifest: Manifest, config: ServerConfig, metrics: Metrics) {
    this.#client = client;
    this.#manifest = manifest;
    this.#config = config;
    this.#metrics = metrics;
  }

  get size(): number {
    return this.#streams.size;
  }

  get streams(): Iterable<LiveStream> {
    return this.#streams.values();
  }

  /** Starts a stream, or refuses with 503 when the server is full or shutting down. */
  create(options: Omit<LiveStreamOptions, 'seed'> & { seed?: number | undefined }): LiveStream {
    if (this.#closing) throw new CapacityError('the server is shutting down', 30);
    if (this.#streams.size >= this.#config.limits.streams) {
      this.#metrics.refused.value++;
      throw new CapacityError(`the server runs its maximum of ${this.#config.limits.streams} streams; try again later`, 30);
    }
    const stream = new LiveStream(this.#client, this.#manifest, this.#config, this.#metrics, {
      ...options,
      seed: options.seed ?? randomInt(0, 2 ** 32 - 1),
    });
    this.#streams.set(stream.id, stream);
    this.#metrics.streamsCreated.value++;
    stream.once('ended', () => this.#streams.delete(stream.id));
    return stream;
  }

  /** A live stream, or 404. */
  get(id: string): LiveStream {
    const stream = this.#streams.get(id);
    if (!stream) throw new NotFoundError(`no stream ${JSON.stringify(id)} (it may have ended)`);
    return stream;
  }

  /** Refuses new streams and ends every stream with the reason. */
  shutdown(reason: string): void {
    this.#closing = true;
    for (const stream of [...this.#streams.values()]) stream.end(reason);
  }
}
