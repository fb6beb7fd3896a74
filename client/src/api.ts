import type { StreamOptionsInput } from '../../server/src/protocol/messages.ts';

/** What `POST /api/streams` answers. */
export interface CreatedStream {
  id: string;
  steerToken: string;
  viewToken?: string;
  viewerUrl: string;
  steerUrl: string;
}

/** A public stream in `GET /api/streams`. */
export interface ListedStream {
  id: string;
  prompt: string;
  viewers: number;
  createdAt: number;
}

/** An error answer of the REST API, with its stable code (LG_ERR_CAPACITY for a full server). */
export class ApiError extends Error {
  readonly code: string;
  readonly status: number;
  /** Seconds the server asks to wait before trying again (503 and 429). */
  readonly retryAfter: number | undefined;

  constructor(status: number, code: string, message: string, retryAfter: number | undefined) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
  }
}

export function createStream(options: StreamOptionsInput): Promise<CreatedStream> {
  return call<CreatedStream>('/api/streams', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(options) });
}

export async function listStreams(): Promise<ListedStream[]> {
  return (await call<{ streams: ListedStream[] }>('/api/streams')).streams;
}

async function call<T>(path: string, init?: RequestInit): Promise<T> {
  let res: Response;
  try {
    res = await fetch(path, init);
  } catch {
    throw new ApiError(0, 'LG_ERR_DISCONNECTED', 'cannot reach the server', undefined);
  }
  const body: unknown = await res.json().catch(() => undefined);
  if (res.ok) return body as T;
  const error = (body as { error?: { code?: string; message?: string } } | undefined)?.error;
  const retryAfter = Number(res.headers.get('retry-after')) || undefined;
  throw new ApiError(res.status, error?.code ?? 'LG_ERR_INTERNAL', error?.message ?? `the server answered ${res.status}`, retryAfter);
}

/** Opens the new stream's steer page on this origin (the server's public URL may name another host). */
export function openStream(created: CreatedStream): void {
  const url = new URL(created.steerUrl, location.href);
  location.assign(`${url.pathname}${url.search}${url.hash}`);
}

/** A sentence for a failed create, saying plainly when the server is full. */
export function describeError(err: unknown): string {
  if (err instanceof ApiError) {
    if (err.code === 'LG_ERR_CAPACITY') return `The server is full right now${err.retryAfter ? `: try again in ${err.retryAfter} s` : ''}.`;
    if (err.code === 'LG_ERR_RATE_LIMITED') return `Too many requests: ${err.message}.`;
    return `Could not start the stream: ${err.message}.`;
  }
  return `Could not start the stream: ${err instanceof Error ? err.message : String(err)}.`;
}
