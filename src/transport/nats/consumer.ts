import type { ConsumerMessages, JetStreamClient, JetStreamManager, JsMsg } from '@nats-io/jetstream';
import { TransportError } from '../../errors.js';
import type { Logger } from '../../logging.js';
import type { DeadLetterDraft } from '../dead-letters.js';
import type { ConsumerHandle, ConsumerSpec, DeliverySink } from '../transport.js';
import { NatsDelivery, type DeliveryOwner } from './delivery.js';
import type { Names } from './names.js';
import type { ResolvedNatsOptions } from './options.js';
import { ensureConsumer, ensureStreams } from './provision.js';

/** What a consumer needs from its transport. */
export interface ConsumerHost {
  readonly js: JetStreamClient;
  readonly jsm: JetStreamManager;
  readonly names: Names;
  readonly options: ResolvedNatsOptions;
  readonly logger: Logger;
  readonly termWithReason: boolean;
  writeDeadLetter(draft: DeadLetterDraft, subject: string, seq: number): Promise<void>;
  release(consumer: NatsConsumer): void;
}

/** Pull requests expire after this; heartbeats every half of it, two missed ones trigger a check. */
const PULL_EXPIRES_MS = 10_000;
const RECOVER_MS = [250, 500, 1_000, 2_000, 5_000] as const;
const RECOVER_TRIES = 20;

/**
 * One subscriber instance reading one JetStream pull consumer with a long-lived `consume()`.
 * At most `maxInFlight` deliveries are unsettled at once; the next pull is issued only when the
 * loop moves on, so the client buffers at most one more batch of the same size. A deleted consumer
 * or stream is provisioned again in place; other failures go to `sink.failed`.
 */
export class NatsConsumer implements ConsumerHandle, DeliveryOwner {
  readonly ready: Promise<void>;
  readonly termWithReason: boolean;
  private readonly max: number;
  private inFlight = 0;
  private wake: (() => void) | undefined;
  private messages: ConsumerMessages | undefined;
  private stopped = false;
  private stopping: Promise<void> | undefined;
  private name = '';

  constructor(
    private readonly host: ConsumerHost,
    private readonly spec: ConsumerSpec,
    private readonly sink: DeliverySink,
  ) {
    this.max = Math.max(1, spec.maxInFlight);
    this.termWithReason = host.termWithReason;
    this.ready = this.open();
  }

  private async open(): Promise<void> {
    const h = this.host;
    this.name = await ensureConsumer(h.jsm, h.names, h.options, this.spec);
    await this.startConsume();
  }

  private async startConsume(): Promise<void> {
    const consumer = await this.host.js.consumers.get(this.host.names.eventsStream, this.name);
    if (this.stopped) return;
    const messages = await consumer.consume({
      max_messages: Math.min(this.max, 1_000),
      expires: PULL_EXPIRES_MS,
    });
    if (this.stopped) {
      await messages.close();
      return;
    }
    this.messages = messages;
    void this.watch(messages);
    void this.loop(messages);
  }

  private async loop(messages: ConsumerMessages): Promise<void> {
    try {
      for await (const m of messages) {
        if (!this.offer(m)) await this.waitForRoom(m);
      }
    } catch (err) {
      if (this.messages === messages && !this.stopped) this.fail(err);
      return;
    }
    if (this.messages === messages && !this.stopped) this.fail(new TransportError('the NATS consumer ended'));
  }

  /** Hands `m` out when there is room; returns false when the loop must wait. */
  private offer(m: JsMsg): boolean {
    if (this.stopped) {
      m.nak();
      return true;
    }
    if (this.inFlight >= this.max) return false;
    this.inFlight++;
    this.sink.deliver(new NatsDelivery(this, m, this.spec.type));
    return true;
  }

  private async waitForRoom(m: JsMsg): Promise<void> {
    await new Promise<void>((resolve) => (this.wake = resolve));
    this.offer(m);
  }

  settled(): void {
    this.inFlight--;
    const wake = this.wake;
    if (wake && this.inFlight < this.max) {
      this.wake = undefined;
      wake();
    }
  }

  writeDeadLetter(draft: DeadLetterDraft, subject: string, seq: number): Promise<void> {
    return this.host.writeDeadLetter(draft, subject, seq);
  }

  private async watch(messages: ConsumerMessages): Promise<void> {
    for await (const n of messages.status()) {
      if (n.type === 'heartbeats_missed')
        this.host.logger.debug({ consumer: this.name }, 'heartbeats missed');
      if (n.type === 'consumer_deleted' || n.type === 'consumer_not_found' || n.type === 'stream_not_found') {
        this.host.logger.warn(
          { consumer: this.name, notice: n.type },
          'consumer lost; provisioning it again',
        );
        void this.recover(messages);
        return;
      }
    }
  }

  /** Provisions the stream and consumer again and resumes; gives up after a while. */
  private async recover(lost: ConsumerMessages): Promise<void> {
    if (this.messages !== lost || this.stopped) return;
    this.messages = undefined;
    await lost.close().catch(() => undefined);
    const h = this.host;
    for (let i = 0; !this.stopped; i++) {
      try {
        await ensureStreams(h.jsm, h.names, h.options);
        this.name = await ensureConsumer(h.jsm, h.names, h.options, this.spec);
        await this.startConsume();
        return;
      } catch (err) {
        if (i + 1 >= RECOVER_TRIES) return this.fail(err);
        await new Promise((r) => setTimeout(r, RECOVER_MS[Math.min(i, RECOVER_MS.length - 1)]));
      }
    }
  }

  private fail(err: unknown): void {
    if (this.stopped) return;
    this.host.logger.warn({ err, consumer: this.name }, 'consumer failed');
    void this.stop();
    this.sink.failed(err instanceof Error ? err : new TransportError(String(err)));
  }

  /** Stops pulling; messages buffered but not handed out go back at once (nak). Idempotent. */
  stop(): Promise<void> {
    this.stopping ??= this.shutdown();
    return this.stopping;
  }

  private async shutdown(): Promise<void> {
    this.stopped = true;
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
    const messages = this.messages;
    this.messages = undefined;
    await this.ready.catch(() => undefined);
    await (messages ?? this.messages)?.close().catch(() => undefined);
    // A broadcast instance's consumer has no other reader; like the memory transport, a new
    // consume for the instance starts afresh.
    if (this.spec.mode === 'broadcast' && this.name) {
      await this.host.jsm.consumers.delete(this.host.names.eventsStream, this.name).catch(() => undefined);
    }
    this.host.release(this);
  }
}
