import WebSocket from 'ws';
import type { ClientMessage, ServerMessage } from '../../server/src/protocol/messages.ts';
import { decodeServerMessage, encodeClientMessage } from '../../server/src/protocol/codec.ts';

type Reply<T extends ServerMessage['type']> = Extract<ServerMessage, { type: T }>;

/** An `error` message from the server, as an exception. */
export class SignalingError extends Error {
  readonly code: string;

  constructor(code: string, message: string) {
    super(message);
    this.code = code;
  }
}

/**
 * The client side of the signaling WebSocket (docs/protocol.md): requests carry a `ref` and
 * resolve with the reply that echoes it, or reject with the `error` that does.
 */
export class SignalingClient {
  readonly #ws: WebSocket;
  readonly #pending = new Map<number, { resolve: (m: ServerMessage) => void; reject: (e: Error) => void }>();
  readonly #listeners = new Set<(m: ServerMessage) => void>();
  #nextRef = 1;
  #closed: Error | undefined;

  private constructor(ws: WebSocket) {
    this.#ws = ws;
    ws.on('message', (data: Buffer) => this.#onMessage(decodeServerMessage(data)));
    ws.on('close', (code, reason) => this.#fail(new Error(`signaling closed (${code}${reason.length ? `: ${reason.toString()}` : ''})`)));
    ws.on('error', (err) => this.#fail(err));
  }

  /** Connects to `<httpUrl>/ws`. */
  static connect(httpUrl: string, timeoutMs = 5000): Promise<SignalingClient> {
    const url = new URL('/ws', httpUrl);
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    const ws = new WebSocket(url, { handshakeTimeout: timeoutMs });
    return new Promise((resolve, reject) => {
      ws.once('open', () => resolve(new SignalingClient(ws)));
      ws.once('error', reject);
    });
  }

  get closed(): boolean {
    return this.#closed !== undefined;
  }

  /** Every message the server sends, replies included. */
  onMessage(listener: (m: ServerMessage) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Sends a request and waits for the reply of type `expect` that echoes its ref. */
  async request<T extends ServerMessage['type']>(message: ClientMessage, expect: T, timeoutMs = 15_000): Promise<Reply<T>> {
    if (this.#closed) throw this.#closed;
    const ref = this.#nextRef++;
    const reply = new Promise<ServerMessage>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(ref);
        reject(new Error(`no reply to ${message.type} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#pending.set(ref, {
        resolve: (m) => {
          clearTimeout(timer);
          resolve(m);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
    });
    this.send({ ...message, ref });
    const m = await reply;
    if (m.type !== expect) throw new Error(`expected ${expect}, got ${m.type}`);
    return m as Reply<T>;
  }

  /** Sends without waiting for a reply. */
  send(message: ClientMessage): void {
    this.#ws.send(encodeClientMessage(message));
  }

  close(): void {
    this.#ws.close();
  }

  #onMessage(m: ServerMessage): void {
    for (const l of this.#listeners) l(m);
    const ref = 'ref' in m ? m.ref : undefined;
    if (ref === undefined) return;
    const pending = this.#pending.get(ref);
    if (!pending) return;
    this.#pending.delete(ref);
    if (m.type === 'error') pending.reject(new SignalingError(m.code, m.message));
    else pending.resolve(m);
  }

  #fail(err: Error): void {
    this.#closed ??= err;
    for (const p of this.#pending.values()) p.reject(err);
    this.#pending.clear();
  }
}
