import { describe, expect, it } from 'vitest';
import type { JobError } from '../../src/queue/types.js';
import type { JobLease, StoredJob } from '../../src/queue/store.js';
import { JobRunner, STALL_MARGIN } from '../../src/queue/runner.js';
import { systemClock } from '../../src/time/clock.js';
import { fixed, type Backoff } from '../../src/retry/backoff.js';
import { testLogger } from '../support/events.js';

function lease(job: Partial<StoredJob>) {
  const calls: string[] = [];
  const l: JobLease = {
    job: {
      id: 'j',
      name: 'n',
      data: null,
      priority: 'normal',
      attemptsMade: 0,
      maxAttempts: undefined,
      backoffMs: undefined,
      ...job,
    },
    complete: () => void calls.push('complete'),
    retry: (ms: number) => void calls.push(`retry ${ms}`),
    dead: (error: JobError, reason: string, attempts: number) =>
      void calls.push(`dead ${error.name} ${reason} ${attempts}`),
    release: () => void calls.push('release'),
    cancel: (attempts: number) => void calls.push(`cancel ${attempts}`),
    note: () => undefined,
    working: () => undefined,
  };
  return { l, calls };
}

function runner(handler: (job: { attempt: number }) => unknown, backoff: Backoff = fixed({ delayMs: 5 })) {
  return new JobRunner({
    queue: 'q',
    handler,
    maxAttempts: 3,
    backoff,
    timeoutMs: 0,
    clock: systemClock,
    logger: testLogger,
    inspect: undefined,
    observer: undefined,
    emit: () => undefined,
  });
}

describe('job runner', () => {
  it('dead-letters a record redelivered past its attempts and the margin, without running it', async () => {
    let ran = 0;
    const r = runner(() => void ran++);
    const { l, calls } = lease({ attemptsMade: 1, deliveries: 3 + STALL_MARGIN - 1 + 1 });
    r.take(l);
    await r.whenIdle();
    expect(ran).toBe(0);
    expect(calls).toEqual([`dead StalledError timeout ${1 + 3 + STALL_MARGIN - 1}`]);
  });

  it('runs a redelivered record that is still within the margin', async () => {
    let ran = 0;
    const r = runner(() => void ran++);
    const { l, calls } = lease({ attemptsMade: 1, deliveries: 3 + STALL_MARGIN - 1 });
    r.take(l);
    await r.whenIdle();
    expect(ran).toBe(1);
    expect(calls).toEqual(['complete']);
  });

  it('runs a job whose stored snapshot is not one it can resume from its record instead', async () => {
    const attempts: number[] = [];
    const r = runner((job: { attempt: number }) => void attempts.push(job.attempt));
    const machine = {
      status: 'active',
      value: 'failed',
      context: { attempt: 1 },
      children: { backoff: { snapshot: { dueAt: 'soon' } } },
    };
    const { l, calls } = lease({ attemptsMade: 1, machine });
    r.take(l);
    await r.whenIdle();
    expect(attempts).toEqual([2]);
    expect(calls).toEqual(['complete']);
  });

  it('hands a job back, and holds nothing, when its actor fails (a backoff that throws)', async () => {
    const r = runner(
      () => {
        throw new Error('try failed');
      },
      {
        delay: () => {
          throw new Error('no delay');
        },
      },
    );
    const { l, calls } = lease({});
    r.take(l);
    await r.whenIdle();
    expect(calls).toEqual(['release']);
    expect(r.actors()).toEqual([]);
  });
});
