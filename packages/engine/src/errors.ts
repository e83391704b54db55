/**
 * Typed failures. Every error FlowPilot raises or records carries a stable `code` that scripts and
 * the API can match on, and a `retryable` flag that the retry policy honours (modelled on Temporal's
 * `ApplicationFailure.nonRetryable`).
 */

/** Options for {@link FlowPilotError}. */
export interface FlowPilotErrorOptions {
  /** Whether a retry policy may try the failed attempt again. Defaults to `true`. */
  retryable?: boolean;
  /** Structured, JSON-safe detail shown to users (never secrets). */
  details?: Record<string, unknown>;
  cause?: unknown;
}

/** The base error class: a stable machine-readable `code`, a human message and retryability. */
export class FlowPilotError extends Error {
  readonly code: string;
  readonly retryable: boolean;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: string, message: string, options: FlowPilotErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'FlowPilotError';
    this.code = code;
    this.retryable = options.retryable ?? true;
    this.details = options.details;
  }
}

/** A failure no retry can fix (bad parameters, a 4xx answer, invalid input). */
export class NonRetryableError extends FlowPilotError {
  constructor(code: string, message: string, options: Omit<FlowPilotErrorOptions, 'retryable'> = {}) {
    super(code, message, { ...options, retryable: false });
    this.name = 'NonRetryableError';
  }
}

/** An attempt ran past its `timeoutMs`. Retryable: the next attempt may be faster. */
export class StepTimeoutError extends FlowPilotError {
  constructor(timeoutMs: number) {
    super('TIMEOUT', `step timed out after ${timeoutMs} ms`, { retryable: true, details: { timeoutMs } });
    this.name = 'StepTimeoutError';
  }
}

/** The run (or step) was cancelled; never retried. */
export class CancelledError extends FlowPilotError {
  constructor(message = 'cancelled') {
    super('CANCELLED', message, { retryable: false });
    this.name = 'CancelledError';
  }
}

/** The JSON-safe form of an error as recorded in run state, events and the API. */
export interface ErrorInfo {
  code: string;
  message: string;
  retryable?: boolean;
  details?: Record<string, unknown>;
}

/**
 * Turns anything thrown into an {@link ErrorInfo}. Unknown errors are retryable by default, like
 * Temporal activities: a bug or a flaky dependency looks the same from here.
 */
export function toErrorInfo(error: unknown): ErrorInfo {
  if (error instanceof FlowPilotError) {
    const info: ErrorInfo = { code: error.code, message: error.message, retryable: error.retryable };
    if (error.details !== undefined) info.details = error.details;
    return info;
  }
  if (error instanceof Error) {
    if (error.name === 'AbortError') return { code: 'CANCELLED', message: error.message, retryable: false };
    return { code: 'NODE_ERROR', message: error.message || error.name, retryable: true };
  }
  return { code: 'NODE_ERROR', message: typeof error === 'string' ? error : JSON.stringify(error) ?? String(error), retryable: true };
}
