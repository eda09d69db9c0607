import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../src/errors.js';
import { fixed } from '../../src/retry/backoff.js';
import {
  defineScheduler,
  dueSlot,
  isSlotOf,
  schedulerKey,
  slotAfter,
  slotAtOrBefore,
  slotJob,
  type SchedulerRecord,
} from '../../src/queue/schedule.js';

const at = (iso: string): number => Date.parse(iso);
const iso = (ms: number | undefined): string | undefined =>
  ms === undefined ? undefined : new Date(ms).toISOString();

/** The first `n` slots after `from`. */
function slots(def: ReturnType<typeof defineScheduler>, from: string, n: number): string[] {
  const out: string[] = [];
  let t = at(from);
  for (let i = 0; i < n; i++) {
    t = slotAfter(def, t)!;
    out.push(iso(t)!);
  }
  return out;
}

describe('job scheduler slots', () => {
  it('reads a cron in its time zone: 03:00 in Berlin is 01:00Z in summer and 02:00Z in winter', () => {
    const def = defineScheduler('digest', null, { cron: '0 3 * * *', tz: 'Europe/Berlin' });
    expect(slots(def, '2026-07-01T00:00:00Z', 2)).toEqual([
      '2026-07-01T01:00:00.000Z',
      '2026-07-02T01:00:00.000Z',
    ]);
    expect(slots(def, '2026-01-01T00:00:00Z', 1)).toEqual(['2026-01-01T02:00:00.000Z']);
    expect(slots(defineScheduler('utc', null, { cron: '0 3 * * *' }), '2026-07-01T00:00:00Z', 1)).toEqual([
      '2026-07-01T03:00:00.000Z',
    ]);
  });

  it('runs 02:30 Berlin once on the spring-forward day, at 03:00 CEST, the first valid time after the gap', () => {
    const def = defineScheduler('night', null, { cron: '30 2 * * *', tz: 'Europe/Berlin' });
    // 2026-03-29 02:00 CET jumps to 03:00 CEST: 02:30 does not exist that day.
    expect(slots(def, '2026-03-27T12:00:00Z', 3)).toEqual([
      '2026-03-28T01:30:00.000Z', // 02:30 CET
      '2026-03-29T01:00:00.000Z', // 03:00 CEST
      '2026-03-30T00:30:00.000Z', // 02:30 CEST
    ]);
  });

  it('runs 02:30 Berlin once on the fall-back day, though the time occurs twice', () => {
    const def = defineScheduler('night', null, { cron: '30 2 * * *', tz: 'Europe/Berlin' });
    expect(slots(def, '2026-10-24T12:00:00Z', 2)).toEqual([
      '2026-10-25T00:30:00.000Z',
      '2026-10-26T01:30:00.000Z',
    ]);
  });

  it('runs an interval pattern in both occurrences of the repeated hour and skips the missing one', () => {
    const def = defineScheduler('quarter', null, { cron: '*/30 2 * * *', tz: 'Europe/Berlin' });
    expect(slots(def, '2026-10-24T12:00:00Z', 4)).toEqual([
      '2026-10-25T00:00:00.000Z', // 02:00 CEST
      '2026-10-25T00:30:00.000Z',
      '2026-10-25T01:00:00.000Z', // 02:00 CET, the hour again
      '2026-10-25T01:30:00.000Z',
    ]);
    expect(slots(def, '2026-03-28T12:00:00Z', 2)).toEqual([
      '2026-03-30T00:00:00.000Z',
      '2026-03-30T00:30:00.000Z',
    ]);
  });

  it('aligns everyMs slots to multiples of everyMs since the epoch', () => {
    const def = defineScheduler('tick', null, { everyMs: 60_000 });
    expect(slotAfter(def, 1_000_030_123)).toBe(1_000_080_000);
    expect(slotAfter(def, 1_000_020_000)).toBe(1_000_080_000);
    expect(slotAtOrBefore(def, 1_000_020_000)).toBe(1_000_020_000);
    expect(slotAtOrBefore(def, 1_000_079_999)).toBe(1_000_020_000);
    expect(isSlotOf(def, 1_000_020_000)).toBe(true);
    expect(isSlotOf(def, 1_000_020_001)).toBe(false);
  });

  it('counts a cron slot at exactly now as passed, and one a millisecond ahead as next', () => {
    const def = defineScheduler('min', null, { cron: '* * * * *' });
    expect(slotAtOrBefore(def, at('2026-05-01T10:07:00Z'))).toBe(at('2026-05-01T10:07:00Z'));
    expect(slotAtOrBefore(def, at('2026-05-01T10:07:59.999Z'))).toBe(at('2026-05-01T10:07:00Z'));
    expect(slotAfter(def, at('2026-05-01T10:06:59.999Z'))).toBe(at('2026-05-01T10:07:00Z'));
    expect(isSlotOf(def, at('2026-05-01T10:07:00Z'))).toBe(true);
    expect(isSlotOf(def, at('2026-05-01T10:07:30Z'))).toBe(false);
  });

  it('owes one catch-up slot, the latest missed, and nothing from before the definition', () => {
    const def = defineScheduler('tick', null, { everyMs: 1_000 });
    const record: SchedulerRecord = { ...def, since: 10_500, last: 11_000 };
    expect(dueSlot(record, 11_200)).toBe(12_000); // nothing missed: the next one
    expect(dueSlot(record, 25_700)).toBe(25_000); // 14 missed: the latest only
    expect(dueSlot({ ...def, since: 10_500 }, 10_900)).toBe(11_000); // 10_000 is before `since`
    expect(dueSlot({ ...def, since: 10_500 }, 11_000)).toBe(11_000); // due now
  });

  it('has no slot ahead for a cron that never matches again', () => {
    const def = defineScheduler('never', null, { cron: '0 0 30 2 *' });
    expect(dueSlot({ ...def, since: 0 }, at('2026-01-01T00:00:00Z'))).toBeUndefined();
  });

  it('makes the slot the job id, with the definition’s job options', () => {
    const def = defineScheduler(
      'tick',
      { n: 1 },
      { everyMs: 1_000 },
      {
        priority: 'high',
        maxAttempts: 3,
        backoff: fixed({ delayMs: 50 }),
      },
    );
    expect(slotJob({ ...def, since: 0 }, 7_000)).toEqual({
      id: 'repeat:tick:7000',
      dedup: true,
      name: 'tick',
      data: { n: 1 },
      priority: 'high',
      delayMs: 0,
      maxAttempts: 3,
      backoffMs: [50, 50],
    });
  });

  it('refuses a bad pattern, time zone, interval, name or job option with a ValidationError', () => {
    const bad: [string, () => unknown][] = [
      ['pattern', () => defineScheduler('x', null, { cron: 'every day' })],
      ['time zone', () => defineScheduler('x', null, { cron: '0 3 * * *', tz: 'Mars/Base' })],
      ['interval', () => defineScheduler('x', null, { everyMs: 0 })],
      ['both', () => defineScheduler('x', null, { cron: '* * * * *', everyMs: 5 })],
      ['name', () => defineScheduler('', null, { everyMs: 5 })],
      ['jobId', () => defineScheduler('x', null, { everyMs: 5 }, { jobId: 'a' } as never)],
      ['priority', () => defineScheduler('x', null, { everyMs: 5 }, { priority: 'urgent' as never })],
    ];
    for (const [what, call] of bad) expect(call, what).toThrow(ValidationError);
  });

  it('keys plain names as they are and any other name encoded, without collisions', () => {
    expect(schedulerKey('emails', 'digest')).toBe('emails.digest');
    const odd = schedulerKey('emails', 'daily digest.v2');
    expect(odd).toMatch(/^emails\.=[-\w]+$/);
    expect(odd).not.toBe(schedulerKey('emails', 'daily digest.v3'));
  });
});
