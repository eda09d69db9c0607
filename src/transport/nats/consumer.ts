import { sleep } from '../../time/sleep.js';
import type { JetStreamManager } from '@nats-io/jetstream';
import type { Msg, NatsConnection } from '@nats-io/transport-node';
import { TransportError } from '../../errors.js';
import { isPattern } from '../../events/patterns.js';
import type { Logger } from '../../logging.js';
import type { DeadLetterDraft } from '../dead-letters.js';
import type { ConsumerHandle, ConsumerSpec, DeliverySink } from '../transport.js';
import { NatsDelivery, type DeliveryOwner } from './delivery.js';
import type { Names } from './toolkit/names.js';
import type { ResolvedNatsOptions } from './toolkit/options.js';
import { ensureConsumer, ensureStreams, isNotFound } from './toolkit/provision.js';
import { nak } from './toolkit/ack.js';
import { Pull, type PullTiming } from './toolkit/pull.js';

/** What a consumer needs from its transport. */
export interface ConsumerHost {
  readonly nc: NatsConnection;
  readonly jsm: JetStreamManager;
  readonly names: Names;
  readonly options: ResolvedNatsOptions;
  readonly logger: Logger;
  readonly termWithReason: boolean;
  writeDeadLetter(draft: DeadLetterDraft, subject: string, seq: number): Promise<void>;
  release(consumer: NatsConsumer): void;
}

/**
 * Pull requests outlive a stopped subscription on the server until they expire, and a message sent
 * back at once could be delivered to one of them: what is handed back waits that long.
 */
const TIMING: PullTiming = { expiresMs: 5_000, heartbeatMs: 2_000 };
const RECOVER_MS = [250, 500, 1_000, 2_000, 5_000] as const;
const RECOVER_TRIES = 20;
const PULL_AHEAD = 2;

interface Arrival {
  readonly msg: Msg;
  readonly attempt: number;
  readonly seq: number;
}

/**
 * One subscriber instance reading one JetStream pull consumer. At most `maxInFlight` deliveries are
 * unsettled at once and the pull loop never asks for more than that, so nothing sits in a client
 * buffer. A deleted consumer or stream is provisioned again in place; a consumer that cannot be
 * brought back goes to `sink.failed`.
 */
export class NatsConsumer implements ConsumerHandle, DeliveryOwner {
  readonly ready: Promise<void>;
  readonly termWithReason: boolean;
  private readonly max: number;
  private inFlight = 0;
  /** Arrivals pulled ahead of the room (and after a reset forgot live requests): handed out as room frees. */
  private readonly overflow: Arrival[] = [];
  private loop: Pull | undefined;
  private stopped = false;
  private stopping: Promise<void> | undefined;
  private checking = false;
  private handing = false;
  private name = '';
  /** Handed out, not yet settled: sent `working()` while their handlers run past half the ack wait. */
  private readonly unsettled = new Set<NatsDelivery>();
  private readonly heartbeat: NodeJS.Timeout;
  private readonly ackWaitMs: number;
  /** The type of every delivery; undefined for a pattern, where each message's subject says it. */
  private readonly fixedType: string | undefined;

  constructor(
    private readonly host: ConsumerHost,
    private readonly spec: ConsumerSpec,
    private readonly sink: DeliverySink,
  ) {
    this.max = Math.max(1, spec.maxInFlight);
    this.termWithReason = host.termWithReason;
    this.ackWaitMs = spec.ackWaitMs ?? host.options.ackWaitMs;
    this.fixedType = isPattern(spec.type) ? undefined : spec.type;
    this.heartbeat = setInterval(() => this.beat(), Math.max(50, Math.floor(this.ackWaitMs / 4)));
    this.heartbeat.unref();
    this.ready = this.open();
  }

  /** Messages this instance pulled ahead and has not handed out yet: still backlog, for reports. */
  waitingFor(type: string, group: string): number {
    const s = this.spec;
    return s.mode === 'group' && s.type === type && s.group === group ? this.overflow.length : 0;
  }

  private async open(): Promise<void> {
    const h = this.host;
    this.name = await ensureConsumer(h.jsm, h.names, h.options, this.spec);
    if (!this.stopped) this.startLoop();
  }

  private startLoop(): void {
    const { nc, options, names } = this.host;
    // Pull up to twice what may be in flight: the second half waits in `overflow` and is handed out
    // as deliveries settle, so the server never waits for an ack round trip to send more.
    // Stopping naks whatever is still waiting there.
    const minBatch = Math.max(1, Math.floor(this.max / 4));
    this.loop = new Pull({
      nc,
      apiPrefix: options.apiPrefix,
      stream: names.eventsStream,
      consumer: this.name,
      room: () => PULL_AHEAD * this.max - this.inFlight - this.overflow.length,
      minBatch: () => minBatch,
      timing: TIMING,
      handlers: {
        message: (msg, attempt, seq) => this.arrive({ msg, attempt, seq }),
        suspect: (reason) => void this.check(reason),
        deleted: () => void this.recover('consumer deleted'),
      },
    });
    this.loop.pull();
  }

  private arrive(a: Arrival): void {
    if (this.inFlight >= this.max) this.overflow.push(a);
    else this.hand(a);
  }

  private hand(a: Arrival): void {
    this.inFlight++;
    const type = this.fixedType ?? this.host.names.typeOf(a.msg.subject);
    const d = new NatsDelivery(this, a.msg, type, a.attempt, a.seq);
    this.unsettled.add(d);
    this.sink.deliver(d);
  }

  acked(delivery: NatsDelivery): void {
    this.unsettled.delete(delivery);
  }

  settled(delivery: NatsDelivery): void {
    this.unsettled.delete(delivery);
    this.inFlight--;
    this.handOn();
  }

  /**
   * Hands out what waits while there is room. A handler that settles at once settles inside
   * `hand()`: the loop, not recursion, hands out the next, so the stack stays flat however many wait.
   */
  private handOn(): void {
    if (this.handing) return;
    this.handing = true;
    try {
      while (this.inFlight < this.max) {
        const next = this.overflow.shift();
        if (!next) break;
        this.hand(next);
      }
    } finally {
      this.handing = false;
    }
    if (this.overflow.length === 0) this.loop?.pull();
  }

  /** Deliveries whose handlers run past half the ack wait keep their lease: the broker must not redeliver them. */
  private beat(): void {
    const due = Date.now() - this.ackWaitMs / 2;
    for (const d of this.unsettled) {
      if (d.since > due) break; // handed out in order: the rest are younger
      d.working();
    }
  }

  writeDeadLetter(draft: DeadLetterDraft, subject: string, seq: number): Promise<void> {
    return this.host.writeDeadLetter(draft, subject, seq);
  }

  /** The connection came back: requests made on the old one are gone. */
  reconnected(): void {
    this.loop?.reset();
  }

  /** Pulls go unanswered: pull afresh if the consumer is there, provision it again if not. */
  private async check(reason: string): Promise<void> {
    if (this.checking || this.stopped) return;
    this.checking = true;
    try {
      await this.host.jsm.consumers.info(this.host.names.eventsStream, this.name);
      this.host.logger.debug({ consumer: this.name, reason }, 'consumer is there; pulling afresh');
      this.loop?.reset();
    } catch (err) {
      if (isNotFound(err)) void this.recover(reason);
      // Otherwise JetStream is not answering yet; the next watchdog tick asks again.
    } finally {
      this.checking = false;
    }
  }

  /** Provisions the stream and consumer again and resumes; gives up after a while. */
  private async recover(reason: string): Promise<void> {
    const lost = this.loop;
    if (!lost || this.stopped) return;
    this.loop = undefined;
    this.host.logger.warn({ consumer: this.name, reason }, 'consumer lost; provisioning it again');
    await lost.stop();
    const h = this.host;
    for (let i = 0; !this.stopped; i++) {
      try {
        await ensureStreams(h.jsm, h.names, h.options);
        this.name = await ensureConsumer(h.jsm, h.names, h.options, this.spec);
        if (!this.stopped) this.startLoop();
        return;
      } catch (err) {
        if (i + 1 >= RECOVER_TRIES) return this.fail(err);
        await sleep(RECOVER_MS[Math.min(i, RECOVER_MS.length - 1)]!);
      }
    }
  }

  private fail(err: unknown): void {
    if (this.stopped) return;
    this.host.logger.warn({ err, consumer: this.name }, 'consumer failed');
    void this.stop();
    this.sink.failed(err instanceof Error ? err : new TransportError(String(err)));
  }

  /** Stops pulling; what already arrived is still handed out; nothing is left buffered. Idempotent. */
  stop(): Promise<void> {
    this.stopping ??= this.shutdown();
    return this.stopping;
  }

  private async shutdown(): Promise<void> {
    this.stopped = true;
    clearInterval(this.heartbeat);
    await this.ready.catch(() => undefined);
    await this.loop?.stop();
    // Pulled but never handed out: back to the group, after this consumer's own pull requests, which
    // outlive the subscription on the server, have expired (sent back at once, they could go there).
    for (const a of this.overflow.splice(0)) nak(a.msg, TIMING.expiresMs + 250);
    // A broadcast instance's consumer has no other reader; like the memory transport, a new
    // consume for the instance starts afresh.
    if (this.spec.mode === 'broadcast' && this.name) {
      await this.host.jsm.consumers.delete(this.host.names.eventsStream, this.name).catch(() => undefined);
    }
    this.host.release(this);
  }
}
