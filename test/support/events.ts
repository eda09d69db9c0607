import { z } from 'zod';
import { pino } from 'pino';
import { defineEvents } from '../../src/events/registry.js';

/** The registry the end-to-end tests publish and subscribe with. */
export const testEvents = defineEvents({
  'user.created': z.object({ id: z.string(), username: z.string(), role: z.enum(['user', 'admin']) }),
  'availability.created': z.object({ staffId: z.string(), day: z.string() }),
});

/** A logger that keeps quiet unless TEST_LOG_LEVEL asks otherwise. */
export const testLogger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });

export const user = (id: string, username = `user-${id}`, role: 'user' | 'admin' = 'user') => ({
  id,
  username,
  role,
});
