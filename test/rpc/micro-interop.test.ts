import { connect, headers, type NatsConnection } from '@nats-io/transport-node';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { useRuntimes } from '../support/runtime.js';
import { transportCase } from '../support/transports.js';
import { api, uniqueService } from './api.js';

// The micro v1 schemas (nats-io/jsm.go schemas/micro/v1), written as zod: what an independent
// client such as `nats micro` expects of $SRV.INFO and $SRV.STATS answers.
const name = z.string().regex(/^[a-zA-Z0-9_-]+$/);
const semver = z
  .string()
  .regex(
    /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$/,
  );
const metadata = z.record(z.string(), z.string()).nullable().optional();
const endpointInfo = z.object({
  name,
  subject: z.string().min(1),
  queue_group: z.string().optional(),
  metadata,
});
const infoResponse = z.object({
  type: z.literal('io.nats.micro.v1.info_response'),
  name,
  id: z.string().min(1),
  version: semver,
  metadata,
  description: z.string(),
  endpoints: z.array(endpointInfo).optional(),
});
const statsResponse = z.object({
  type: z.literal('io.nats.micro.v1.stats_response'),
  name,
  id: z.string().min(1),
  version: semver,
  metadata,
  started: z.iso.datetime({ offset: true }),
  endpoints: z.array(
    endpointInfo.extend({
      num_requests: z.number().int(),
      num_errors: z.number().int(),
      last_error: z.string(),
      processing_time: z.number().int(),
      average_processing_time: z.number().int(),
      data: z.record(z.string(), z.unknown()).optional(),
    }),
  ),
});

const json = (data: Uint8Array): unknown => JSON.parse(new TextDecoder().decode(data));

describe('request/reply as independent NATS clients see it', () => {
  const c = transportCase('nats');
  const { runtime, bus } = useRuntimes(c);
  let nc: NatsConnection;

  beforeEach(async () => {
    nc = await connect({ servers: bus().url });
  });
  afterEach(async () => {
    await nc.close();
  });

  async function serving() {
    const service = uniqueService('orders');
    const rt = await runtime(service);
    const ep = rt.handle(api, 'orders.get', (req) => {
      if (req.id === 'boom') throw new Error('no such order');
      return { id: req.id, status: 'paid' };
    });
    await ep.ready;
    return { service, rt, ep, subject: `${bus().prefix}.rpc.orders.get` };
  }

  it('a plain nc.request gets the answer, and micro error headers for bad input and a throw', async () => {
    const { subject } = await serving();
    const ok = await nc.request(subject, JSON.stringify({ id: '7' }), { timeout: 2_000 });
    expect(ok.headers?.get('Nats-Service-Error-Code') ?? '').toBe('');
    expect(json(ok.data)).toEqual({ id: '7', status: 'paid' });

    const bad = await nc.request(subject, JSON.stringify({ nope: 1 }), { timeout: 2_000 });
    expect(bad.headers?.get('Nats-Service-Error-Code')).toBe('400');
    expect(bad.headers?.get('Nats-Service-Error')).toMatch(/invalid "orders.get" request/);

    const thrown = await nc.request(subject, JSON.stringify({ id: 'boom' }), { timeout: 2_000 });
    expect(thrown.headers?.get('Nats-Service-Error-Code')).toBe('500');
    expect(thrown.headers?.get('Nats-Service-Error')).toBe('no such order');
  });

  it('honours a deadline header sent by another client', async () => {
    const rt = await runtime(uniqueService('orders'));
    let left = -1;
    await rt.handle(api, 'orders.slow', (_req, meta) => ((left = meta.timeoutMs), { waitedMs: 0 })).ready;
    const h = headers();
    h.set('Bulwark-Deadline-Ms', '250');
    await nc.request(`${bus().prefix}.rpc.orders.slow`, '{"id":"1"}', { timeout: 2_000, headers: h });
    expect(left).toBeGreaterThan(0);
    expect(left).toBeLessThanOrEqual(250);
  });

  it('$SRV.INFO lists the endpoint with its JSON Schemas in the micro v1 shape, next to health', async () => {
    const { service, rt, subject } = await serving();
    const reply = await nc.request(`$SRV.INFO.${service}`, undefined, { timeout: 2_000 });
    const info = infoResponse.parse(json(reply.data));
    expect(info.name).toBe(service);
    expect(info.endpoints?.map((e) => e.name)).toEqual(['health', 'orders_get']);
    const ep = info.endpoints!.find((e) => e.name === 'orders_get')!;
    expect(ep).toMatchObject({ subject, queue_group: 'q' });
    const requestSchema = JSON.parse(ep.metadata!.request_schema!) as {
      properties: object;
      required: string[];
    };
    expect(requestSchema).toMatchObject({
      type: 'object',
      required: ['id'],
      properties: { id: { type: 'string' } },
    });
    const responseSchema = JSON.parse(ep.metadata!.response_schema!) as object;
    expect(responseSchema).toMatchObject({ properties: { status: { type: 'string' } } });
    expect(rt.listEndpoints().map((e) => e.name)).toEqual(['orders.get']);
  });

  it('$SRV.STATS counts requests, errors, processing time and the last error as the micro spec says', async () => {
    const { service, subject } = await serving();
    await nc.request(subject, '{"id":"1"}', { timeout: 2_000 });
    await nc.request(subject, '{"id":"2"}', { timeout: 2_000 });
    await nc.request(subject, '{"id":"boom"}', { timeout: 2_000 });
    const reply = await nc.request(`$SRV.STATS.${service}`, undefined, { timeout: 2_000 });
    const stats = statsResponse.parse(json(reply.data));
    const ep = stats.endpoints.find((e) => e.name === 'orders_get')!;
    expect(ep).toMatchObject({ num_requests: 3, num_errors: 1, last_error: 'no such order' });
    expect(ep.processing_time).toBeGreaterThan(0);
    expect(ep.average_processing_time).toBe(Math.round(ep.processing_time / 3));
  });

  it('a stopped endpoint leaves INFO and stops answering', async () => {
    const { service, ep, subject } = await serving();
    await ep.stop();
    const reply = await nc.request(`$SRV.INFO.${service}`, undefined, { timeout: 2_000 });
    expect(infoResponse.parse(json(reply.data)).endpoints?.map((e) => e.name)).toEqual(['health']);
    await expect(nc.request(subject, '{"id":"1"}', { timeout: 500 })).rejects.toThrow(/no responders/i);
  });
});
