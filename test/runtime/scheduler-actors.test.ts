import { describe, expect, it } from 'vitest';
import { useRuntimes } from '../support/runtime.js';
import { transportCases } from '../support/transports.js';
import { until } from '../support/wait.js';

describe.each(transportCases)('rt.actors.list on $name', (c) => {
  const { runtime } = useRuntimes(c);

  it("lists the scheduler actors of the queues the runtime works, as kind 'scheduler'", async () => {
    const rt = await runtime('accounts', { handleSignals: false });
    const emails = rt.queue('emails');
    await emails.repeat('digest', null, { everyMs: 3_600_000 });
    await emails.repeat('audit', null, { cron: '0 3 * * *', tz: 'Europe/Berlin' });
    // A queue that only defines schedulers runs none: only workers do.
    expect(rt.actors.list({ kind: 'scheduler' })).toEqual([]);
    emails.process(() => undefined);
    await until(() => rt.actors.list({ kind: 'scheduler' }).length === 2, 'two scheduler actors');
    const ids = rt.actors.list({ kind: 'scheduler' }).map((a) => a.id);
    expect(ids.sort()).toEqual(['scheduler:emails/audit', 'scheduler:emails/digest']);
    expect(rt.actors.list({ kind: 'scheduler' })).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          id: 'scheduler:emails/digest',
          kind: 'scheduler',
          machine: 'job-scheduler',
        }),
      ]),
    );
    expect(
      rt.actors
        .list()
        .filter((a) => a.kind === 'scheduler')
        .map((a) => a.id)
        .sort(),
    ).toEqual(ids);
    expect(rt.actors.list({ kind: 'job' }).some((a) => a.kind === 'scheduler')).toBe(false);

    await emails.unrepeat('audit');
    await until(() => rt.actors.list({ kind: 'scheduler' }).length === 1, 'the removed scheduler gone');
  });
});
