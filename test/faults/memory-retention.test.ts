import { afterEach, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import type { CloudEvent } from '../../src/events/cloudevent.js';
import { createRuntime } from '../../src/runtime/create-runtime.js';
import { memoryTransport, type MemoryTransport } from '../../src/transport/memory/memory-transport.js';
import { testEvents, testLogger, user } from '../support/events.js';
import type { TestRuntime } from '../support/runtime.js';
import { Gate, until } from '../support/wait.js';

/** A CloudEvent of `type` with a small payload, as a runtime would publish it. */
function event(type: string, i: number): CloudEvent {
  return {
    specversion: '1.0',
    id: `${type}-${i}`,
    source: 'test',
    type,
    time: new Date(0).toISOString(),
    datacontenttype: 'application/json',
    data: { id: String(i), username: `user-${i}`, role: 'user' },
  };
}

function publish(bus: MemoryTransport, type: string, i: number): Promise<unknown> {
  return bus.publish({ type, event: event(type, i), msgId: `${type}-${i}`, uniqueId: true });
}

describe('memory transport: retention is bounded and freed as soon as it is consumed', () => {
  const runtimes: TestRuntime[] = [];
  afterEach(async () => {
    await Promise.all(runtimes.splice(0).map((rt) => rt.shutdown()));
  });

  async function runtime(bus: MemoryTransport, logger = testLogger): Promise<TestRuntime> {
    const rt = await createRuntime({ service: 'accounts', events: testEvents, transport: bus, logger });
    runtimes.push(rt);
    return rt;
  }

  it('holds at most retainBytes across 1,000 types with no backlog, dropping the oldest first', async () => {
    const retainBytes = 256 * 1024;
    const bus = memoryTransport({ retainBytes });
    let most = 0;
    for (let t = 0; t < 1_000; t++) {
      for (let i = 0; i < 20; i++) await publish(bus, `type.${t}`, i);
      const usage = bus.usage();
      most = Math.max(most, usage.retainedBytes);
      expect(usage.pending).toBe(0);
    }
    expect(most).toBeLessThanOrEqual(retainBytes);
    const { retained, retainedBytes } = bus.usage();
    expect(retainedBytes).toBeGreaterThan(retainBytes * 0.9);
    // Only the newest types are left: retention dropped the oldest events first, whatever their type.
    expect(bus.usage('type.0').retained).toBe(0);
    expect(bus.usage('type.999').retained).toBe(20);
    const perEvent = retainedBytes / retained;
    expect(perEvent).toBeGreaterThan(300); // a realistic estimate, not a count in disguise
    expect(perEvent).toBeLessThan(2_000);
  });

  it('keeps retainPerType events of one type within the byte budget', async () => {
    const bus = memoryTransport({ retainPerType: 5 });
    for (let i = 0; i < 50; i++) await publish(bus, 'user.created', i);
    expect(bus.usage('user.created')).toMatchObject({ retained: 5, pending: 0 });
  });

  it('drops consumed events beyond retention when the last consumer passes them, with no further publish', async () => {
    const bus = memoryTransport({ retainPerType: 3 });
    const rt = await runtime(bus);
    const gate = new Gate();
    let handled = 0;
    const sub = rt.subscribe(
      'user.created',
      async () => {
        await gate.pass();
        handled++;
      },
      { group: 'mailer', concurrency: 1 },
    );
    await sub.ready;
    for (let i = 0; i < 10; i++) await rt.publish('user.created', user(String(i)));
    await until(() => gate.held === 1, 'the first event in the handler');
    expect(bus.usage('user.created').pending).toBe(9);
    while (handled < 10) {
      gate.openAll();
      await until(() => gate.held === 1 || handled === 10, 'the next event');
    }
    // The last publish was long ago: only what retention keeps is left.
    expect(bus.usage('user.created')).toMatchObject({ retained: 3, pending: 0 });
  });

  it('keeps nothing of a consumed type when retention is off', async () => {
    const bus = memoryTransport({ retainBytes: 0 });
    const rt = await runtime(bus);
    let handled = 0;
    await rt.subscribe('user.created', () => void handled++, { group: 'mailer' }).ready;
    for (let i = 0; i < 10; i++) await rt.publish('user.created', user(String(i)));
    await until(() => handled === 10, 'all handled');
    expect(bus.usage('user.created')).toEqual({ retained: 0, retainedBytes: 0, pending: 0 });
  });

  it('tells once, in status and in the log, that a late group missed events retention had dropped', async () => {
    const lines: { level: number; msg: string; type?: string; group?: string; missed?: number }[] = [];
    const logger = pino({ level: 'warn' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
    const bus = memoryTransport({ retainPerType: 10 });
    const rt = await runtime(bus, logger);
    for (let i = 0; i < 25; i++) await rt.publish('user.created', user(String(i)));

    const handled: string[] = [];
    const handler = (p: { id: string }): void => void handled.push(p.id);
    await rt.subscribe('user.created', handler, { group: 'mailer' }).ready;
    await until(() => handled.length === 10, 'what is retained');
    expect(handled).toEqual(Array.from({ length: 10 }, (_, i) => String(15 + i)));
    // A second instance of the group joins where the group is: nothing more to tell.
    await rt.subscribe('user.created', handler, { group: 'mailer' }).ready;

    expect(bus.status().notices).toEqual([
      'group "mailer" missed 15 events of "user.created" that retention had dropped',
    ]);
    expect(bus.status().storing).toBe(true);
    const warnings = lines.filter((l) => l.missed !== undefined);
    expect(warnings).toEqual([
      expect.objectContaining({ type: 'user.created', group: 'mailer', missed: 15 }),
    ]);
  });
});
