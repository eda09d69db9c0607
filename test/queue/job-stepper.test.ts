import { describe, expect, it } from 'vitest';
import type { AnyEventObject } from 'xstate';
import {
  NO_TIMEOUT,
  type RetryJobContext,
  type RetryJobInput,
} from '../../src/machines/retry-job.machine.js';
import { doneEvent, errorEvent, JobStepper, type SteppedJob } from '../../src/queue/job-stepper.js';
import { fixed } from '../../src/retry/backoff.js';

/** A job that records every effect its machine asks for. */
function fakeJob(): SteppedJob & { log: string[]; timers: Map<string, AnyEventObject> } {
  const log: string[] = [];
  const timers = new Map<string, AnyEventObject>();
  return {
    snapshot: undefined as never,
    log,
    timers,
    startTry: (input) => log.push(`start ${input.attempt}`),
    stopTry: () => log.push('stop'),
    schedule: (id, event, delay) => {
      if (delay < NO_TIMEOUT) timers.set(id, event);
      log.push(`schedule ${delay === NO_TIMEOUT ? 'never' : delay}`);
    },
    cancel: (id) => void timers.delete(id),
  };
}

function stepper() {
  const settled: string[] = [];
  const record =
    (what: string) =>
    ({ context }: { context: RetryJobContext }) =>
      void settled.push(`${what} ${context.attempt}`);
  const s = new JobStepper(
    {
      onActive: () => void settled.push('active'),
      onCompleted: record('completed'),
      onFailed: record('failed'),
      onDead: record('dead'),
      onReleased: record('released'),
    },
    undefined,
  );
  return { s, settled };
}

const input = (over: Partial<RetryJobInput> = {}): RetryJobInput => ({
  id: 'j',
  attemptsMade: 0,
  maxAttempts: 2,
  backoff: fixed({ delayMs: 50 }),
  timeoutMs: 0,
  delayMs: 0,
  job: null,
  ...over,
});

describe('job stepper', () => {
  it('starts the try of a restored job and completes it with the result', () => {
    const { s, settled } = stepper();
    const job = fakeJob();
    s.begin(job, input({ attemptsMade: 1 }));
    expect(job.snapshot.value).toBe('active');
    expect(job.log).toEqual(['schedule never', 'start 2']);
    s.step(job, doneEvent('ok'));
    expect(job.snapshot.status).toBe('done');
    expect(job.snapshot.context.result).toBe('ok');
    expect(settled).toEqual(['active', 'completed 2']);
  });

  it('fails a try with attempts left, and is dead after the last', () => {
    const { s, settled } = stepper();
    const first = fakeJob();
    s.begin(first, input());
    s.step(first, errorEvent(new TypeError('nope')));
    expect(first.snapshot.value).toBe('failed');
    expect(first.snapshot.context.error).toEqual({ name: 'TypeError', message: 'nope' });
    const last = fakeJob();
    s.begin(last, input({ attemptsMade: 1 }));
    s.step(last, errorEvent(new Error('again')));
    expect(last.snapshot.value).toBe('dead');
    expect(settled).toEqual(['active', 'failed 1', 'active', 'dead 2']);
  });

  it('arms the timeout, and a fired timeout stops the try', () => {
    const { s, settled } = stepper();
    const job = fakeJob();
    s.begin(job, input({ timeoutMs: 100, maxAttempts: 1 }));
    expect(job.log).toEqual(['schedule 100', 'start 1']);
    const [timeout] = [...job.timers.values()];
    s.step(job, timeout!);
    expect(job.log).toContain('stop');
    expect(job.snapshot.value).toBe('dead');
    expect(job.snapshot.context.reason).toBe('timeout');
    expect(job.timers.size).toBe(0);
    expect(settled).toEqual(['active', 'dead 1']);
  });

  it('releases an active job untried: the try stops and the attempt is not counted', () => {
    const { s, settled } = stepper();
    const job = fakeJob();
    s.begin(job, input({ timeoutMs: 100 }));
    s.step(job, { type: 'job.release' });
    expect(job.snapshot.value).toBe('waiting');
    expect(job.log).toContain('stop');
    expect(job.timers.size).toBe(0);
    expect(settled).toEqual(['active', 'released 0']);
  });
});
