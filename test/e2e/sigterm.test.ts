import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { createRuntime } from '../../src/runtime/create-runtime.js';
import { eventsBacklog } from '../transport/nats/helpers.js';
import { testEvents, testLogger, user } from '../support/events.js';
import { transportCase } from '../support/transports.js';
import { until, waitFor } from '../support/wait.js';

const ids = (out: string, what: string) =>
  [...out.matchAll(new RegExp(`^${what} (\\S+)$`, 'gm'))].map((m) => m[1]!);

describe('SIGTERM with work in flight', () => {
  it('finishes in-flight handlers, acks them, exits 0, and leaves the rest on the durable stream', async () => {
    const bus = transportCase('nats').bus();
    const { url: servers, prefix } = bus;
    const rt = await createRuntime({
      service: 'graceful',
      events: testEvents,
      transport: bus.transport(),
      logger: testLogger,
      handleSignals: false,
    });
    try {
      const all = Array.from({ length: 30 }, (_, i) => String(i));
      await rt.publishMany(all.map((id) => ({ type: 'user.created' as const, payload: user(id) })));
      const child = spawn(
        process.execPath,
        ['--import', 'tsx', 'test/fixtures/sigterm-subscriber.ts', servers, prefix],
        { stdio: ['ignore', 'pipe', 'inherit'] },
      );
      let out = '';
      child.stdout.on('data', (b: Buffer) => (out += b.toString()));
      const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
      await until(
        () => ids(out, 'handled').length >= 3 && ids(out, 'started').length > ids(out, 'handled').length,
        'work in flight',
        20_000,
      );
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      const started = ids(out, 'started');
      const handled = ids(out, 'handled');
      expect(handled.sort()).toEqual(started.sort());
      expect(handled.length).toBeLessThan(all.length);

      const rest: string[] = [];
      await rt.subscribe('user.created', (p) => void rest.push(p.id)).ready;
      await until(() => handled.length + rest.length >= all.length, 'the rest from the stream', 15_000);
      await waitFor(async () => (await eventsBacklog(servers, prefix)) === 0, {
        what: 'every event acked on the server (nothing left to deliver again)',
      });
      expect([...handled, ...rest].sort()).toEqual([...all].sort());
    } finally {
      await rt.shutdown();
      await bus.dispose();
    }
  });
});
