import { describe, expectTypeOf, it } from 'vitest';
import type { Runtime } from '../../src/runtime/runtime.js';
import type { RequestMeta } from '../../src/rpc/meta.js';
import { api } from './api.js';

describe('endpoint types', () => {
  it('types the handler and the response from the schemas, and refuses what they do not allow', () => {
    // Type-level only: the callbacks below are never run.
    const check = (rt: Runtime) => {
      rt.handle(api, 'orders.get', (req, meta) => {
        expectTypeOf(req).toEqualTypeOf<{ id: string }>();
        expectTypeOf(meta).toEqualTypeOf<RequestMeta>();
        return { id: req.id, status: 'paid' };
      });
      // @ts-expect-error: the response schema wants `status`
      rt.handle(api, 'orders.get', (req) => ({ id: req.id }));
      // @ts-expect-error: not an endpoint of the API
      void rt.request(api, 'orders.list', { id: '1' });
      // @ts-expect-error: `id` is a string
      void rt.request(api, 'orders.get', { id: 1 });
      expectTypeOf(rt.request(api, 'orders.slow', { id: '1' })).resolves.toEqualTypeOf<{
        waitedMs: number;
      }>();
    };
    expectTypeOf(check).toBeFunction();
  });
});
