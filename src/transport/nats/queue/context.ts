import type { JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from '../../../logging.js';
import type { DeadLetterDraft } from '../../dead-letters.js';
import type { Names, QueueNames } from '../toolkit/names.js';
import type { ResolvedNatsOptions } from '../toolkit/options.js';
import { JetStreamRefusedError, PubAckPublisher, type StoredAck } from '../toolkit/pub-ack.js';
import { HEADER_ROOM, WireHeader } from '../toolkit/wire.js';
import { DueJobs } from './due.js';
import type { ResultRoom } from './wire.js';

/** What a JetStream queue store borrows from its transport. */
export interface QueueHost {
  readonly nc: NatsConnection;
  readonly jsm: JetStreamManager;
  readonly options: ResolvedNatsOptions;
  readonly names: Names;
  readonly logger: Logger;
  /** The largest message the server takes (its `max_payload`). */
  readonly maxPayload: number;
  /** Stores a dead letter; resolves on the dead-letter stream's PubAck. */
  writeDeadLetter(draft: DeadLetterDraft, subject: string, seq: number): Promise<void>;
}

/**
 * What every part of one JetStream queue shares (its store, workers, leases, parked-job pulls and
 * sweeper): the transport's connection, the queue's names and settings, and one PubAck publisher
 * for the writes that must be stored before a job message is acked.
 */
export class QueueContext {
  readonly nc: NatsConnection;
  readonly jsm: JetStreamManager;
  readonly options: ResolvedNatsOptions;
  readonly logger: Logger;
  readonly names: QueueNames;
  /** The queue's jobs parked until a due time. */
  readonly due: DueJobs;
  private pubAck: PubAckPublisher | undefined;
  /** Job steps being written (each ends acked or naked): closing waits for them. */
  private writing = 0;
  private drained: (() => void)[] = [];
  private readonly untrack = (): void => {
    if (--this.writing > 0 || this.drained.length === 0) return;
    const waiters = this.drained;
    this.drained = [];
    for (const w of waiters) w();
  };

  constructor(
    private readonly host: QueueHost,
    readonly queue: string,
    readonly ackWaitMs: number,
    /** How long the queue's streams deduplicate a record by its key. */
    readonly dedupWindowMs = 120_000,
  ) {
    this.nc = host.nc;
    this.jsm = host.jsm;
    this.options = host.options;
    this.logger = host.logger;
    this.names = host.names.queue(queue);
    this.due = new DueJobs(this);
    const maxBytes = host.maxPayload - HEADER_ROOM;
    this.resultRoom = {
      maxBytes,
      dropped: (jobId, bytes) =>
        this.logger.warn(
          { jobId, bytes, maxBytes },
          'job result too large to store; the job completes without it',
        ),
    };
  }

  /** Where a settled record's result must fit: the server's `max_payload`, less room for headers. */
  readonly resultRoom: ResultRoom;

  /**
   * Publishes a job record and resolves once the queue's stream stored it.
   * @param msgId - the dedup key, when the stream must deduplicate
   * @returns whether the stream already held a message with `msgId`
   * @throws {TransportError} when the server refuses it or does not answer in time
   */
  async store(subject: string, body: Uint8Array, msgId?: string): Promise<boolean> {
    return (await this.publish(subject, body, msgId)).duplicate;
  }

  /**
   * {@link store}, only while `subject`'s last message is `lastSeq` (0: it has none).
   * @returns `superseded` when another write landed on `subject` first (nothing stored)
   */
  async storeIfLast(
    subject: string,
    body: Uint8Array,
    msgId: string,
    lastSeq: number,
  ): Promise<'stored' | 'duplicate' | 'superseded'> {
    const headers = { [WireHeader.msgId]: msgId, [WireHeader.expectedLastSubjectSeq]: String(lastSeq) };
    try {
      return (await this.publisher().publish(subject, body, headers)).duplicate ? 'duplicate' : 'stored';
    } catch (err) {
      if (err instanceof JetStreamRefusedError && /last sequence/i.test(err.message)) return 'superseded';
      throw err;
    }
  }

  /** {@link store}, answering with the stream's acknowledgement. */
  publish(subject: string, body: Uint8Array, msgId: string | undefined): Promise<StoredAck> {
    return this.publisher().publish(
      subject,
      body,
      msgId === undefined ? undefined : { [WireHeader.msgId]: msgId },
    );
  }

  private publisher(): PubAckPublisher {
    return (this.pubAck ??= new PubAckPublisher(this.nc, this.options.requestTimeoutMs));
  }

  /** Stores a dead letter; resolves on the dead-letter stream's PubAck. */
  writeDeadLetter(draft: DeadLetterDraft, subject: string, seq: number): Promise<void> {
    return this.host.writeDeadLetter(draft, subject, seq);
  }

  /** Keeps count of `write` (which never rejects) until it is done, so that {@link settled} can wait for it. */
  track(write: Promise<unknown>): void {
    this.writing++;
    void write.then(this.untrack, this.untrack);
  }

  /** Resolves once every tracked job step is written and its message acked (or sent back). */
  settled(): Promise<void> {
    if (this.writing === 0) return Promise.resolve();
    return new Promise((resolve) => this.drained.push(resolve));
  }

  /** Stops listening for PubAcks once what is in flight is answered. Idempotent. */
  close(): void {
    this.pubAck?.close();
  }
}
