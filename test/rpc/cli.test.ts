import { describe, expect, it } from 'vitest';
import type { EndpointListing } from '../../src/transport/requests.js';
import { json, runCli } from '../cli/run-cli.js';
import { useRuntimes } from '../support/runtime.js';
import { transportCase } from '../support/transports.js';
import { api, uniqueService } from './api.js';

describe('bulwark call and bulwark endpoints against a runtime on NATS', () => {
  const { runtime, bus } = useRuntimes(transportCase('nats'));
  const cli = (...args: string[]) => runCli([...args, '--prefix', bus().prefix], { NATS_URL: bus().url });

  async function serving(): Promise<string> {
    const service = uniqueService('orders');
    const rt = await runtime(service);
    await rt.handle(api, 'orders.get', (req) => {
      if (req.id === 'boom') throw new Error('no such order');
      return { id: req.id, status: 'paid' };
    }).ready;
    return service;
  }

  it('call prints the answer as JSON, and exits 1 with the code and message of an error answer', async () => {
    await serving();
    const ok = await cli('call', 'orders.get', '{"id":"5"}');
    expect(ok.code).toBe(0);
    expect(json(ok)).toEqual({ id: '5', status: 'paid' });

    const thrown = await cli('call', 'orders.get', '{"id":"boom"}');
    expect(thrown.code).toBe(1);
    expect(thrown.stderr).toContain('orders.get answered 500: no such order');

    const invalid = await cli('call', 'orders.get', '{"id":5}');
    expect(invalid.code).toBe(1);
    expect(invalid.stderr).toMatch(/answered 400: invalid "orders.get" request/);

    const nobody = await cli('call', 'orders.nothing', '{}');
    expect(nobody.code).toBe(1);
    expect(nobody.stderr).toContain('no instance serves orders.nothing');

    const notJson = await cli('call', 'orders.get', '{id');
    expect(notJson.code).toBe(1);
    expect(notJson.stderr).toContain('the request is not JSON');
  });

  it('endpoints lists what a service serves, with schemas and counters from $SRV', async () => {
    const service = await serving();
    await cli('call', 'orders.get', '{"id":"1"}');
    const listed = json<EndpointListing[]>(await cli('endpoints', service, '--json', '--wait', '3000'));
    expect(listed).toHaveLength(1);
    expect(listed[0]).toMatchObject({
      service,
      name: 'orders.get',
      subject: `${bus().prefix}.rpc.orders.get`,
      counters: { requests: 1, errors: 0 },
    });
    expect(JSON.parse(listed[0]!.metadata.request_schema!)).toMatchObject({ required: ['id'] });

    const text = await cli('endpoints', service, '--wait', '3000');
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/orders\.get\s+.*1 requests · 0 errors/);

    const none = await cli('endpoints', uniqueService('nobody'));
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/serves an endpoint/);
  });
});
