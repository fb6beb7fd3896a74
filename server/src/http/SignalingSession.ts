import type { WebSocket, RawData } from 'ws';
import type { StreamRegistry } from '../live/StreamRegistry.ts';
import type { LiveStream } from '../live/LiveStream.ts';
import type { PromptEntry } from '../engine/PromptLog.ts';
import type { ClientMessage, ServerMessage, StreamState } from '../protocol/messages.ts';
import { decodeClientMessage, encodeMessage } from '../protocol/codec.ts';
import { LivegenError, NotFoundError, RateLimitedError, UnauthorizedError } from '../errors.ts';
import type { RateLimiter } from './RateLimiter.ts';
import { tokenMatches } from './tokens.ts';
import { streamLinks } from './links.ts';

export interface SignalingContext {
  registry: StreamRegistry;
  /** Per client address: joins, edits. */
  joins: RateLimiter;
  edits: RateLimiter;
  publicUrl: string;
}

// Messages a second one socket may send before it is refused, and the refusals it may earn
// before it is closed as a flood.
const MESSAGES_PER_SECOND = 50;
const FLOOD_REFUSALS = 100;
const STATE_INTERVAL_MS = 1000;

/**
 * One WebSocket client: it may create streams, join them as a viewer (the server offers, the
 * client answers), steer them with the steer token, and hears each joined stream's state,
 * prompt changes and end. Everything it opened closes with it.
 */
export class SignalingSession {
  readonly #ws: WebSocket;
  readonly #ctx: SignalingContext;
  readonly #address: string;
  readonly #viewers = new Map<string, LiveStream>();
  readonly #watching = new Map<string, { stream: LiveStream; off: () => void }>();
  readonly #stateTimer: NodeJS.Timeout;
  #budget = MESSAGES_PER_SECOND;
  #budgetAt = performance.now();
  #refusals = 0;

  constructor(ws: WebSocket, address: string, ctx: SignalingContext) {
    this.#ws = ws;
    this.#ctx = ctx;
    this.#address = address;
    ws.on('message', (data, isBinary) => this.#onMessage(data, isBinary));
    ws.on('close', () => this.#cleanup());
    ws.on('error', () => ws.terminate());
    this.#stateTimer = setInterval(() => this.#sendStates(), STATE_INTERVAL_MS);
  }

  /** Tells the client the server is going away and closes the socket. */
  shutdown(message: string): void {
    this.#send({ type: 'shutdown', message });
    this.#ws.close(1001, 'server shutting down');
  }

  #send(message: ServerMessage): void {
    if (this.#ws.readyState === this.#ws.OPEN) this.#ws.send(encodeMessage(message));
  }

  #onMessage(data: RawData, isBinary: boolean): void {
    if (!this.#admit()) return;
    let message: ClientMessage;
    try {
      if (!isBinary) throw new LivegenError('LG_ERR_BAD_REQUEST', 400, 'messages are binary MessagePack, not text');
      message = decodeClientMessage(toBytes(data));
    } catch (err) {
      this.#error(err, undefined);
      return;
    }
    this.#handle(message).catch((err: unknown) => this.#error(err, message.ref));
  }

  /** A per-socket token bucket; a client that keeps flooding is disconnected. */
  #admit(): boolean {
    const now = performance.now();
    this.#budget = Math.min(MESSAGES_PER_SECOND * 2, this.#budget + ((now - this.#budgetAt) / 1000) * MESSAGES_PER_SECOND);
    this.#budgetAt = now;
    if (this.#budget >= 1) {
      this.#budget--;
      return true;
    }
    if (++this.#refusals > FLOOD_REFUSALS) {
      this.#ws.close(1008, 'message flood');
      return false;
    }
    this.#error(new RateLimitedError('too many messages; slow down', 1), undefined);
    return false;
  }

  #error(err: unknown, ref: number | undefined): void {
    if (err instanceof LivegenError) {
      this.#send({ type: 'error', ...(ref !== undefined ? { ref } : {}), code: err.code, message: err.message });
    } else {
      console.error('signaling: unexpected error', err);
      this.#send({ type: 'error', ...(ref !== undefined ? { ref } : {}), code: 'LG_ERR_INTERNAL', message: 'internal error' });
    }
  }

  async #handle(m: ClientMessage): Promise<void> {
    const ref = m.ref !== undefined ? { ref: m.ref } : {};
    switch (m.type) {
      case 'create': {
        const stream = this.#ctx.registry.create({ prompt: m.prompt, seed: m.seed, private: m.private ?? false });
        // Its creator follows it from the start: a stream that fails before anyone joins must
        // still tell someone why.
        this.#watch(stream);
        this.#send({ type: 'created', ...ref, streamId: stream.id, steerToken: stream.steerToken, ...(stream.viewToken ? { viewToken: stream.viewToken } : {}), ...streamLinks(this.#ctx.publicUrl, stream) });
        return;
      }
      case 'join': {
        const wait = this.#ctx.joins.take(this.#address);
        if (wait > 0) throw new RateLimitedError('too many joins; try again shortly', Math.ceil(wait));
        const stream = this.#ctx.registry.get(m.streamId);
        if (stream.private && !tokenMatches(m.viewToken, stream.viewToken)) throw new UnauthorizedError('this stream is private: a view token is needed');
        const viewer = stream.createViewer();
        this.#viewers.set(viewer.id, stream);
        this.#watch(stream);
        try {
          const sdp = await viewer.offer();
          this.#send({ type: 'offer', ...ref, streamId: stream.id, viewerId: viewer.id, sdp, timing: stream.timing });
        } catch (err) {
          stream.removeViewer(viewer.id);
          this.#viewers.delete(viewer.id);
          throw err;
        }
        return;
      }
      case 'answer': {
        const stream = this.#viewers.get(m.viewerId);
        const viewer = stream?.getViewer(m.viewerId);
        if (!stream || !viewer) throw new NotFoundError(`no viewer ${JSON.stringify(m.viewerId)} on this connection`);
        await viewer.accept(m.sdp);
        this.#send({ type: 'joined', ...ref, streamId: stream.id, viewerId: viewer.id });
        this.#send({ type: 'state', state: recent(stream) });
        return;
      }
      case 'leave': {
        const stream = this.#viewers.get(m.viewerId);
        if (!stream) throw new NotFoundError(`no viewer ${JSON.stringify(m.viewerId)} on this connection`);
        stream.removeViewer(m.viewerId);
        this.#viewers.delete(m.viewerId);
        this.#send({ type: 'left', ...ref, viewerId: m.viewerId });
        return;
      }
      case 'steer': {
        const stream = this.#ctx.registry.get(m.streamId);
        if (!tokenMatches(m.steerToken, stream.steerToken)) throw new UnauthorizedError('wrong steer token');
        const wait = this.#ctx.edits.take(`${this.#address} ${stream.id}`);
        if (wait > 0) throw new RateLimitedError('too many edits; try again shortly', Math.ceil(wait));
        const ack = stream.steer(m.prompt, m.blendFrames ?? 0);
        this.#watch(stream);
        this.#send({ type: 'steered', ...ref, streamId: stream.id, ...ack });
        return;
      }
    }
  }

  /** Subscribes this client to a stream's prompt changes, state and end. */
  #watch(stream: LiveStream): void {
    if (this.#watching.has(stream.id)) return;
    const onPrompt = (entry: PromptEntry) => this.#send({ type: 'prompt', streamId: stream.id, entry });
    const onEnded = (status: 'ended' | 'failed', reason: string) => {
      this.#send({ type: 'ended', streamId: stream.id, status, reason });
      this.#unwatch(stream.id);
    };
    stream.on('prompt', onPrompt);
    stream.on('ended', onEnded);
    this.#watching.set(stream.id, {
      stream,
      off: () => {
        stream.off('prompt', onPrompt);
        stream.off('ended', onEnded);
      },
    });
  }

  #unwatch(id: string): void {
    this.#watching.get(id)?.off();
    this.#watching.delete(id);
    for (const [viewerId, stream] of this.#viewers) if (stream.id === id) this.#viewers.delete(viewerId);
  }

  #sendStates(): void {
    for (const { stream } of this.#watching.values()) this.#send({ type: 'state', state: recent(stream) });
  }

  #cleanup(): void {
    clearInterval(this.#stateTimer);
    for (const [viewerId, stream] of this.#viewers) stream.removeViewer(viewerId);
    this.#viewers.clear();
    for (const id of [...this.#watching.keys()]) this.#unwatch(id);
  }
}

// A stream steered for hours has a long prompt log; the periodic state carries its tail only
// (REST has all of it).
const STATE_PROMPTS = 20;

function recent(stream: LiveStream): StreamState {
  const state = stream.state;
  return { ...state, prompts: state.prompts.slice(-STATE_PROMPTS) };
}

function toBytes(data: RawData): Uint8Array {
  if (Array.isArray(data)) return Buffer.concat(data);
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  return data;
}
