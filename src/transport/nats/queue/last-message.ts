import type { JetStreamManager, StoredMsg } from '@nats-io/jetstream';
import { isNoMessage } from '../toolkit/provision.js';

/** What reading one message of a queue's stream needs. */
export interface QueueStreamReader {
  readonly jsm: JetStreamManager;
  readonly names: { readonly stream: string };
}

/** @returns the last message on `subject` (wildcards allowed), or null */
export function lastMessage(ctx: QueueStreamReader, subject: string): Promise<StoredMsg | null> {
  return ctx.jsm.streams.getMessage(ctx.names.stream, { last_by_subj: subject }).catch((err: unknown) => {
    if (isNoMessage(err)) return null;
    throw err;
  });
}
