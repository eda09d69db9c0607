import { isoTime } from '../../events/ids.js';
import {
  DeadLetterStoreBase,
  matchesDeadLetter,
  type DeadLetter,
  type DeadLetterDraft,
} from '../dead-letters.js';
import type { DeadLetterQuery } from '../dead-letters.js';

/** Republishes a dead letter to the live stream; supplied by the memory transport. */
export type Redriver = (dl: DeadLetter) => Promise<void>;

/** The memory transport's dead-letter store: insertion-ordered, so `list` is oldest first. */
export class MemoryDeadLetterStore extends DeadLetterStoreBase {
  private readonly records = new Map<string, DeadLetter>();
  private nextId = 1;

  constructor(private readonly redriver: Redriver) {
    super();
  }

  /** Stores a record; used by deliveries. */
  add(draft: DeadLetterDraft, subject: string, seq: number | undefined, now: number): DeadLetter {
    const dl: DeadLetter = { ...draft, id: String(this.nextId++), failedAt: isoTime(now), subject, seq };
    this.records.set(dl.id, dl);
    return dl;
  }

  async get(id: string): Promise<DeadLetter | undefined> {
    return this.records.get(id);
  }

  protected async select(query: DeadLetterQuery | undefined, limit: number): Promise<DeadLetter[]> {
    const out: DeadLetter[] = [];
    for (const dl of this.records.values()) {
      if (out.length >= limit) break;
      if (matchesDeadLetter(dl, query)) out.push(dl);
    }
    return out;
  }

  protected republish(dl: DeadLetter): Promise<void> {
    return this.redriver(dl);
  }

  protected async remove(dl: DeadLetter): Promise<void> {
    this.records.delete(dl.id);
  }
}
