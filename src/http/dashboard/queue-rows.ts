import { deadLetterGroup } from '../../queue/dead-letter.js';
import type { JobCounts } from '../../queue/types.js';
import type { DeadLetter } from '../../transport/dead-letters.js';
import { JobProgressBoard, type JobProgressRow, type ProgressSource } from './job-progress.js';
import { SchedulerBoard, type SchedulerRow, type SchedulerSource } from './scheduler-board.js';

/** The part of a job queue the dashboard reads (and, with the admin token, pauses and resumes). */
export interface DashboardQueue extends ProgressSource {
  readonly name: string;
  counts(): Promise<JobCounts>;
  pause?(): Promise<void>;
  resume?(): Promise<void>;
}

/** A queue row: `backlog` is waiting + delayed + failed (to retry); `inFlight` is active. */
export interface QueueRow {
  readonly name: string;
  readonly counts: JobCounts;
  readonly backlog: number;
  readonly inFlight: number;
  readonly deadLetters: number;
  /** No worker of any process takes its jobs (`queue.pause()`). */
  readonly paused: boolean;
  /** Its job schedulers by name, the first 20. */
  readonly schedulers: readonly SchedulerRow[];
  /** How many job schedulers it has, listed or not. */
  readonly schedulerCount: number;
  /** The jobs this process's workers run now that reported progress, the first 20. */
  readonly progress: readonly JobProgressRow[];
}

/** What the dashboard keeps between reads of its queues: the schedulers read, the progress seen. */
export class QueueBoards {
  readonly schedulers: SchedulerBoard;
  readonly progress = new JobProgressBoard();

  /**
   * @param transport - where schedulers are read
   * @param schedulersRefreshMs - how often they are read again @default 5_000
   */
  constructor(transport: SchedulerSource | undefined, schedulersRefreshMs?: number) {
    this.schedulers = new SchedulerBoard(transport, schedulersRefreshMs);
  }

  /** Stops following every queue's progress; idempotent. */
  close(): void {
    this.progress.close();
  }
}

export function countBy(dead: readonly DeadLetter[], key: (dl: DeadLetter) => string): Map<string, number> {
  const out = new Map<string, number>();
  for (const dl of dead) out.set(key(dl), (out.get(key(dl)) ?? 0) + 1);
  return out;
}

/** Reads one row per queue: its counts, pause state, schedulers and active jobs' progress. */
export async function queueRows(
  queues: readonly DashboardQueue[],
  dead: readonly DeadLetter[],
  boards: QueueBoards,
  now: number,
): Promise<QueueRow[]> {
  const perGroup = countBy(dead, (dl) => dl.group);
  boards.progress.forget(queues);
  const [schedulers, rows] = await Promise.all([
    boards.schedulers.read([...new Set(queues.map((q) => q.name))], now),
    Promise.all(queues.map(async (q) => [await q.counts(), await boards.progress.rows(q)] as const)),
  ]);
  return queues.map((q, i) => {
    const [counts, progress] = rows[i]!;
    const s = schedulers.get(q.name);
    return {
      name: q.name,
      counts,
      backlog: (counts.waiting ?? 0) + (counts.delayed ?? 0) + (counts.failed ?? 0),
      inFlight: counts.active ?? 0,
      deadLetters: perGroup.get(deadLetterGroup(q.name)) ?? 0,
      paused: counts.paused === true,
      schedulers: s?.rows ?? [],
      schedulerCount: s?.total ?? 0,
      progress,
    };
  });
}
