import type { z } from 'zod';
import { describeError, formatIssues, TimeoutError } from '../errors.js';
import type { Logger } from '../logging.js';
import type { Clock } from '../time/clock.js';
import { parseTraceparent, runWithTrace } from '../tracing/context.js';
import type { EndpointCounters, IncomingRequest } from '../transport/requests.js';
import { TRACEPARENT_HEADER } from '../transport/transport.js';
import { IncomingMeta, type RequestMeta } from './meta.js';
import type { ResolvedHandleOptions } from './options.js';

/** A handler as the dispatcher calls it: payload already validated. */
export type AnyEndpointHandler = (payload: unknown, meta: RequestMeta) => unknown;

/** The error codes an endpoint answers with (the micro protocol leaves their choice to services). */
export const EndpointErrorCode = {
  badRequest: 400,
  handlerFailed: 500,
  busy: 503,
  timedOut: 504,
} as const;

/** What one endpoint's dispatcher needs. */
export interface DispatchSpec {
  readonly name: string;
  readonly request: z.ZodType;
  readonly response: z.ZodType;
  readonly handler: AnyEndpointHandler;
  readonly options: ResolvedHandleOptions;
  readonly clock: Clock;
  readonly logger: Logger;
}

/** An endpoint's counters, with what the dashboard shows besides the micro protocol's. */
export interface EndpointStats extends EndpointCounters {
  /** Handlers running now (timed-out ones that have not returned included). */
  readonly inFlight: number;
  /** Requests waiting for a slot. */
  readonly waiting: number;
  /** Requests answered 504: the handler's time ran out. */
  readonly timeouts: number;
  /** Requests answered 503: every slot and the waiting line were taken. */
  readonly rejected: number;
}

const decoder = new TextDecoder();

/**
 * Runs one endpoint's requests: at most `concurrency` handlers at once (the others wait in line,
 * up to `maxWaiting`), each validated, timed out at its own timeout or the caller's deadline
 * (whichever is sooner, its signal aborted), answered once, counted as the micro protocol counts.
 * A handler that timed out keeps its slot until it returns. Nothing it throws escapes.
 * @example
 * const d = new Dispatcher(spec);
 * requests.serve(endpoint, { request: (r) => d.accept(r), failed });
 */
export class Dispatcher {
  private inFlight = 0;
  private readonly line: { req: IncomingRequest; at: number }[] = [];
  private idle: (() => void) | undefined;
  private readonly c = { requests: 0, errors: 0, processingNs: 0, lastError: '', timeouts: 0, rejected: 0 };

  constructor(private readonly spec: DispatchSpec) {}

  /** Takes one request: runs it now, puts it in line, or answers 503. */
  accept(req: IncomingRequest): void {
    this.c.requests++;
    const { concurrency, maxWaiting } = this.spec.options;
    if (this.inFlight < concurrency) return this.run(req, this.spec.clock.now());
    if (this.line.length < maxWaiting) return void this.line.push({ req, at: this.spec.clock.now() });
    this.c.rejected++;
    this.answerError(req, EndpointErrorCode.busy, `endpoint "${this.spec.name}" is busy`, 0);
  }

  /** @returns the counters now */
  stats(): EndpointStats {
    return { ...this.c, inFlight: this.inFlight, waiting: this.line.length };
  }

  /** Resolves once no handler runs and nobody waits. */
  drained(): Promise<void> {
    if (this.inFlight === 0 && this.line.length === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const before = this.idle;
      this.idle = () => {
        before?.();
        resolve();
      };
    });
  }

  private run(req: IncomingRequest, receivedAt: number): void {
    const started = performance.now();
    const { options, clock } = this.spec;
    const callerMs = req.timeoutMs;
    const budget =
      (callerMs === undefined ? options.timeoutMs : Math.min(options.timeoutMs, callerMs)) -
      (clock.now() - receivedAt);
    if (budget <= 0)
      return this.answerError(req, EndpointErrorCode.timedOut, 'the deadline passed while waiting', 0);
    const payload = this.decode(req, started);
    if (payload === undefined) return;
    this.inFlight++;
    const meta = new IncomingMeta(req, budget);
    let answered = false;
    const timer = clock.setTimeout(() => {
      answered = true;
      const err = new TimeoutError(
        budget,
        `endpoint "${this.spec.name}" timed out after ${Math.round(budget)} ms`,
      );
      meta.abort(err);
      this.c.timeouts++;
      this.answerError(req, EndpointErrorCode.timedOut, err.message, started);
    }, budget);
    const settle = (ok: boolean, value: unknown): void => {
      clock.clearTimeout(timer);
      if (!answered) this.answer(req, ok, value, started);
      this.release();
    };
    try {
      const result = this.invoke(req, payload, meta);
      if (isThenable(result))
        result.then(
          (v) => settle(true, v),
          (e: unknown) => settle(false, e),
        );
      else settle(true, result);
    } catch (err) {
      settle(false, err);
    }
  }

  /** @returns the validated payload, or undefined once answered 400 */
  private decode(req: IncomingRequest, started: number): { value: unknown } | undefined {
    let json: unknown;
    try {
      json = JSON.parse(typeof req.body === 'string' ? req.body : decoder.decode(req.body));
    } catch {
      this.answerError(req, EndpointErrorCode.badRequest, 'the request is not JSON', started);
      return undefined;
    }
    const parsed = this.spec.request.safeParse(json);
    if (parsed.success) return { value: parsed.data };
    const message = `invalid "${this.spec.name}" request: ${formatIssues(parsed.error.issues)}`;
    this.answerError(req, EndpointErrorCode.badRequest, message, started);
    return undefined;
  }

  private invoke(req: IncomingRequest, payload: { value: unknown }, meta: IncomingMeta): unknown {
    const trace = parseTraceparent(req.header(TRACEPARENT_HEADER));
    const call = (): unknown => this.spec.handler(payload.value, meta);
    return trace ? runWithTrace(trace, call) : call();
  }

  private answer(req: IncomingRequest, ok: boolean, value: unknown, started: number): void {
    if (!ok) {
      const { message } = describeError(value);
      this.spec.logger.warn({ err: value }, 'endpoint handler failed');
      return this.answerError(req, EndpointErrorCode.handlerFailed, message, started);
    }
    const parsed = this.spec.response.safeParse(value);
    if (!parsed.success) {
      const message = `invalid "${this.spec.name}" response: ${formatIssues(parsed.error.issues)}`;
      return this.answerError(req, EndpointErrorCode.handlerFailed, message, started);
    }
    req.respond(JSON.stringify(parsed.data) ?? 'null');
    this.c.processingNs += Math.round((performance.now() - started) * 1e6);
  }

  private answerError(req: IncomingRequest, code: number, message: string, started: number): void {
    req.fail(code, message);
    this.c.errors++;
    this.c.lastError = message;
    if (started) this.c.processingNs += Math.round((performance.now() - started) * 1e6);
  }

  private release(): void {
    this.inFlight--;
    // A request taken from the line may be answered without running (late, invalid): take the next.
    while (this.inFlight < this.spec.options.concurrency && this.line.length > 0) {
      const next = this.line.shift()!;
      this.run(next.req, next.at);
    }
    if (this.inFlight === 0 && this.line.length === 0 && this.idle) {
      const idle = this.idle;
      this.idle = undefined;
      idle();
    }
  }
}

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return typeof (v as PromiseLike<unknown> | null)?.then === 'function';
}
