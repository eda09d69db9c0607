import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { describe, expect, it } from 'vitest';
import { QueueNames } from '../../src/transport/nats/toolkit/names.js';
import type { QueueStore, QueueTransport } from '../../src/queue/store.js';
import { poll } from '../support/wait.js';
import { useRuntimes } from '../support/runtime.js';
import { transportCases } from '../support/transports.js';

describe.each(transportCases)('finished jobs on $name', (c) => {
  const { runtime, bus } = useRuntimes(c);

  it('keeps the newest keepFinished of each outcome and removes the older ones', async () => {
    const rt = await runtime();
    const options = { keepFinished: 3, maxAttempts: 1, concurrency: 1 };
    const q = rt.queue<number>('retain', options);
    q.process((job) => {
      if (job.data >= 100) throw new Error(`job ${job.data} fails`);
      return job.data * 2;
    });
    const data = [...Array.from({ length: 10 }, (_, i) => i), 100, 101, 102, 103];
    const ids = (await q.addBulk(data.map((d) => ({ name: 'j', data: d })))).map((a) => a.id);
    const idOf = (d: number) => ids[data.indexOf(d)]!;
    await poll(
      () => q.getJob(idOf(103)),
      (j) => j?.state === 'dead',
      'the last job dead',
    );

    if (c.name === 'nats') {
      // Workers sweep every 30 s; sweep now, once every ack has landed.
      await poll(
        () => q.counts(),
        (n) => n.completed === 10 && n.dead === 4 && n.active === 0,
        'every job settled',
      );
      const backend = await (rt.transport as QueueTransport).queueStore('retain', {
        ...options,
        ackWaitMs: 30_000,
        dedupWindowMs: 60_000,
      });
      expect(await (backend as QueueStore & { sweep(): Promise<number> }).sweep()).toBe(15);
      const nc = await connect({ servers: bus().url });
      const jsm = await jetstreamManager(nc);
      // 14 job messages and 14 outcome records before; the newest 3 of each outcome and their job messages after.
      expect((await jsm.streams.info(new QueueNames(bus().prefix, 'retain').stream)).state.messages).toBe(13);
      await nc.close();
    }

    expect(await q.counts()).toMatchObject({ completed: 3, dead: 3, waiting: 0, active: 0 });
    expect(await q.getJob(idOf(0))).toBeUndefined();
    expect(await q.getJob(idOf(6))).toBeUndefined();
    expect(await q.getJob(idOf(100))).toBeUndefined();
    expect(await q.getJob(idOf(9))).toMatchObject({ state: 'completed', name: 'j', data: 9, result: 18 });
    expect(await q.getJob(idOf(7))).toMatchObject({ state: 'completed', data: 7, result: 14 });
    expect(await q.getJob(idOf(101))).toMatchObject({
      state: 'dead',
      data: 101,
      error: { message: 'job 101 fails' },
    });
    // Dead jobs stay inspectable (and redrivable) as dead letters.
    const dead = await rt.deadLetters.list({ group: 'queue:retain' });
    expect(dead.map((d) => d.event.data as number).sort()).toEqual([100, 101, 102, 103]);
  });
});
