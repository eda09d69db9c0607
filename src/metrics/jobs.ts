import type { JobCounts } from './hooks.js';

/** A job queue as `bulwark_jobs` reads it. */
export interface CountedQueue {
  readonly name: string;
  /** Counts by state (`waiting`, `active`, …); fields that are not numbers are left out. */
  counts(): Promise<object>;
}

/** How long a scrape waits for a queue's counts. */
const COUNTS_TIMEOUT_MS = 2_000;

/**
 * Every queue's counts, asked all at once; a queue that fails or does not answer within two
 * seconds is left out (its gauges keep their last values).
 * @returns each answering queue's counts
 */
export async function readJobCounts(
  queues: Iterable<CountedQueue>,
): Promise<{ queue: string; counts: JobCounts }[]> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<undefined>((resolve) => {
    timer = setTimeout(resolve, COUNTS_TIMEOUT_MS, undefined);
    timer.unref();
  });
  const asked = [...queues].map(async (q) => {
    const counts = await Promise.race([q.counts(), late]);
    return counts && { queue: q.name, counts: numbersOf(counts) };
  });
  try {
    const settled = await Promise.allSettled(asked);
    return settled.flatMap((s) => (s.status === 'fulfilled' && s.value ? [s.value] : []));
  } finally {
    clearTimeout(timer);
  }
}

function numbersOf(counts: object): JobCounts {
  return Object.fromEntries(Object.entries(counts).filter(([, n]) => typeof n === 'number'));
}
