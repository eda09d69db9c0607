import { AsyncLocalStorage } from 'node:async_hooks';
import { randomFillSync } from 'node:crypto';

/** The W3C trace context active in the current async scope. */
export interface TraceContext {
  readonly traceId: string;
  readonly spanId: string;
  readonly sampled: boolean;
}

const storage = new AsyncLocalStorage<TraceContext>();
const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/** @returns the active trace context, if any. */
export function activeTrace(): TraceContext | undefined {
  return storage.getStore();
}

/** Runs `fn` with `ctx` active: every log line and publish inside carries it. */
export function runWithTrace<T>(ctx: TraceContext, fn: () => T): T {
  return storage.run(ctx, fn);
}

/**
 * Runs `fn` with no trace active: work caused by an untraced event must not inherit the trace of
 * whatever scheduled the delivery (an ack in a traced handler wakes the next delivery).
 */
export function runWithoutTrace<T>(fn: () => T): T {
  return storage.getStore() === undefined ? fn() : storage.exit(fn);
}

/** @returns the context of a `traceparent` header, or undefined when it is malformed. */
export function parseTraceparent(header: string | undefined): TraceContext | undefined {
  if (!header) return undefined;
  const m = TRACEPARENT.exec(header);
  if (!m) return undefined;
  return { traceId: m[1]!, spanId: m[2]!, sampled: (parseInt(m[3]!, 16) & 1) === 1 };
}

/** @returns the `traceparent` header of a context. */
export function formatTraceparent(ctx: TraceContext): string {
  return `00-${ctx.traceId}-${ctx.spanId}-${ctx.sampled ? '01' : '00'}`;
}

function randomHex(bytes: number): string {
  return Buffer.from(randomFillSync(new Uint8Array(bytes))).toString('hex');
}

/** @returns a child span of `parent` (same trace, new span id), or a new root trace. */
export function childSpan(parent: TraceContext | undefined): TraceContext {
  return {
    traceId: parent?.traceId ?? randomHex(16),
    spanId: randomHex(8),
    sampled: parent?.sampled ?? true,
  };
}
