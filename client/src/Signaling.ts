import { decodeMessage, encodeMessage, type ClientMessage, type ServerMessage } from './protocol.ts';

type Reply<T extends ServerMessage['type']> = Extract<ServerMessage, { type: T }>;
type Request = ClientMessage extends infer M ? (M extends ClientMessage ? Omit<M, 'ref'> : never) : never;

/** An `error` message from the server (or a lost connection) as an exception. */
export class SignalingError extends Error {
  readonly code: string;

  constructor(code: string, message: string) {
    super(message);
    this.name = 'SignalingError';
    this.code = code;
  }
}

export interface SignalingHandlers {
  /** The socket is open: the first time and after every reconnect. */
  onOpen: () => void;
  /** The socket closed unasked; it is reconnecting. */
  onDrop: () => void;
  onMessage: (message: ServerMessage) => void;
}

// Reconnect quickly after a blip, then back off so a dead server is not hammered.
const FIRST_RETRY_MS = 250;
const MAX_RETRY_MS = 3000;
const REQUEST_TIMEOUT_MS = 15_000;

/**
 * The signaling WebSocket at `/ws` (binary MessagePack). It reconnects by itself until closed;
 * requests carry a `ref` and resolve with the reply that echoes it, or reject with the `error`
 * that does.
 */
export class Signaling {
  readonly #url: string;
  readonly #handlers: SignalingHandlers;
  readonly #pending = new Map<number, { resolve: (m: ServerMessage) => void; reject: (e: Error) => void }>();
  #ws: WebSocket | undefined;
  #nextRef = 1;
  #retryMs = FIRST_RETRY_MS;
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  #closed = false;

  constructor(url: string, handlers: SignalingHandlers) {
    this.#url = url;
    this.#handlers = handlers;
    this.#connect();
  }

  /** True while the socket is open. */
  get connected(): boolean {
    return this.#ws?.readyState === WebSocket.OPEN;
  }

  /** Sends a request and waits for the reply of type `expect` that echoes its ref. */
  request<T extends ServerMessage['type']>(message: Request, expect: T): Promise<Reply<T>> {
    const ws = this.#ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) return Promise.reject(new SignalingError('LG_ERR_DISCONNECTED', 'not connected'));
    const ref = this.#nextRef++;
    return new Promise<Reply<T>>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(ref);
        reject(new SignalingError('LG_ERR_TIMEOUT', `no reply to ${message.type}`));
      }, REQUEST_TIMEOUT_MS);
      this.#pending.set(ref, {
        resolve: (m) => {
          clearTimeout(timer);
          if (m.type === expect) resolve(m as Reply<T>);
          else reject(new SignalingError('LG_ERR_PROTOCOL', `expected ${expect}, got ${m.type}`));
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      ws.send(encodeMessage({ ...message, ref } as ClientMessage));
    });
  }

  /** Closes for good: no more reconnects. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#retryTimer);
    this.#ws?.close();
    this.#failPending();
  }

  #connect(): void {
    const ws = new WebSocket(this.#url);
    ws.binaryType = 'arraybuffer';
    this.#ws = ws;
    ws.addEventListener('open', () => {
      this.#retryMs = FIRST_RETRY_MS;
      this.#handlers.onOpen();
    });
    ws.addEventListener('message', (event: MessageEvent<ArrayBuffer>) => this.#onMessage(decodeMessage(event.data)));
    // A failed connect fires 'error' then 'close'; 'close' alone schedules the retry.
    ws.addEventListener('close', () => {
      if (this.#ws !== ws || this.#closed) return;
      this.#failPending();
      this.#handlers.onDrop();
      // The handler may have closed us for good.
      if (this.#closed) return;
      this.#retryTimer = setTimeout(() => this.#connect(), this.#retryMs);
      this.#retryMs = Math.min(MAX_RETRY_MS, this.#retryMs * 2);
    });
  }

  #onMessage(message: ServerMessage): void {
    const ref = 'ref' in message ? message.ref : undefined;
    const pending = ref === undefined ? undefined : this.#pending.get(ref);
    if (ref !== undefined && pending) {
      this.#pending.delete(ref);
      if (message.type === 'error') pending.reject(new SignalingError(message.code, message.message));
      else pending.resolve(message);
      return;
    }
    this.#handlers.onMessage(message);
  }

  #failPending(): void {
    for (const p of this.#pending.values()) p.reject(new SignalingError('LG_ERR_DISCONNECTED', 'the connection dropped'));
    this.#pending.clear();
  }
}
