import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { WebSocketServer } from 'ws';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import type { ServerConfig } from '../config.ts';
import type { Metrics } from '../Metrics.ts';
import type { StreamRegistry } from '../live/StreamRegistry.ts';
import type { LiveStream } from '../live/LiveStream.ts';
import { StreamOptionsSchema, SteerSchema } from '../protocol/messages.ts';
import { BadRequestError, CapacityError, LivegenError, NotFoundError, RateLimitedError, TooLargeError, UnauthorizedError } from '../errors.ts';
import { RateLimiter } from './RateLimiter.ts';
import { SignalingSession } from './SignalingSession.ts';
import { bearer, tokenMatches } from './tokens.ts';
import { streamLinks } from './links.ts';

const streamOptions = TypeCompiler.Compile(StreamOptionsSchema);
const steerBody = TypeCompiler.Compile(SteerSchema);

/** Where the bundled browser client lives; the page for `/` and `/s/:id`. */
const CLIENT_DIR = path.resolve(import.meta.dirname, '../../../client/dist');

type Handler = (req: IncomingMessage, res: ServerResponse, params: string[]) => Promise<void>;

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
};

/**
 * The server's HTTP face: REST for streams, WHEP for players, the signaling WebSocket at `/ws`,
 * Prometheus metrics and the browser client. Every error is JSON with a stable code
 * (docs/errors.md); a bad request touches nothing but itself.
 */
export class HttpServer {
  readonly #server: http.Server;
  readonly #wss: WebSocketServer;
  readonly #config: ServerConfig;
  readonly #registry: StreamRegistry;
  readonly #metrics: Metrics;
  readonly #sessions = new Set<SignalingSession>();
  readonly #joins: RateLimiter;
  readonly #edits: RateLimiter;
  readonly #routes: { method: string; pattern: RegExp; handler: Handler }[] = [];
  #closing = false;

  constructor(config: ServerConfig, registry: StreamRegistry, metrics: Metrics) {
    this.#config = config;
    this.#registry = registry;
    this.#metrics = metrics;
    this.#joins = new RateLimiter(config.limits.joinsPerSecond);
    this.#edits = new RateLimiter(config.limits.editsPerSecond);
    this.#server = http.createServer((req, res) => void this.#dispatch(req, res));
    this.#wss = new WebSocketServer({ noServer: true, maxPayload: config.limits.messageBytes });
    this.#server.on('upgrade', (req, socket, head) => this.#upgrade(req, socket as Socket, head));

    this.#route('GET', /^\/(?:s\/[^/]+)?$/, (req, res) => this.#page(res, 'index.html'));
    this.#route('GET', /^\/assets\/([\w.-]+)$/, (req, res, [file]) => this.#page(res, `assets/${file}`));
    this.#route('GET', /^\/healthz$/, async (req, res) => send(res, 200, { ok: true }));
    this.#route('GET', /^\/metrics$/, async (req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }).end(this.#metrics.render());
    });
    this.#route('GET', /^\/api\/streams$/, async (req, res) => {
      const list = [...this.#registry.streams].filter((s) => !s.private).map((s) => ({ id: s.id, prompt: s.state.prompt, viewers: s.viewerCount, createdAt: s.createdAt }));
      send(res, 200, { streams: list });
    });
    this.#route('POST', /^\/api\/streams$/, (req, res) => this.#createStream(req, res));
    this.#route('GET', /^\/api\/streams\/([^/]+)$/, async (req, res, [id]) => {
      const stream = this.#registry.get(id ?? '');
      this.#authorizeView(req, stream);
      send(res, 200, stream.state);
    });
    this.#route('POST', /^\/api\/streams\/([^/]+)\/prompt$/, (req, res, [id]) => this.#steer(req, res, id ?? ''));
    this.#route('DELETE', /^\/api\/streams\/([^/]+)$/, async (req, res, [id]) => {
      const stream = this.#registry.get(id ?? '');
      this.#authorizeSteer(req, stream);
      stream.end('ended by its owner');
      res.writeHead(204).end();
    });
    this.#route('POST', /^\/whep\/([^/]+)$/, (req, res, [id]) => this.#whep(req, res, id ?? ''));
    this.#route('DELETE', /^\/whep\/([^/]+)\/([^/]+)$/, async (req, res, [id, viewerId]) => {
      const stream = this.#registry.get(id ?? '');
      if (!stream.getViewer(viewerId ?? '')) throw new NotFoundError(`no WHEP session ${JSON.stringify(viewerId)}`);
      stream.removeViewer(viewerId ?? '');
      res.writeHead(200).end();
    });
    this.#route('PATCH', /^\/whep\/([^/]+)\/([^/]+)$/, async (req, res) => {
      // Our answer carries every candidate, so there is nothing to trickle.
      res.writeHead(405, { allow: 'DELETE' }).end();
    });
  }

  /** Listens; resolves with the bound port. */
  listen(): Promise<number> {
    return new Promise((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(this.#config.port, this.#config.host, () => {
        const address = this.#server.address();
        resolve(typeof address === 'object' && address ? address.port : this.#config.port);
      });
    });
  }

  /** Stops taking work, tells every WebSocket client, and closes when requests are done. */
  async close(message: string): Promise<void> {
    this.#closing = true;
    for (const session of this.#sessions) session.shutdown(message);
    this.#wss.close();
    await new Promise<void>((resolve) => {
      this.#server.close(() => resolve());
      this.#server.closeIdleConnections();
      setTimeout(() => this.#server.closeAllConnections(), 2000).unref();
    });
  }

  #route(method: string, pattern: RegExp, handler: Handler): void {
    this.#routes.push({ method, pattern, handler });
  }

  #publicUrl(req: IncomingMessage): string {
    return this.#config.publicUrl ?? `http://${req.headers.host ?? `127.0.0.1:${this.#config.port}`}`;
  }

  async #dispatch(req: IncomingMessage, res: ServerResponse): Promise<void> {
    res.setHeader('access-control-allow-origin', '*');
    res.setHeader('access-control-expose-headers', 'location, retry-after');
    try {
      const url = new URL(req.url ?? '/', 'http://x');
      if (req.method === 'OPTIONS') {
        res.writeHead(204, {
          'access-control-allow-methods': 'GET, POST, DELETE, PATCH, OPTIONS',
          'access-control-allow-headers': 'authorization, content-type',
          'access-control-max-age': '600',
        }).end();
        return;
      }
      let pathMatched = false;
      for (const route of this.#routes) {
        const match = route.pattern.exec(url.pathname);
        if (!match) continue;
        pathMatched = true;
        if (route.method !== req.method) continue;
        if (this.#closing && req.method !== 'GET' && req.method !== 'DELETE') throw new CapacityError('the server is shutting down', 30);
        await route.handler(req, res, match.slice(1).map(decodeURIComponent));
        return;
      }
      if (pathMatched) throw new LivegenError('LG_ERR_BAD_REQUEST', 405, `${req.method} is not allowed on ${url.pathname}`);
      throw new NotFoundError(`nothing at ${url.pathname}`);
    } catch (err) {
      this.#fail(res, err);
    }
  }

  #fail(res: ServerResponse, err: unknown): void {
    if (res.headersSent) {
      res.destroy();
      return;
    }
    if (err instanceof LivegenError) {
      if (err instanceof CapacityError || err instanceof RateLimitedError) res.setHeader('retry-after', String(err.retryAfterSeconds));
      send(res, err.statusCode, { error: { code: err.code, message: err.message } });
      return;
    }
    console.error('http: unexpected error', err);
    send(res, 500, { error: { code: 'LG_ERR_INTERNAL', message: 'internal error' } });
  }

  async #createStream(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readJson(req, this.#config.limits.messageBytes);
    if (!streamOptions.Check(body)) throw new BadRequestError(firstError(streamOptions, body));
    const stream = this.#registry.create({ prompt: body.prompt, seed: body.seed, private: body.private ?? false });
    const links = streamLinks(this.#publicUrl(req), stream);
    res.setHeader('location', `/api/streams/${stream.id}`);
    send(res, 201, { id: stream.id, steerToken: stream.steerToken, ...(stream.viewToken ? { viewToken: stream.viewToken } : {}), ...links, timing: stream.timing });
  }

  async #steer(req: IncomingMessage, res: ServerResponse, id: string): Promise<void> {
    const stream = this.#registry.get(id);
    this.#authorizeSteer(req, stream);
    const wait = this.#edits.take(`${clientAddress(req)} ${stream.id}`);
    if (wait > 0) throw new RateLimitedError(`over ${this.#config.limits.editsPerSecond} edits a second`, Math.ceil(wait));
    const body = await readJson(req, this.#config.limits.messageBytes);
    if (!steerBody.Check(body)) throw new BadRequestError(firstError(steerBody, body));
    send(res, 202, stream.steer(body.prompt, body.blendFrames ?? 0));
  }

  async #whep(req: IncomingMessage, res: ServerResponse, id: string): Promise<void> {
    const stream = this.#registry.get(id);
    if (stream.private && !tokenMatches(bearer(req), stream.viewToken)) throw new UnauthorizedError('this stream is private: a view token is needed (Authorization: Bearer)');
    const wait = this.#joins.take(clientAddress(req));
    if (wait > 0) throw new RateLimitedError('too many joins; try again shortly', Math.ceil(wait));
    const type = req.headers['content-type'] ?? '';
    if (!type.startsWith('application/sdp')) throw new LivegenError('LG_ERR_BAD_REQUEST', 415, 'a WHEP offer has Content-Type application/sdp');
    const offer = (await readBody(req, this.#config.limits.messageBytes)).toString('utf8');
    const viewer = stream.createViewer();
    let answer: string;
    try {
      answer = await viewer.answer(offer);
    } catch (err) {
      stream.removeViewer(viewer.id);
      throw err;
    }
    res.writeHead(201, { 'content-type': 'application/sdp', location: `/whep/${stream.id}/${viewer.id}` }).end(answer);
  }

  #authorizeView(req: IncomingMessage, stream: LiveStream): void {
    if (!stream.private) return;
    const token = bearer(req) ?? new URL(req.url ?? '/', 'http://x').searchParams.get('token') ?? undefined;
    if (!tokenMatches(token, stream.viewToken) && !tokenMatches(token, stream.steerToken)) throw new UnauthorizedError('this stream is private: a view token is needed');
  }

  #authorizeSteer(req: IncomingMessage, stream: LiveStream): void {
    if (!tokenMatches(bearer(req), stream.steerToken)) throw new UnauthorizedError('a steer token is needed: Authorization: Bearer <steerToken>');
  }

  async #page(res: ServerResponse, file: string): Promise<void> {
    let body: Buffer;
    try {
      body = await readFile(path.join(CLIENT_DIR, file));
    } catch {
      if (file !== 'index.html') throw new NotFoundError(`no ${file}`);
      res.writeHead(503, { 'content-type': 'text/plain; charset=utf-8' }).end('The browser client is not built: run `npm run build:client`.\n');
      return;
    }
    const cache = file.startsWith('assets/') ? 'public, max-age=31536000, immutable' : 'no-cache';
    res.writeHead(200, { 'content-type': CONTENT_TYPES[path.extname(file)] ?? 'application/octet-stream', 'cache-control': cache }).end(body);
  }

  #upgrade(req: IncomingMessage, socket: Socket, head: Buffer): void {
    if (new URL(req.url ?? '/', 'http://x').pathname !== '/ws' || this.#closing) {
      socket.end('HTTP/1.1 404 Not Found\r\nconnection: close\r\n\r\n');
      return;
    }
    this.#wss.handleUpgrade(req, socket, head, (ws) => {
      const session = new SignalingSession(ws, clientAddress(req), {
        registry: this.#registry,
        joins: this.#joins,
        edits: this.#edits,
        publicUrl: this.#publicUrl(req),
      });
      this.#sessions.add(session);
      ws.on('close', () => this.#sessions.delete(session));
    });
  }
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' }).end(JSON.stringify(body));
}

function clientAddress(req: IncomingMessage): string {
  return req.socket.remoteAddress ?? 'unknown';
}

async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > limit) throw new TooLargeError(`the body is ${declared} bytes; the limit is ${limit}`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new TooLargeError(`the body is over the limit of ${limit} bytes`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

async function readJson(req: IncomingMessage, limit: number): Promise<unknown> {
  const text = (await readBody(req, limit)).toString('utf8');
  try {
    return JSON.parse(text);
  } catch {
    throw new BadRequestError('the body is not JSON');
  }
}

function firstError(check: ReturnType<typeof TypeCompiler.Compile>, value: unknown): string {
  const e = check.Errors(value).First();
  return e ? `${e.path || 'body'}: ${e.message}` : 'invalid body';
}
