import { token } from '../toolkit/names.js';
import { encodeWire, type JobWire } from './wire.js';

/** A job waiting in its group: its record, with the group. */
export type GroupedWire = JobWire & { readonly r: string };

/**
 * Where a JetStream queue keeps its ordered groups, in the queue's stream (NATS 2.9 has neither
 * priority groups nor per-message scheduling): each grouped job waits as an index entry
 * `<base>.grp.<group>.<job>.q` (stream order is add order, so the group's head is the first entry
 * under `<base>.grp.<group>.*.q`); `<base>.grp.<group>.turn` says the group has work (one message
 * per group at most, delivered by the `groups` consumer); `<base>.grp.<group>.claim` holds which
 * worker drives the group until when, written by compare-and-set.
 */
export class GroupNames {
  constructor(private readonly base: string) {}

  entry(group: string, id: string): string {
    return `${this.base}.grp.${token(group)}.${token(id)}.q`;
  }

  /** Every entry of one group, oldest first in the stream. */
  entries(group: string): string {
    return `${this.base}.grp.${token(group)}.*.q`;
  }

  /** The entry of job `id`, whatever its group. */
  entryOf(id: string): string {
    return `${this.base}.grp.*.${token(id)}.q`;
  }

  turn(group: string): string {
    return `${this.base}.grp.${token(group)}.turn`;
  }

  /** Every entry of every group: jobs waiting in their groups (and each group's head until it finished). */
  allEntries(): string {
    return `${this.base}.grp.*.*.q`;
  }

  turns(): string {
    return `${this.base}.grp.*.turn`;
  }

  /** @returns the group a turn's subject names */
  groupOfTurn(subject: string): string {
    const t = subject.slice(this.base.length + 5, subject.length - 5);
    return t.startsWith('=') ? Buffer.from(t.slice(1), 'base64url').toString() : t;
  }

  claim(group: string): string {
    return `${this.base}.grp.${token(group)}.claim`;
  }
}

/** What entering a group takes of a queue. */
export interface GroupHost {
  readonly names: { readonly base: string };
  /** Stores a message, confirmed by the broker; true when it was a duplicate. */
  store(subject: string, body: Uint8Array, msgId?: string): Promise<boolean>;
}

/**
 * Puts a job at the end of its group (a new one, or a delayed one now due): its index entry, then
 * the group's turn. @returns whether the entry was a duplicate under `msgId`
 */
export async function enterGroup(
  ctx: GroupHost,
  wire: GroupedWire,
  msgId: string | undefined,
): Promise<boolean> {
  const names = new GroupNames(ctx.names.base);
  const duplicate = await ctx.store(names.entry(wire.r, wire.id), encodeWire(wire), msgId);
  if (!duplicate) await ctx.store(names.turn(wire.r), new Uint8Array(0));
  return duplicate;
}
