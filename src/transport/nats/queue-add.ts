import type { NatsConnection } from '@nats-io/transport-node';
import { PubAckPublisher } from './pub-ack.js';

/**
 * Publishes job records to JetStream and resolves each on its PubAck, many in flight over one
 * reply subscription (see {@link PubAckPublisher}).
 * @example
 * const adder = new QueueAdder(nc, 5_000);
 * const duplicate = await adder.publish('bulwark.q.emails.j1.normal', bytes, 'add:j1');
 */
export class QueueAdder {
  private readonly pub: PubAckPublisher;

  constructor(nc: NatsConnection, timeoutMs: number) {
    this.pub = new PubAckPublisher(nc, timeoutMs);
  }

  /**
   * @param msgID - the dedup key, when the stream must deduplicate
   * @returns whether the stream already held a message with `msgID`
   * @throws {TransportError} when the server refuses the message or does not answer in time
   */
  async publish(subject: string, data: Uint8Array, msgID?: string): Promise<boolean> {
    const ack = await this.pub.publish(
      subject,
      data,
      msgID === undefined ? undefined : { 'Nats-Msg-Id': msgID },
    );
    return ack.duplicate;
  }

  /** Stops listening once what is in flight is answered (or late). Idempotent. */
  close(): void {
    this.pub.close();
  }
}
