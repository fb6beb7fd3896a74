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

/** The codes above, for the documentation test. */
export const ERROR_CODES = ['LG_ERR_INVALID_STATE', 'LG_ERR_UNSUPPORTED', 'LG_ERR_MODEL_INVALID'] as const;
