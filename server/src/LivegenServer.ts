import type { ServerConfig } from './config.ts';
import { loadModelDescription } from './engine/ModelManifest.ts';
import { InferenceClient } from './engine/InferenceClient.ts';
import { StreamRegistry } from './live/StreamRegistry.ts';
import type { LiveStream } from './live/LiveStream.ts';
import { HttpServer } from './http/HttpServer.ts';
import { Metrics } from './Metrics.ts';

/** The whole live server: the model in its worker, the streams, HTTP and signaling, metrics. */
export class LivegenServer {
  readonly url: string;
  readonly port: number;
  readonly registry: StreamRegistry;
  readonly #http: HttpServer;
  readonly #client: InferenceClient;

  private constructor(url: string, port: number, registry: StreamRegistry, http: HttpServer, client: InferenceClient) {
    this.url = url;
    this.port = port;
    this.registry = registry;
    this.#http = http;
    this.#client = client;
  }

  /** Loads the model and listens; `config.port` 0 picks a free port. */
  static async start(config: ServerConfig): Promise<LivegenServer> {
    const model = await loadModelDescription(config.modelDir);
    const client = await InferenceClient.open({ modelDir: model.dir, executionProvider: config.executionProvider, threads: config.threads });
    const live = (): LiveStream[] => [...registry.streams];
    const metrics: Metrics = new Metrics({
      streams: () => registry.size,
      viewers: () => live().reduce((n, s) => n + s.viewerCount, 0),
      rtf: () => Math.min(...live().filter((s) => s.status === 'live').map((s) => s.rtf), Infinity),
    });
    const registry: StreamRegistry = new StreamRegistry(client, model.manifest, config, metrics);
    const http = new HttpServer(config, registry, metrics);
    let port: number;
    try {
      port = await http.listen();
    } catch (err) {
      await client.close();
      throw err;
    }
    const host = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host;
    return new LivegenServer(config.publicUrl ?? `http://${host}:${port}`, port, registry, http, client);
  }

  /** Stops taking work, tells every client why, ends every stream, and closes. */
  async close(reason = 'the server is shutting down'): Promise<void> {
    this.registry.shutdown(reason);
    await this.#http.close(reason);
    await this.#client.close();
  }
}
