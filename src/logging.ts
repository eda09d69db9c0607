import { pino, type Logger as PinoLogger } from 'pino';

/** The logger bulwark writes to: pino, or anything with its shape. */
export type Logger = PinoLogger;

/**
 * The default root logger: pino JSON on stdout at `LOG_LEVEL` (default 'info'; 'silent' allowed).
 * @param service - added to every line as `service`
 */
export function createLogger(service: string, level = process.env.LOG_LEVEL ?? 'info'): Logger {
  return pino({ level, base: { service } });
}

/**
 * The runtime's root logger: the user's, as a child that adds `service` to every line (unless it
 * binds one already), or else {@link createLogger}'s.
 * @param service - added to every line as `service`
 * @param given - the user's logger (`createRuntime({ logger })`)
 * @example
 * const logger = serviceLogger('accounts', pino({ level: 'debug' })); // lines carry service: 'accounts'
 */
export function serviceLogger(service: string, given?: Logger): Logger {
  if (!given) return createLogger(service);
  return given.bindings().service === undefined ? given.child({ service }) : given;
}

/** A logger that writes nothing, for standalone use without a runtime. */
export const silentLogger: Logger = pino({ level: 'silent' });
