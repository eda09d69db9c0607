import { spawn } from 'node:child_process';
import { describe, expect, inject, it } from 'vitest';
import type { InspectionEvent } from 'xstate';
import { poll, until } from '../support/wait.js';
import { useRuntimes } from '../support/runtime.js';
import { transportCase } from '../support/transports.js';

const nats = transportCase('nats');
const JOBS = 12;
const BACKOFF_MS = 2_500;

/** The first snapshot each job actor showed the inspector: where it was created or resumed. */
function firstSnapshots(events: InspectionEvent[]): Map<string, { value: unknown; attempt: number }> {
  const out = new Map<string, { value: unknown; attempt: number }>();
  for (const e of events) {
    const id = (e.actorRef as unknown as { id: string }).id;
    if (e.type !== '@xstate.snapshot' || !id.startsWith('job:')) continue;
    const s = e.snapshot as unknown as { value: unknown; context: { attempt: number } };
    if (!out.has(id)) out.set(id, { value: s.value, attempt: s.context.attempt });
  }
  return out;
}

// Only JetStream spans processes; the memory queue lives and dies with its process.
describe('job queue on nats: a worker SIGKILLed while its jobs back off', () => {
  const { runtime, bus } = useRuntimes(nats);

  it('has another worker resume each job actor from its snapshot: attempts kept, backoff not cut short', async () => {
    const seen: InspectionEvent[] = [];
    const rt = await runtime('survivor', { inspect: (e) => void seen.push(e) });
    const q = rt.queue<number>('backoff-crash', { concurrency: 10, maxAttempts: 3, ackWaitMs: 1_500 });
    await q.ready();
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        'test/fixtures/backoff-worker.ts',
        inject('natsUrl'),
        bus().prefix,
        'backoff-crash',
        String(BACKOFF_MS),
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    const exited = new Promise((r) => child.once('exit', r));
    const failedAt = new Map<string, number>();
    try {
      await until(() => out.includes('ready'), 'the doomed worker to start', 20_000);
      const added = await q.addBulk(Array.from({ length: JOBS }, (_, i) => ({ name: 'j', data: i })));
      await until(
        () => {
          for (const [, id, at] of out.matchAll(/failed (\S+) (\d+)/g)) failedAt.set(id!, Number(at));
          return failedAt.size === JOBS;
        },
        'the doomed worker to fail every first try',
        20_000,
      );
      expect([...failedAt.keys()].sort()).toEqual(added.map((a) => a.id).sort());
      // Killed once every failure is stored: the retry records are what the next worker resumes.
      await poll(
        () => q.counts(),
        (n) => n.failed === JOBS,
        'every failure stored',
      );
    } finally {
      child.kill('SIGKILL');
    }
    await exited;
    expect(out).not.toContain('unexpected');

    const tries = new Map<string, { attempt: number; at: number }[]>();
    q.process((job) => {
      tries.set(job.id, [...(tries.get(job.id) ?? []), { attempt: job.attempt, at: Date.now() }]);
    });
    await until(() => tries.size === JOBS, 'the survivor to run every job', 20_000);
    await poll(
      () => q.counts(),
      (c) => c.completed === JOBS,
      'every job to complete',
    );

    const resumed = firstSnapshots(seen);
    for (const [id, failed] of failedAt) {
      // One more try each, the second: the failed one was neither lost nor counted twice.
      expect(tries.get(id)).toEqual([{ attempt: 2, at: expect.any(Number) }]);
      // Never early: not before the backoff that began when the first try failed.
      expect(tries.get(id)![0]!.at).toBeGreaterThanOrEqual(failed + BACKOFF_MS);
      // The survivor's actor was resumed from the stored snapshot, not started afresh.
      expect(resumed.get(`job:backoff-crash/${id}`)).toEqual({ value: 'failed', attempt: 1 });
      const info = await q.getJob(id);
      expect(info).toMatchObject({ state: 'completed', attempts: 2 });
    }
  });
});
