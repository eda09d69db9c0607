import type { z } from 'zod';

/** Machine-readable codes carried by every {@link BulwarkError}. */
export const ErrorCode = {
  validation: 'BULWARK_VALIDATION',
  circuitOpen: 'BULWARK_CIRCUIT_OPEN',
  timeout: 'BULWARK_TIMEOUT',
  backpressure: 'BULWARK_BACKPRESSURE',
  closed: 'BULWARK_CLOSED',
  decode: 'BULWARK_DECODE',
  transport: 'BULWARK_TRANSPORT',
  publishTimeout: 'BULWARK_PUBLISH_TIMEOUT',
  tooLarge: 'BULWARK_TOO_LARGE',
  bulkheadRejected: 'BULWARK_BULKHEAD_REJECTED',
  rateLimited: 'BULWARK_RATE_LIMITED',
  noResponders: 'BULWARK_NO_RESPONDERS',
  lockLost: 'BULWARK_LOCK_LOST',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

const MARKER = Symbol.for('bulwark.error');

/** Base class of every error bulwark raises; `code` tells them apart across realms and processes. */
export class BulwarkError extends Error {
  readonly [MARKER] = true;
  /**
   * @param code - one of {@link ErrorCode}
   * @param message - a sentence for people
   * @param options - the underlying `cause`, if any
   */
  constructor(
    readonly code: ErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

/**
 * A payload, event type or option failed its schema; `issues` are zod's issues. The message is one
 * line (`invalid "user.created" payload: id: expected string, received number; role: …`), fit for a
 * log line or a dead letter; `issues` keep the structure.
 */
export class ValidationError extends BulwarkError {
  /**
   * @param message - what was being validated
   * @param issues - zod issues (empty for an unknown event type)
   */
  constructor(
    message: string,
    readonly issues: readonly z.core.$ZodIssue[] = [],
    options?: { cause?: unknown },
  ) {
    super(ErrorCode.validation, message, options);
  }

  /**
   * A ValidationError whose message names `what` failed and lists the issues on one line.
   * @param what - what was validated, e.g. `invalid "user.created" payload`
   * @param issues - zod's issues, kept on `issues`
   * @example
   * const r = schema.safeParse(input);
   * if (!r.success) throw ValidationError.fromIssues('invalid options', r.error.issues);
   */
  static fromIssues(what: string, issues: readonly z.core.$ZodIssue[]): ValidationError {
    return new ValidationError(issues.length > 0 ? `${what}: ${formatIssues(issues)}` : what, issues);
  }
}

/** Issues listed in a {@link ValidationError} message before the rest are counted. */
const ISSUES_IN_MESSAGE = 5;

/**
 * Zod issues as one line: `path: message` pairs joined by `; `, at most five, then how many more.
 * @returns e.g. `id: Invalid input: expected string, received number; items[0].sku: Required`
 */
export function formatIssues(issues: readonly z.core.$ZodIssue[]): string {
  const shown = issues.slice(0, ISSUES_IN_MESSAGE).map((i) => {
    const text = i.message.replace(/\s*[\r\n]+\s*/g, ' ');
    return i.path.length > 0 ? `${formatPath(i.path)}: ${text}` : text;
  });
  const more = issues.length - shown.length;
  return shown.join('; ') + (more > 0 ? `; and ${more} more` : '');
}

function formatPath(path: readonly PropertyKey[]): string {
  return path
    .map((key, n) => (typeof key === 'number' ? `[${key}]` : `${n > 0 ? '.' : ''}${String(key)}`))
    .join('');
}

/** A circuit breaker refused the call because it is open (or its half-open trials are taken). */
export class CircuitOpenError extends BulwarkError {
  constructor(
    readonly breaker: string,
    message = `circuit breaker "${breaker}" is open`,
  ) {
    super(ErrorCode.circuitOpen, message);
  }
}

/** An operation ran past its deadline. */
export class TimeoutError extends BulwarkError {
  constructor(
    readonly timeoutMs: number,
    message = `timed out after ${timeoutMs} ms`,
  ) {
    super(ErrorCode.timeout, message);
  }
}

/** A bounded buffer (the publish outbox, a queue) is full; retry later or shed load. */
export class BackpressureError extends BulwarkError {
  constructor(
    message: string,
    readonly limit?: number,
  ) {
    super(ErrorCode.backpressure, message);
  }
}

/** The runtime, subscriber or queue was already shut down. */
export class ClosedError extends BulwarkError {
  constructor(message = 'already shut down') {
    super(ErrorCode.closed, message);
  }
}

/** Bytes on the wire could not be decoded into a CloudEvent. */
export class DecodeError extends BulwarkError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorCode.decode, message, options);
  }
}

/** The broker failed or refused an operation. */
export class TransportError extends BulwarkError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorCode.transport, message, options);
  }
}

/**
 * A publish was not confirmed within `publishTimeoutMs`. `maybeStored` says whether the event may
 * still have been stored (it reached the broker, or still waits in the outbox to be sent): retry
 * with the same event id, which the broker's dedup makes safe. When false, nothing was stored.
 */
export class PublishTimeoutError extends BulwarkError {
  constructor(
    readonly eventId: string,
    readonly timeoutMs: number,
    readonly maybeStored: boolean,
  ) {
    super(
      ErrorCode.publishTimeout,
      `event ${eventId} was not confirmed as stored within ${timeoutMs} ms` +
        (maybeStored ? ' (it may still be stored: retry with the same id)' : ' (it was not stored)'),
    );
  }
}

/** A message is larger than the broker accepts (`max_payload` on NATS); nothing was published. */
export class PayloadTooLargeError extends BulwarkError {
  constructor(
    readonly size: number,
    readonly limit: number,
    what = 'event',
  ) {
    super(ErrorCode.tooLarge, `${what} of ${size} bytes is larger than the broker accepts (${limit} bytes)`);
  }
}

/**
 * A stream the transport was told not to create (`provision: false`, as the CLI runs) does not
 * exist: usually a mistyped prefix or queue name.
 */
export class MissingStreamError extends TransportError {
  constructor(
    readonly stream: string,
    readonly prefix: string,
  ) {
    super(`stream ${stream} does not exist (prefix "${prefix}"; provision: false creates nothing)`);
  }
}

/** A bulkhead refused the call: every slot runs and its queue is full. */
export class BulkheadRejectedError extends BulwarkError {
  /**
   * @param maxConcurrent - the bulkhead's slots
   * @param maxQueue - the bulkhead's queue length
   */
  constructor(
    readonly maxConcurrent: number,
    readonly maxQueue: number,
    message = `bulkhead full: ${maxConcurrent} running and ${maxQueue} queued`,
  ) {
    super(ErrorCode.bulkheadRejected, message);
  }
}

/** A rate limiter refused the call; `retryAfterMs` says when a token is due. */
export class RateLimitedError extends BulwarkError {
  /**
   * @param limiter - the limiter's name
   * @param retryAfterMs - how long until the call would be let through (an estimate when shared)
   */
  constructor(
    readonly limiter: string,
    readonly retryAfterMs: number,
    message = `rate limit "${limiter}" reached; retry after ${retryAfterMs} ms`,
  ) {
    super(ErrorCode.rateLimited, message);
  }
}

const REMOTE_MARKER = Symbol.for('bulwark.remote-error');

/**
 * A remote endpoint answered with an error. `code` is the endpoint's micro-protocol error code (400
 * for a request that failed its schema, 500 for a handler that threw, 503 when it is busy, 504 when
 * it ran out of time), `message` its description. Not a {@link BulwarkError}: its `code` is the
 * remote's number, not one of {@link ErrorCode}.
 */
export class RemoteError extends Error {
  readonly [REMOTE_MARKER] = true;
  /**
   * @param endpoint - the endpoint that answered
   * @param code - the error code the endpoint sent
   * @param message - the endpoint's description of the error
   */
  constructor(
    readonly endpoint: string,
    readonly code: number,
    message: string,
  ) {
    super(message);
    this.name = 'RemoteError';
  }
}

/** Nobody serves the endpoint a request was sent to (no instance listens on it). */
export class NoRespondersError extends BulwarkError {
  /** @param endpoint - the endpoint nobody serves */
  constructor(readonly endpoint: string) {
    super(ErrorCode.noResponders, `no instance serves endpoint "${endpoint}"`);
  }
}

function hasCode(e: unknown, code: ErrorCode): boolean {
  return typeof e === 'object' && e !== null && (e as { code?: unknown }).code === code && MARKER in e;
}

/** @returns true when `e` is any bulwark error. */
export const isBulwarkError = (e: unknown): e is BulwarkError =>
  typeof e === 'object' && e !== null && MARKER in e;
/** @returns true when `e` is a {@link ValidationError}. */
export const isValidationError = (e: unknown): e is ValidationError => hasCode(e, ErrorCode.validation);
/** @returns true when `e` is a {@link CircuitOpenError}. */
export const isCircuitOpenError = (e: unknown): e is CircuitOpenError => hasCode(e, ErrorCode.circuitOpen);
/** @returns true when `e` is a {@link TimeoutError}. */
export const isTimeoutError = (e: unknown): e is TimeoutError => hasCode(e, ErrorCode.timeout);
/** @returns true when `e` is a {@link BackpressureError}. */
export const isBackpressureError = (e: unknown): e is BackpressureError => hasCode(e, ErrorCode.backpressure);
/** @returns true when `e` is a {@link PublishTimeoutError}. */
export const isPublishTimeoutError = (e: unknown): e is PublishTimeoutError =>
  hasCode(e, ErrorCode.publishTimeout);
/** @returns true when `e` is a {@link PayloadTooLargeError}. */
export const isPayloadTooLargeError = (e: unknown): e is PayloadTooLargeError =>
  hasCode(e, ErrorCode.tooLarge);
/** @returns true when `e` is a {@link RemoteError}. */
export const isRemoteError = (e: unknown): e is RemoteError =>
  typeof e === 'object' && e !== null && REMOTE_MARKER in e;
/** @returns true when `e` is a {@link NoRespondersError}. */
export const isNoRespondersError = (e: unknown): e is NoRespondersError => hasCode(e, ErrorCode.noResponders);
/** @returns true when `e` is a {@link ClosedError}. */
export const isClosedError = (e: unknown): e is ClosedError => hasCode(e, ErrorCode.closed);
/** @returns true when `e` is a {@link BulkheadRejectedError}. */
export const isBulkheadRejectedError = (e: unknown): e is BulkheadRejectedError =>
  hasCode(e, ErrorCode.bulkheadRejected);
/** @returns true when `e` is a {@link RateLimitedError}. */
export const isRateLimitedError = (e: unknown): e is RateLimitedError => hasCode(e, ErrorCode.rateLimited);

/** Turns anything thrown into the `{ name, message }` pair that dead letters and jobs record. */
export function describeError(e: unknown): { name: string; message: string } {
  if (e instanceof Error) return { name: e.name, message: e.message };
  return { name: 'Error', message: typeof e === 'string' ? e : (JSON.stringify(e) ?? String(e)) };
}

/**
 * A lock's lease is gone: it could not be renewed before it expired, or another holder took it
 * after it expired. Work guarded by the lock must stop; its `signal` was aborted with this error.
 */
export class LockLostError extends BulwarkError {
  /**
   * @param lock - the lock's name
   * @param token - the fencing token of the lease that was lost
   * @param message - why it was lost
   */
  constructor(
    readonly lock: string,
    readonly token: number,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(ErrorCode.lockLost, message, options);
  }
}

/** @returns true when `e` is a {@link LockLostError}. */
export const isLockLostError = (e: unknown): e is LockLostError => hasCode(e, ErrorCode.lockLost);
