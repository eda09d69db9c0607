import { describe, expect, it } from 'vitest';
import { MAX_JOB_LOG_LINE, MAX_JOB_LOG_LINES, type JobInfo } from '../../src/queue/types.js';
import { isValidationError } from '../../src/errors.js';
import { fixed } from '../../src/retry/backoff.js';
import { deferred, poll } from '../support/wait.js';
import { useRuntimes } from '../support/runtime.js';
import { transportCases } from '../support/transports.js';

describe.each(transportCases)('job progress and logs on $name', (c) => {
  const { runtime } = useRuntimes(c);

  it('shows the latest progress and the logs in getJob while active, and after completion', async () => {
    const rt = await runtime();
    const q = rt.queue<null>('progress');
    const gate = deferred();
    const events: JobInfo[] = [];
    q.on('progress', (job) => events.push(job));
    q.process(async (job) => {
      await job.progress(10);
      await job.log('sent 1/3');
      await job.progress({ sent: 2, of: 3 });
      await job.log('sent 2/3');
      await gate.promise;
      await job.log('sent 3/3');
      await job.progress(100);
      return 'ok';
    });
    const { id } = await q.add('mail', null);
    const active = await poll(
      () => q.getJob(id),
      (j) => j?.logs?.length === 2,
      'the first two log lines',
    );
    expect(active).toMatchObject({
      state: 'active',
      progress: { sent: 2, of: 3 },
      logs: ['sent 1/3', 'sent 2/3'],
    });
    // Calls within one turn are one write and one event, with the last value.
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ id, state: 'active', progress: { sent: 2, of: 3 } });
    gate.resolve();
    const done = await poll(
      () => q.getJob(id),
      (j) => j?.state === 'completed',
      'the completed job',
    );
    expect(done).toMatchObject({ result: 'ok', progress: 100, logs: ['sent 1/3', 'sent 2/3', 'sent 3/3'] });
  });

  it('coalesces a tight loop into a few writes and keeps only the newest lines, each cut short', async () => {
    const rt = await runtime();
    const q = rt.queue<null>('chatty');
    let events = 0;
    q.on('progress', () => events++);
    q.process(async (job) => {
      for (let i = 0; i < 1_000; i++) {
        await job.progress(i / 10);
        await job.log(`line ${i}`);
      }
      await job.log('x'.repeat(MAX_JOB_LOG_LINE + 50));
    });
    const { id } = await q.add('loop', null);
    const done = await poll(
      () => q.getJob(id),
      (j) => j?.state === 'completed',
      'the completed job',
    );
    expect(events).toBeLessThanOrEqual(2);
    expect(done?.progress).toBe(99.9);
    expect(done?.logs).toHaveLength(MAX_JOB_LOG_LINES);
    expect(done?.logs?.[0]).toBe(`line ${1_001 - MAX_JOB_LOG_LINES}`);
    const last = done!.logs!.at(-1)!;
    expect(last).toHaveLength(MAX_JOB_LOG_LINE);
    expect(last.endsWith('…')).toBe(true);
  });

  it('carries progress and logs across a retry', async () => {
    const rt = await runtime();
    const q = rt.queue<null>('flaky', { maxAttempts: 2, backoff: fixed({ delayMs: 20 }) });
    const afterFailure: (JobInfo | undefined)[] = [];
    q.on('failed', (job) => afterFailure.push(job));
    q.process(async (job) => {
      await job.log(`try ${job.attempt}`);
      await job.progress(job.attempt * 50);
      if (job.attempt === 1) throw new Error('first try fails');
    });
    const { id } = await q.add('twice', null);
    const done = await poll(
      () => q.getJob(id),
      (j) => j?.state === 'completed',
      'the completed job',
    );
    expect(done).toMatchObject({ attempts: 2, progress: 100, logs: ['try 1', 'try 2'] });
    expect(afterFailure[0]).toMatchObject({ state: 'failed', progress: 50, logs: ['try 1'] });
  });

  it('throws a ValidationError for bad progress and bad log lines', async () => {
    const rt = await runtime();
    const q = rt.queue<null>('strict');
    const errors: unknown[] = [];
    const seen = deferred();
    q.process(async (job) => {
      await job.progress('half' as never).catch((e: unknown) => errors.push(e));
      await job.progress(Number.NaN).catch((e: unknown) => errors.push(e));
      await job.log(42 as never).catch((e: unknown) => errors.push(e));
      seen.resolve();
    });
    await q.add('bad', null);
    await seen.promise;
    expect(errors).toHaveLength(3);
    expect(errors.every(isValidationError)).toBe(true);
  });
});
