import { describe, expect, it } from 'vitest';
import { fixed } from '../../src/retry/backoff.js';
import { useRuntimes } from '../support/runtime.js';
import { poll, until } from '../support/wait.js';
import { transportCases } from '../support/transports.js';

const slot = (i: number) => ({ staffId: `s${i}`, day: '2026-11-23' });

describe.each(transportCases)('batch subscribers on $name', (c) => {
  const { runtime } = useRuntimes(c);

  it('hands over full batches of batchSize', async () => {
    const rt = await runtime();
    const batches: string[][] = [];
    await rt.subscribeBatch(
      'availability.created',
      (payloads) => void batches.push(payloads.map((p) => p.staffId)),
      {
        batchSize: 5,
        batchTimeoutMs: 5_000,
      },
    ).ready;
    await rt.publishMany(
      Array.from({ length: 10 }, (_, i) => ({ type: 'availability.created' as const, payload: slot(i) })),
    );
    await until(() => batches.length === 2, 'two batches');
    expect(batches).toEqual([
      ['s0', 's1', 's2', 's3', 's4'],
      ['s5', 's6', 's7', 's8', 's9'],
    ]);
  });

  it('hands over a partial batch once batchTimeoutMs has passed', async () => {
    const rt = await runtime();
    const batches: { ids: string[]; at: number }[] = [];
    await rt.subscribeBatch(
      'availability.created',
      (payloads, metas) => {
        expect(metas.map((m) => m.type)).toEqual(payloads.map(() => 'availability.created'));
        batches.push({ ids: payloads.map((p) => p.staffId), at: performance.now() });
      },
      { batchSize: 10, batchTimeoutMs: 150 },
    ).ready;
    const sent = performance.now();
    await rt.publishMany([0, 1, 2].map((i) => ({ type: 'availability.created' as const, payload: slot(i) })));
    await until(() => batches.length === 1, 'the partial batch');
    expect(batches[0]!.ids).toEqual(['s0', 's1', 's2']);
    expect(batches[0]!.at - sent).toBeGreaterThanOrEqual(140);
  });

  it('retries a failed batch and dead-letters its events after maxAttempts', async () => {
    const rt = await runtime();
    let calls = 0;
    await rt.subscribeBatch(
      'availability.created',
      () => {
        calls++;
        throw new Error('db down');
      },
      { batchSize: 2, batchTimeoutMs: 50, maxAttempts: 2, backoff: fixed({ delayMs: 10 }) },
    ).ready;
    await rt.publishMany([0, 1].map((i) => ({ type: 'availability.created' as const, payload: slot(i) })));
    const dead = await poll(
      () => rt.deadLetters.list(),
      (d) => d.length === 2,
      'two dead letters',
    );
    expect(dead.map((d) => [d.reason, d.attempts, d.error.message])).toEqual([
      ['handler', 2, 'db down'],
      ['handler', 2, 'db down'],
    ]);
    expect(calls).toBeGreaterThanOrEqual(2);
  });
});
