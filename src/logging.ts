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

/** A logger that writes nothing, for standalone use without a runtime. */
export const silentLogger: Logger = pino({ level: 'silent' });
