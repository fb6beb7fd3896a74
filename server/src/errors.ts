/** Every error the server reports carries a stable code (documented in docs/errors.md) and an HTTP status. */
export class LivegenError extends Error {
  readonly code: string;
  readonly statusCode: number;

  constructor(code: string, statusCode: number, message: string) {
    super(message);
    this.name = new.target.name;
    this.code = code;
    this.statusCode = statusCode;
  }
}

/** Something was used after it closed. */
export class InvalidStateError extends LivegenError {
  constructor(message: string) {
    super('LG_ERR_INVALID_STATE', 409, message);
  }
}

/** A codec, resolution or execution provider we don't handle. */
export class UnsupportedError extends LivegenError {
  constructor(message: string) {
    super('LG_ERR_UNSUPPORTED', 400, message);
  }
}

/** A model directory that cannot be used: unreadable, a bad manifest, a missing graph. */
export class ModelError extends LivegenError {
  constructor(message: string) {
    super('LG_ERR_MODEL_INVALID', 500, message);
  }
}

/** A request or message that is malformed, of the wrong type, or out of range. */
export class BadRequestError extends LivegenError {
  constructor(message: string) {
    super('LG_ERR_BAD_REQUEST', 400, message);
  }
}

/** A missing or wrong steer or view token. */
export class UnauthorizedError extends LivegenError {
  constructor(message: string) {
    super('LG_ERR_UNAUTHORIZED', 401, message);
  }
}

/** No such stream or viewer (or it has ended). */
export class NotFoundError extends LivegenError {
  constructor(message: string) {
    super('LG_ERR_NOT_FOUND', 404, message);
  }
}

/** A body or message over the size limit. */
export class TooLargeError extends LivegenError {
  constructor(message: string) {
    super('LG_ERR_TOO_LARGE', 413, message);
  }
}

/** A client over one of its rate limits. */
export class RateLimitedError extends LivegenError {
  readonly retryAfterSeconds: number;

  constructor(message: string, retryAfterSeconds: number) {
    super('LG_ERR_RATE_LIMITED', 429, message);
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

/** The server is full (streams, or viewers of a stream) or shutting down. */
export class CapacityError extends LivegenError {
  readonly retryAfterSeconds: number;

  constructor(message: string, retryAfterSeconds: number) {
    super('LG_ERR_CAPACITY', 503, message);
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

/** The codes above, for the documentation test. */
export const ERROR_CODES = [
  'LG_ERR_INVALID_STATE',
  'LG_ERR_UNSUPPORTED',
  'LG_ERR_MODEL_INVALID',
  'LG_ERR_BAD_REQUEST',
  'LG_ERR_UNAUTHORIZED',
  'LG_ERR_NOT_FOUND',
  'LG_ERR_TOO_LARGE',
  'LG_ERR_RATE_LIMITED',
  'LG_ERR_CAPACITY',
  'LG_ERR_INTERNAL',
] as const;
