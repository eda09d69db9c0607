/**
 * How bulwark names things on JetStream. Subjects keep event types readable (`<prefix>.events.user.created`);
 * stream and consumer names, which may not contain dots or wildcards, use sanitised tokens plus a short
 * hash so that two groups that sanitise alike (`a.b`, `a_b`) never share a consumer.
 */

const UNSAFE = /[^A-Za-z0-9_-]/g;

/** A name token that is valid as a stream, consumer or subject token. */
export function safeToken(value: string): string {
  return value.replace(UNSAFE, '_') || '_';
}

/** How much of a group and of a type a consumer's name spells out; the hash keeps long ones apart. */
const NAME_PART = 96;

/** A consumer name part: the safe token, cut so that the whole name stays within JetStream's limits. */
function namePart(value: string): string {
  return safeToken(value).slice(0, NAME_PART);
}

/** FNV-1a, 32 bits, base 36: a stable short suffix. */
export function shortHash(value: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < value.length; i++) {
    h ^= value.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0).toString(36);
}

/** The subjects and names one transport uses, derived from its prefix. */
export class Names {
  readonly eventsStream: string;
  readonly dlqStream: string;
  readonly eventsWildcard: string;
  readonly dlqWildcard: string;
  /** Events published with `delayMs`, until a mover republishes them (see `nats/delayed.ts`). */
  readonly delayedStream: string;
  readonly delayedWildcard: string;

  constructor(readonly prefix: string) {
    const upper = safeToken(prefix).toUpperCase();
    this.eventsStream = `${upper}_EVENTS`;
    this.dlqStream = `${upper}_DLQ`;
    this.eventsWildcard = `${prefix}.events.>`;
    this.dlqWildcard = `${prefix}.dlq.>`;
    this.delayedStream = `${upper}_DELAYED`;
    this.delayedWildcard = `${prefix}.delayed.>`;
  }

  /** `<prefix>.delayed.<dueSecond>`: the delayed events due in one second (seconds since the epoch). */
  delayedSubject(dueSecond: number): string {
    return `${this.prefix}.delayed.${dueSecond}`;
  }

  /** The due second of a delay subject; undefined when the subject is not one. */
  dueSecondOf(subject: string): number | undefined {
    const head = `${this.prefix}.delayed.`;
    if (!subject.startsWith(head)) return undefined;
    const second = Number(subject.slice(head.length));
    return Number.isSafeInteger(second) ? second : undefined;
  }

  /** `<prefix>.events.<type>` */
  eventSubject(type: string): string {
    return `${this.prefix}.events.${type}`;
  }

  /** The event type of an events subject; the subject itself when it is not one. */
  typeOf(subject: string): string {
    const head = `${this.prefix}.events.`;
    return subject.startsWith(head) ? subject.slice(head.length) : subject;
  }

  /** `<prefix>.dlq.<group>.<type>`; `'*'` or `'>'` select several. */
  dlqSubject(group: string | undefined, type: string | undefined): string {
    const g = group === undefined ? '*' : safeToken(group);
    return `${this.prefix}.dlq.${g}.${type ?? '>'}`;
  }

  /** The durable consumer shared by every instance of `group` for `type`. */
  groupConsumer(group: string, type: string): string {
    return `g_${namePart(group)}_${namePart(type)}_${shortHash(`${group}\u0000${type}`)}`;
  }

  /** The stream, subjects and consumers of the job queue `queue`. */
  queue(queue: string): QueueNames {
    return new QueueNames(this.prefix, queue);
  }

  /** The consumer of one broadcast instance for `type`. */
  broadcastConsumer(instanceId: string, type: string): string {
    return `b_${namePart(instanceId)}_${namePart(type)}_${shortHash(`${instanceId}\u0000${type}`)}`;
  }
}

const SAFE = /^[A-Za-z0-9_-]+$/;

/** A subject token for an id or a queue name; ids that are not tokens are encoded, never merged. */
export function token(value: string): string {
  return SAFE.test(value) ? value : `=${Buffer.from(value).toString('base64url')}`;
}

/** The stream, subjects and consumers of one queue. */
export class QueueNames {
  readonly stream: string;
  readonly base: string;

  constructor(prefix: string, queue: string) {
    const q = SAFE.test(queue) ? queue : `${safeToken(queue)}_${shortHash(queue)}`;
    this.stream = `${safeToken(prefix).toUpperCase()}_Q_${q}`;
    this.base = `${prefix}.q.${q}`;
  }

  subject(id: string, kind: string): string {
    return `${this.base}.${token(id)}.${kind}`;
  }

  /** Every message about one job. */
  job(id: string): string {
    return `${this.base}.${token(id)}.*`;
  }

  /** Every job's message of one kind. */
  filter(kind: string): string {
    return `${this.base}.*.${kind}`;
  }

  /** The last token of a subject of this queue: what kind of message it is. */
  kindOf(subject: string): string {
    return subject.slice(subject.lastIndexOf('.') + 1);
  }
}
