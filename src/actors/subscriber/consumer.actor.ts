import { fromCallback } from 'xstate';
import { describeError } from '../../errors.js';
import type {
  ConsumerActorInput,
  ConsumerCommand,
  SubscriberEvent,
} from '../../machines/subscriber.machine.js';
import type { ConsumerSpec, Delivery, Transport } from '../../transport/transport.js';
import { Activity } from './activity.js';

/** The per-subscription work that the consumer actor drives. */
export interface DeliveryWork {
  accept(delivery: Delivery): void;
  /** Called when draining: hand over anything collected (a partial batch). */
  flush?(): void;
  close(): void;
}

/** Builds the consumer actor of one subscription: the only place its messages and I/O live. */
export function consumerActor(
  transport: Transport,
  spec: ConsumerSpec,
  makeWork: (activity: Activity) => DeliveryWork,
) {
  return fromCallback<ConsumerCommand, ConsumerActorInput>(({ sendBack, receive }) => {
    const send = (event: SubscriberEvent): void => sendBack(event);
    const activity = new Activity((busy) => send({ type: busy ? 'work.started' : 'work.idle' }));
    const work = makeWork(activity);
    const fail = (err: unknown): void => send({ type: 'consumer.failed', error: describeError(err) });
    const handle = transport.consume(spec, {
      deliver: (delivery) => work.accept(delivery),
      failed: fail,
    });
    handle.ready.then(() => send({ type: 'consumer.ready' }), fail);

    let draining: Promise<void> | undefined;
    receive((command) => {
      if (command.type !== 'drain' || draining) return;
      draining = (async () => {
        await handle.stop();
        work.flush?.();
        await activity.whenIdle();
        work.close();
        send({ type: 'consumer.drained' });
      })();
    });
    return () => {
      void handle.stop();
      work.close();
    };
  });
}
