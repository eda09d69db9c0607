import type { ReplayFrom } from '../transport.js';
import { DropIndex, type Missed } from './drop-index.js';
import { SizeEstimate } from './size-estimate.js';
import { TypeLog, type StoredMessage } from './type-log.js';

/** A reader of a type's log: a group's (or a broadcast instance's) next position. */
export interface Cursor {
  readonly position: number;
  /** Who reads, for people: `group "mailer"`. */
  readonly label: string;
}

/** Where a stream reports changes of its retained part (the transport-wide retention). */
export interface RetentionBudget {
  /** The retained part of `stream` changed by `bytes`: drop what is over a budget. */
  changed(stream: TypeStream, bytes: number): void;
}

/** Where a new reader starts, and what retention had dropped of what it asked for. */
export interface StartPoint {
  readonly position: number;
  readonly missed: Missed;
}

const MISSED_NONE: Missed = Object.freeze({ count: 0, exact: true });

/** How far a stream's slowest reader may lag, in events. */
export interface BacklogLimits {
  /** At this many events behind, publishes of the type are refused. */
  readonly maxBacklog: number;
  /** Once refused, publishes resume at this many events behind or fewer. */
  readonly resumeAt: number;
}

/**
 * One event type's log with its readers. The floor is the lowest reader position: before it,
 * messages are retained (every reader has passed them) and retention may drop them; from it on
 * they are pending, never dropped, and bounded instead by refusing publishes.
 */
export class TypeStream {
  readonly log = new TypeLog();
  readonly sizes = new SizeEstimate();
  private readonly drops = new DropIndex();
  private readonly cursors: Cursor[] = [];
  /** The lowest reader position; the log's end while nobody reads. */
  floor = 0;
  /** Estimated bytes of the retained messages. */
  retainedBytes = 0;
  /** This stream's place in the retention heap; -1 while it retains nothing. */
  heapIndex = -1;
  /** True from a refused publish until the laggard is back at `resumeAt`. */
  refusing = false;

  /** @param onResume - called once a refused stream's laggard is back at `resumeAt` */
  constructor(
    readonly type: string,
    private readonly budget: RetentionBudget,
    private readonly limits: BacklogLimits,
    private readonly onResume: (stream: TypeStream) => void,
  ) {}

  /** Messages every reader has passed that are still kept. */
  get retained(): number {
    return this.floor - this.log.start;
  }
  /** Messages the slowest reader has yet to be given. */
  get pending(): number {
    return this.log.end - this.floor;
  }
  /** Sequence of the oldest retained message (only while `retained > 0`). */
  get oldestSeq(): number {
    return this.log.at(this.log.start)!.seq;
  }

  /** @returns whether a publish may be stored now (no reader at the backlog bound) */
  accepts(): boolean {
    return !this.refusing && this.log.end - this.floor < this.limits.maxBacklog;
  }

  /** @returns the reader at the floor: the one a refusal waits for */
  laggard(): Cursor | undefined {
    let slowest: Cursor | undefined;
    for (const c of this.cursors) if (!slowest || c.position < slowest.position) slowest = c;
    return slowest;
  }

  /** Stores a message; with nobody reading, it is retained at once. */
  append(msg: StoredMessage): void {
    this.log.append(msg);
    if (this.cursors.length === 0) this.moveFloor(this.log.end);
  }

  /** A reader starts: what it has yet to read (even retained messages) is pending again. */
  addCursor(cursor: Cursor): void {
    this.cursors.push(cursor);
    this.refloor();
  }

  /** A reader is gone: what it alone held back is retained, or dropped, at once. */
  removeCursor(cursor: Cursor): void {
    const i = this.cursors.indexOf(cursor);
    if (i >= 0) this.cursors.splice(i, 1);
    this.refloor();
  }

  /** A reader moved from `from` to its current position. */
  moved(from: number, to: number): void {
    if (from === this.floor || to < this.floor) this.refloor();
  }

  /** Drops the oldest retained message. @returns its estimated bytes */
  dropOldest(): number {
    const pos = this.log.start;
    const msg = this.log.dropFirst();
    this.drops.dropped(pos, msg);
    this.retainedBytes -= msg.size;
    return msg.size;
  }

  /** @returns the position a reader starting `from` takes, and how many dropped events it missed */
  startAt(from: ReplayFrom): StartPoint {
    const log = this.log;
    if (from === 'new') return { position: log.end, missed: MISSED_NONE };
    if (from === 'all') return { position: log.start, missed: { count: log.start, exact: true } };
    if ('seq' in from) {
      const seq = from.seq;
      return {
        position: log.firstPosition((m) => m.seq >= seq),
        missed: this.drops.sinceSeq(seq, log.start),
      };
    }
    const time = new Date(from.time).getTime();
    return {
      position: log.firstPosition((m) => m.time >= time),
      missed: this.drops.sinceTime(time, log.start),
    };
  }

  private refloor(): void {
    let floor = this.log.end;
    for (const c of this.cursors) if (c.position < floor) floor = c.position;
    this.moveFloor(Math.max(floor, this.log.start));
  }

  private moveFloor(to: number): void {
    const from = this.floor;
    if (to === from) return;
    let bytes = 0;
    for (let pos = Math.min(from, to); pos < Math.max(from, to); pos++) bytes += this.log.at(pos)!.size;
    this.floor = to;
    const delta = to > from ? bytes : -bytes;
    this.retainedBytes += delta;
    this.budget.changed(this, delta);
    if (this.refusing && this.pending <= this.limits.resumeAt) this.onResume(this);
  }
}
