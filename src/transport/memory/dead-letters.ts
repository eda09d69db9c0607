import { isoTime } from '../../events/ids.js';
import {
  matchesDeadLetter,
  type DeadLetter,
  type DeadLetterDraft,
  type DeadLetterQuery,
  type DeadLetterStore,
} from '../dead-letters.js';

/** Republishes a dead letter to the live stream; supplied by the memory transport. */
export type Redriver = (dl: DeadLetter) => Promise<void>;

/** The memory transport's dead-letter store: insertion-ordered, so `list` is oldest first. */
export class MemoryDeadLetterStore implements DeadLetterStore {
  private readonly records = new Map<string, DeadLetter>();
  private nextId = 1;

  constructor(private readonly redriver: Redriver) {}

  /** Stores a record; used by deliveries. */
  add(draft: DeadLetterDraft, subject: string, seq: number | undefined, now: number): DeadLetter {
    const dl: DeadLetter = { ...draft, id: String(this.nextId++), failedAt: isoTime(now), subject, seq };
    this.records.set(dl.id, dl);
    return dl;
  }

  async list(query?: DeadLetterQuery & { limit?: number }): Promise<DeadLetter[]> {
    const limit = query?.limit ?? 100;
    const out: DeadLetter[] = [];
    for (const dl of this.records.values()) {
      if (out.length >= limit) break;
      if (matchesDeadLetter(dl, query)) out.push(dl);
    }
    return out;
  }

  async get(id: string): Promise<DeadLetter | undefined> {
    return this.records.get(id);
  }

  async count(query?: DeadLetterQuery): Promise<number> {
    return this.select(query).length;
  }

  async redrive(query?: DeadLetterQuery): Promise<{ redriven: number }> {
    let redriven = 0;
    for (const dl of this.select(query)) {
      await this.redriver(dl);
      this.records.delete(dl.id);
      redriven++;
    }
    return { redriven };
  }

  async purge(query?: DeadLetterQuery): Promise<{ purged: number }> {
    const victims = this.select(query);
    for (const dl of victims) this.records.delete(dl.id);
    return { purged: victims.length };
  }

  private select(query: DeadLetterQuery | undefined): DeadLetter[] {
    return [...this.records.values()].filter((dl) => matchesDeadLetter(dl, query));
  }
}
