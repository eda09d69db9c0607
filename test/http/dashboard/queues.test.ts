import { afterEach, describe, expect, it } from 'vitest';
import { MissingStreamError } from '../../../src/errors.js';
import { QueueBoards } from '../../../src/http/dashboard/queue-rows.js';
import { readSnapshot, StatusSince, type DashboardSnapshot } from '../../../src/http/dashboard/snapshot.js';
import { schedulersBucket } from '../../../src/queue/schedule.js';
import type { Job } from '../../../src/queue/types.js';
import { useRuntimes, type TestRuntime } from '../../support/runtime.js';
import { transportCases } from '../../support/transports.js';
import { deferred, poll, type Deferred } from '../../support/wait.js';

const queueOf = (s: DashboardSnapshot, name: string) => s.queues.find((q) => q.name === name);

describe.each(transportCases)('dashboard queues on $name', (c) => {
  const { runtime } = useRuntimes(c);
  let gates: Deferred<void>[] = [];
  afterEach(() => {
    for (const g of gates.splice(0)) g.resolve();
  });

  /** A queue whose `render` jobs report 40 %, then wait for `step`, report 70 %, and wait for `done`. */
  function renderQueue(rt: TestRuntime) {
    const [step, done] = [deferred(), deferred()];
    gates = [...gates, step, done];
    const reports = rt.queue<{ page: number }>('reports');
    reports.process(async (job: Job<{ page: number }>) => {
      await job.progress(40);
      await job.log('rendered the first half');
      await step.promise;
      await job.progress({ pages: job.data.page, stage: 'fonts' });
      await done.promise;
    });
    return { reports, step };
  }

  it('shows a paused queue, its schedulers with their next and last slots, and active jobs with progress', async () => {
    const rt = await runtime('accounts', { handleSignals: false });
    const emails = rt.queue('emails');
    await emails.repeat('digest', { list: 'weekly' }, { cron: '0 3 * * MON', tz: 'Europe/Berlin' });
    await emails.repeat('ping', null, { everyMs: 60_000 });
    await emails.pause();
    const { reports, step } = renderQueue(rt);
    const { id } = await reports.add('render', { page: 12 });
    const boards = new QueueBoards(rt.transport);
    const read = () => readSnapshot(rt, { adminEnabled: false, since: new StatusSince(), boards });

    const snap = await poll(read, (s) => queueOf(s, 'reports')?.progress.length === 1, 'the job at 40 %');
    const before = Date.now();
    expect(queueOf(snap, 'emails')).toMatchObject({ name: 'emails', paused: true, schedulerCount: 2 });
    const [digest, ping] = queueOf(snap, 'emails')!.schedulers;
    expect(digest).toEqual({
      name: 'digest',
      cron: '0 3 * * MON',
      tz: 'Europe/Berlin',
      nextSlot: expect.any(Number),
    });
    expect(new Date(digest!.nextSlot!).getUTCDay()).toBe(1);
    expect(ping).toMatchObject({ name: 'ping', everyMs: 60_000 });
    expect(ping!.nextSlot! - before).toBeLessThanOrEqual(60_000);
    expect(queueOf(snap, 'reports')).toMatchObject({
      paused: false,
      schedulers: [],
      schedulerCount: 0,
      progress: [{ id, name: 'render', progress: 40 }],
    });

    // Later progress reaches a board that follows the queue without reading the job again.
    step.resolve();
    const later = await poll(
      read,
      (s) => typeof queueOf(s, 'reports')?.progress[0]?.progress === 'object',
      'the job at its next stage',
    );
    expect(queueOf(later, 'reports')!.progress).toEqual([
      { id, name: 'render', progress: { pages: 12, stage: 'fonts' } },
    ]);
    boards.close();
  });

  it('lists only the jobs still active: a finished job leaves the list', async () => {
    const rt = await runtime('accounts', { handleSignals: false });
    const { reports, step } = renderQueue(rt);
    const { id } = await reports.add('render', { page: 1 });
    const boards = new QueueBoards(rt.transport);
    const read = () => readSnapshot(rt, { adminEnabled: false, since: new StatusSince(), boards });
    await poll(read, (s) => queueOf(s, 'reports')?.progress[0]?.id === id, 'the job listed');
    step.resolve();
    for (const g of gates) g.resolve();
    await poll(
      () => reports.getJob(id),
      (j) => j?.state === 'completed',
      'the job completed',
    );
    expect(queueOf(await read(), 'reports')!.progress).toEqual([]);
    boards.close();
  });

  it('reads schedulers again only after their refresh interval', async () => {
    const rt = await runtime('accounts', { handleSignals: false });
    const emails = rt.queue('emails');
    await emails.repeat('digest', null, { everyMs: 3_600_000 });
    const since = new StatusSince();
    const cached = new QueueBoards(rt.transport, 3_600_000);
    const read = (boards: QueueBoards) => readSnapshot(rt, { adminEnabled: false, since, boards });
    expect(queueOf(await read(cached), 'emails')!.schedulers.map((s) => s.name)).toEqual(['digest']);
    await emails.repeat('audit', null, { cron: '*/5 * * * *' });
    expect(queueOf(await read(cached), 'emails')!.schedulers.map((s) => s.name)).toEqual(['digest']);
    const fresh = new QueueBoards(rt.transport, 0);
    expect(queueOf(await read(fresh), 'emails')).toMatchObject({
      schedulers: [
        { name: 'audit', cron: '*/5 * * * *' },
        { name: 'digest', everyMs: 3_600_000 },
      ],
      schedulerCount: 2,
    });
  });

  it('reading creates no schedulers bucket', async () => {
    const rt = await runtime('accounts', { handleSignals: false });
    await rt.queue('emails').ready();
    const snap = await readSnapshot(rt, { adminEnabled: false, since: new StatusSince() });
    expect(queueOf(snap, 'emails')).toMatchObject({ schedulers: [], schedulerCount: 0, progress: [] });
    await expect(
      rt.transport.keyValue(schedulersBucket(rt.transport.namespace), { create: false }),
    ).rejects.toBeInstanceOf(MissingStreamError);
  });
});
