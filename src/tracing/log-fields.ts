import { pino } from 'pino';
import type { Logger } from '../logging.js';
import { activeTrace } from './context.js';

type LogFormatter = (object: object) => object;

/**
 * A child of `logger` whose every line written inside a trace (a handler, a job, `runWithTrace`)
 * carries `traceId` and `spanId`. pino's `mixin` is a root-only option, so this uses the child's
 * `formatters.log`, composed with any the user's logger already has.
 * @example
 * const logger = withTraceFields(pino());
 * runWithTrace(ctx, () => logger.info('inside')); // {"traceId":"…","spanId":"…","msg":"inside"}
 */
export function withTraceFields(logger: Logger, bindings: Record<string, unknown> = {}): Logger {
  const inherited = (logger as unknown as Record<symbol, { log?: LogFormatter } | undefined>)[
    pino.symbols.formattersSym
  ]?.log;
  const log: LogFormatter = (object) => {
    const base = inherited ? inherited(object) : object;
    const trace = activeTrace();
    return trace ? { traceId: trace.traceId, spanId: trace.spanId, ...base } : base;
  };
  return logger.child(bindings, { formatters: { log } });
}
