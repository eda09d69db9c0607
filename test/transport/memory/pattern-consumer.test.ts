import { describe, expect, it } from 'vitest';
import { uuidv7 } from '../../../src/events/ids.js';
import { memoryTransport } from '../../../src/transport/memory/memory-transport.js';
import type { ConsumerSpec, Delivery } from '../../../src/transport/transport.js';
import { until } from '../../support/wait.js';

const TYPES = 50;
const typeOf = (i: number) => `shop.t${i % TYPES}.done`;

/** A pattern reader on the memory transport: every delivery it got, acked at once. */
function reader(bus: ReturnType<typeof memoryTransport>, spec: Partial<ConsumerSpec>) {
  const got: Delivery[] = [];
  const handle = bus.consume(
    { type: 'shop.*.done', group: 'audit', mode: 'group', maxInFlight: 8, instanceId: 'i1', ...spec },
    {
      deliver: (d) => {
        got.push(d);
        d.ack();
      },
      failed: (err) => {
        throw err;
      },
    },
  );
  return { got, handle };
}

const publish = (bus: ReturnType<typeof memoryTransport>, i: number) =>
  bus.publishRaw(typeOf(i), JSON.stringify({ n: i }), {}, uuidv7());

describe('a memory consumer on a pattern', () => {
  it('reads every matching log in sequence order, types made before and after it alike', async () => {
    const bus = memoryTransport();
    for (let i = 0; i < 500; i += 7) await publish(bus, i); // some types exist before it starts
    await bus.publishRaw('shop.other', '{}'); // a type the pattern does not match
    const { got, handle } = reader(bus, {});
    for (let i = 1; i < 500; i++) if (i % 7 !== 0) await publish(bus, i);
    await until(() => got.length === 500, '500 deliveries');
    const seqs = got.map((d) => d.seq!);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    expect(new Set(got.map((d) => d.type)).size).toBe(TYPES);
    expect(got.every((d) => d.type.startsWith('shop.t'))).toBe(true);
    expect(await bus.backlog!('shop.*.done', 'audit')).toBe(0);
    await handle.stop();
    await bus.close();
  });

  it('starts the group again at a given sequence across every matching log', async () => {
    const bus = memoryTransport();
    const first = reader(bus, {});
    for (let i = 0; i < 100; i++) await publish(bus, i);
    await until(() => first.got.length === 100, 'the first pass');
    await first.handle.stop();
    const from = first.got[60]!.seq!;
    const again = reader(bus, { from: { seq: from } });
    await until(() => again.got.length === 40, 'the second pass');
    expect(again.got.map((d) => d.seq)).toEqual(first.got.slice(60).map((d) => d.seq));
    await again.handle.stop();
    await bus.close();
  });
});
