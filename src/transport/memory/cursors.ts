import type { StoredMessage } from './type-log.js';
import type { Cursor, TypeStream } from './type-stream.js';

/** Where a consumer's messages come from: one type's log, or several merged in sequence order. */
export interface ConsumerSource {
  /** The next message, moved past; undefined while nothing more is stored. */
  take(): StoredMessage | undefined;
  /** Messages stored but not taken yet. */
  readonly backlog: number;
  /** A message of `type` was stored: the source may have more to take. */
  stored(type: string): void;
  /** Stops reading: no stream waits for this source any more. */
  close(): void;
}

/**
 * A reader's position in one type's log. The stream hears of every move, so that what every
 * reader has passed is released at once.
 */
export class TypeCursor implements Cursor, ConsumerSource {
  private pos: number;

  /**
   * @param label - who reads, for people (`group "mailer"`)
   * @param position - the first position to take
   */
  constructor(
    readonly stream: TypeStream,
    readonly label: string,
    position: number,
  ) {
    this.pos = position;
    stream.addCursor(this);
  }

  /** The next position to take. */
  get position(): number {
    return this.pos;
  }

  /** The next message, without moving past it. */
  peek(): StoredMessage | undefined {
    return this.stream.log.at(this.pos);
  }

  take(): StoredMessage | undefined {
    const msg = this.stream.log.at(this.pos);
    if (!msg) return undefined;
    const from = this.pos++;
    this.stream.moved(from, this.pos);
    return msg;
  }

  /** Reads on from `position` (a group that resubscribes with a start point). */
  moveTo(position: number): void {
    const from = this.pos;
    this.pos = position;
    this.stream.moved(from, position);
  }

  get backlog(): number {
    return Math.max(0, this.stream.log.end - this.pos);
  }

  stored(): void {
    // The log is read at its position on every take: nothing to note.
  }

  close(): void {
    this.stream.removeCursor(this);
  }
}

/**
 * One reader over the logs of every type a pattern matches, taking their messages in sequence
 * order (the order they were stored in): JetStream's consumer with a wildcard filter, in memory.
 * Types that appear later join as their streams are made.
 */
export class MergedCursor implements ConsumerSource {
  private readonly parts: TypeCursor[] = [];
  private readonly byType = new Map<string, TypeCursor>();
  /** The cursors that may have a message to take: a take looks at these only, not at every type. */
  private readonly active = new Set<TypeCursor>();

  /** Reads `stream` too, from `position`. */
  add(stream: TypeStream, label: string, position: number): void {
    const cursor = new TypeCursor(stream, label, position);
    this.parts.push(cursor);
    this.byType.set(stream.type, cursor);
    this.active.add(cursor);
  }

  stored(type: string): void {
    const cursor = this.byType.get(type);
    if (cursor) this.active.add(cursor);
  }

  /** Every cursor may have messages again (after they were moved). */
  refresh(): void {
    for (const c of this.parts) this.active.add(c);
  }

  /** The per-type cursors, for a resubscription that moves them. */
  get cursors(): readonly TypeCursor[] {
    return this.parts;
  }

  take(): StoredMessage | undefined {
    let next: TypeCursor | undefined;
    let seq = Infinity;
    for (const c of this.active) {
      const msg = c.peek();
      if (!msg) this.active.delete(c);
      else if (msg.seq < seq) {
        seq = msg.seq;
        next = c;
      }
    }
    return next?.take();
  }

  get backlog(): number {
    let n = 0;
    for (const c of this.parts) n += c.backlog;
    return n;
  }

  close(): void {
    for (const c of this.parts) c.close();
  }
}
