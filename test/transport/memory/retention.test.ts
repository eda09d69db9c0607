import { describe, expect, it } from 'vitest';
import type { CloudEvent } from '../../../src/events/cloudevent.js';
import { memoryTransport, type MemoryTransport } from '../../../src/transport/memory/memory-transport.js';
import type { ConsumerSpec, Delivery, ReplayFrom } from '../../../src/transport/transport.js';
import { until } from '../../support/wait.js';

function event(type: string, i: number): CloudEvent {
  return {
    specversion: '1.0',
    id: `${type}-${i}`,
    source: 'test',
    type,
    time: new Date(0).toISOString(),
    datacontenttype: 'application/json',
    data: { id: String(i) },
  };
}

const publish = (bus: MemoryTransport, type: string, i: number) =>
  bus.publish({ type, event: event(type, i), msgId: `${type}-${i}`, uniqueId: true });

/** A consumer that keeps what it is given; acks only when told to. */
function reader(bus: MemoryTransport, spec: Partial<ConsumerSpec> & { type: string }, ack = true) {
  const got: Delivery[] = [];
  const handle = bus.consume(
    { group: 'g', mode: 'group', maxInFlight: 1_000, instanceId: 'i1', ...spec },
    {
      deliver: (d) => {
        got.push(d);
        if (ack) d.ack();
      },
      failed: () => undefined,
    },
  );
  return { got, handle };
}

/** The estimated bytes of `n` events like {@link event}, measured on a bus of their own. */
async function bytesOf(n: number): Promise<number> {
  const probe = memoryTransport();
  for (let i = 0; i < n; i++) await publish(probe, 'probe', i);
  return probe.usage().retainedBytes;
}

describe('memory transport retention', () => {
  it('drops the oldest retained events first, whatever their type', async () => {
    const bus = memoryTransport({ retainBytes: await bytesOf(30) });
    for (let i = 0; i < 40; i++) await publish(bus, ['a', 'b', 'c', 'd'][i % 4]!, i);
    // The newest 30 are left: 10 events of the 40, the oldest, are gone, across the four types.
    const left = ['a', 'b', 'c', 'd'].map((t) => bus.usage(t).retained);
    expect(left).toEqual([7, 7, 8, 8]);
  });

  it('never drops an event a consumer has yet to be given, and drops it first once given', async () => {
    const bus = memoryTransport({ retainBytes: await bytesOf(20) });
    const slow = reader(bus, { type: 'slow', maxInFlight: 1 }, false);
    for (let i = 0; i < 50; i++) await publish(bus, 'slow', i);
    for (let i = 0; i < 100; i++) await publish(bus, 'fast', i);
    // The one handed out was passed by every reader: it was the oldest retained, and went first.
    expect(bus.usage('slow')).toMatchObject({ pending: 49, retained: 0 });
    expect(bus.usage('fast').retained).toBe(20);
    // The slow group catches up: its events are the oldest retained, so they go first.
    await slow.handle.stop();
    slow.got[0]!.ack();
    const more = reader(bus, { type: 'slow', instanceId: 'i2', maxInFlight: 1_000 });
    await until(() => more.got.length === 49, 'the slow group drained');
    expect(bus.usage('slow').retained).toBe(0);
    expect(bus.usage('fast').retained).toBe(20);
  });

  it('keeps what a late group is about to read, until it has read it', async () => {
    const bus = memoryTransport({ retainPerType: 10 });
    for (let i = 0; i < 10; i++) await publish(bus, 'a', i);
    const late = reader(bus, { type: 'a', group: 'late', maxInFlight: 1 }, false);
    for (let i = 10; i < 30; i++) await publish(bus, 'a', i);
    await until(() => late.got.length === 1, 'the first event handed out');
    expect(bus.usage('a')).toMatchObject({ pending: 29, retained: 1 });
  });

  it('counts what a group starting from a sequence or a time missed', async () => {
    const bus = memoryTransport({ retainPerType: 5 });
    const receipts = [];
    for (let i = 0; i < 20; i++) receipts.push(await publish(bus, 'a', i));
    const from = (f: ReplayFrom, group: string) => reader(bus, { type: 'a', group, from: f });
    from({ seq: receipts[12]!.seq! }, 'by-seq');
    from({ seq: receipts[16]!.seq! }, 'retained-only');
    from('new', 'new');
    from({ time: 0 }, 'by-time');
    expect(bus.status().notices).toEqual([
      'group "by-seq" missed 3 events of "a" that retention had dropped',
      'group "by-time" missed 15 events of "a" that retention had dropped',
    ]);
  });

  it('lets go of what a broadcast instance held once it stops', async () => {
    const bus = memoryTransport({ retainPerType: 0, maxBacklog: 10 });
    const instance = reader(bus, { type: 'a', mode: 'broadcast', from: 'all', maxInFlight: 1 }, false);
    // One is handed out and held, ten wait: the bound.
    for (let i = 0; i < 11; i++) await publish(bus, 'a', i);
    await expect(publish(bus, 'a', 11)).rejects.toThrow(/broadcast instance "i1" of group "g" is 10 events/);
    await instance.handle.stop();
    expect(bus.usage('a')).toEqual({ retained: 0, retainedBytes: 0, pending: 0 });
    expect(bus.status().storing).toBe(true);
    await publish(bus, 'a', 11);
  });
});
