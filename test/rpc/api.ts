import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { defineEndpoints } from '../../src/rpc/endpoints.js';

/** The endpoints the request/reply tests serve and call. */
export const api = defineEndpoints({
  'orders.get': {
    request: z.object({ id: z.string() }),
    response: z.object({ id: z.string(), status: z.string() }),
  },
  'orders.slow': {
    request: z.object({ id: z.string() }),
    response: z.object({ waitedMs: z.number() }),
  },
});

/** The same endpoints as a stricter client sees them: `status` must be one it knows. */
export const strictApi = defineEndpoints({
  'orders.get': {
    request: z.object({ id: z.string() }),
    response: z.object({ id: z.string(), status: z.enum(['paid', 'open']) }),
  },
});

/** A service name no other test uses: `$SRV` discovery is shared by every test on the server. */
export const uniqueService = (base: string): string => `${base}-${randomBytes(4).toString('hex')}`;
