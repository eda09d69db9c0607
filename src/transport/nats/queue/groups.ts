import type { StoredMsg } from '@nats-io/jetstream';
import type { NewJob } from '../../../queue/store.js';
import { JetStreamRefusedError, PubAckPublisher } from '../toolkit/pub-ack.js';
import { WireHeader } from '../toolkit/wire.js';
import { lastMessage } from './last-message.js';
import { enterGroup, GroupNames, type GroupedWire } from './group-entry.js';
import type { QueueContext } from './context.js';
import { cancelledWire, decodeWire, FINISHED_KINDS, JobKind, jobWire, type JobWire } from './wire.js';

/** How often a driver looks at its head job's state: from the first, doubling up to the last. */
const LOOK_MS = [2, 4, 8, 16, 32, 64, 128, 250] as const;

/** A claim lost to a concurrent one is looked at again after this. */
const CLAIM_RACE_MS = 250;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * Adds a grouped job: its index entry, then its group's turn (a hint that wakes a driver).
 * @returns whether the entry was a duplicate
 */
export function addGrouped(ctx: QueueContext, job: NewJob & { group: string }): Promise<boolean> {
  return enterGroup(ctx, { ...jobWire(job), r: job.group }, job.dedup ? `add:${job.id}` : undefined);
}

/** @returns a grouped job still waiting for its turn (its index entry, before it first ran), if any */
export async function waitingInGroup(ctx: QueueContext, id: string): Promise<JobWire | undefined> {
  const entry = await lastMessage(ctx, new GroupNames(ctx.names.base).entryOf(id));
  return entry ? headJob(entry) : undefined;
}

/**
 * Removes a grouped job that has not run yet (it has no record, only its entry): its group goes on
 * without it. @returns false when it has run (a record exists) or is not known
 */
export async function removeWaitingInGroup(ctx: QueueContext, id: string): Promise<boolean> {
  const entry = await lastMessage(ctx, new GroupNames(ctx.names.base).entryOf(id));
  if (!entry || (await jobKind(ctx, id)) !== undefined) return false;
  return ctx.jsm.streams.deleteMessage(ctx.names.stream, entry.seq, false);
}

/**
 * Ends a grouped job that has not run yet `cancelled`: its record first, then its entry goes.
 * @returns false when it has run (a record exists) or is not known
 */
export async function cancelWaitingInGroup(ctx: QueueContext, id: string): Promise<boolean> {
  const entry = await lastMessage(ctx, new GroupNames(ctx.names.base).entryOf(id));
  if (!entry || (await jobKind(ctx, id)) !== undefined) return false;
  const job = headJob(entry);
  const body = cancelledWire(job, entry.seq, job.a);
  await ctx.store(ctx.names.subject(id, JobKind.cancelled), body, `cancel:${id}:${entry.seq}`);
  await ctx.jsm.streams.deleteMessage(ctx.names.stream, entry.seq, false).catch(() => false);
  return true;
}

/** A group's claim as stored. */
interface ClaimWire {
  readonly owner: string;
  /** Epoch ms after which another worker may take the group over; 0 when released. */
  readonly until: number;
}

/** A claim this worker holds: the subject sequence its next compare-and-set expects. */
export interface Claim {
  seq: number;
}

/**
 * A group's claim: one worker drives a group at a time, and a crashed driver's claim lapses after
 * the queue's ack wait. Claims are compare-and-set writes on the group's claim subject.
 */
export class GroupClaims {
  private readonly pub: PubAckPublisher;
  readonly names: GroupNames;

  constructor(
    private readonly ctx: QueueContext,
    private readonly owner: string,
  ) {
    this.pub = new PubAckPublisher(ctx.nc, ctx.options.requestTimeoutMs);
    this.names = new GroupNames(ctx.names.base);
  }

  /** @returns the claim when this worker took the group, or ms until the current holder's claim lapses */
  async take(group: string): Promise<Claim | number> {
    const last = await lastMessage(this.ctx, this.names.claim(group));
    const held = last ? (JSON.parse(decoder.decode(last.data)) as ClaimWire) : undefined;
    const now = Date.now();
    if (held && held.until > now && held.owner !== this.owner) return held.until - now;
    const seq = await this.write(group, last?.seq ?? 0, now + this.ctx.ackWaitMs);
    // Another worker claimed it a moment ago: ask again shortly, to learn until when.
    return seq === undefined ? CLAIM_RACE_MS : { seq };
  }

  /** Extends the claim. @returns false when it was lost (another worker took the group over) */
  async renew(group: string, claim: Claim): Promise<boolean> {
    const seq = await this.write(group, claim.seq, Date.now() + this.ctx.ackWaitMs);
    if (seq === undefined) return false;
    claim.seq = seq;
    return true;
  }

  /** Gives the group up, when the claim is still this worker's (a renewal may have just moved it on). */
  async release(group: string, _claim: Claim): Promise<void> {
    const last = await lastMessage(this.ctx, this.names.claim(group));
    const held = last && (JSON.parse(decoder.decode(last.data)) as ClaimWire);
    if (last && held && held.owner === this.owner) await this.write(group, last.seq, 0);
  }

  /** @returns the new subject sequence, or undefined when the claim changed meanwhile */
  private async write(group: string, expected: number, until: number): Promise<number | undefined> {
    const body = encoder.encode(JSON.stringify({ owner: this.owner, until } satisfies ClaimWire));
    try {
      const headers = { [WireHeader.expectedLastSubjectSeq]: String(expected) };
      return (await this.pub.publish(this.names.claim(group), body, headers)).seq;
    } catch (err) {
      if (err instanceof JetStreamRefusedError) return undefined;
      throw err;
    }
  }

  close(): void {
    this.pub.close();
  }
}

/** @returns the group's head entry (its oldest from stream sequence `after` on), or null when there is none */
export function groupHead(
  ctx: QueueContext,
  names: GroupNames,
  group: string,
  after = 0,
): Promise<StoredMsg | null> {
  // `next_by_subj` is in the server's message-get API since 2.9; the client's type only lists the others.
  const query = { seq: after, next_by_subj: names.entries(group) } as unknown as { seq: number };
  return ctx.jsm.streams.getMessage(ctx.names.stream, query);
}

/** @returns the job's current record kind, or undefined when it has none yet (not yet run) */
export async function jobKind(ctx: QueueContext, id: string): Promise<string | undefined> {
  const last = await lastMessage(ctx, ctx.names.job(id));
  return last ? ctx.names.kindOf(last.subject) : undefined;
}

/** @returns whether a record kind means the job left the live path */
export function finished(kind: string | undefined): boolean {
  return FINISHED_KINDS.includes(kind as (typeof FINISHED_KINDS)[number]);
}

/** @returns the job of a head entry, to run on its priority subject (its group kept, for the finish notice) */
export function headJob(entry: StoredMsg): GroupedWire {
  return decodeWire<GroupedWire>(entry.data);
}

/** @returns the group of a job record that came from an ordered group, if it did */
export function groupOf(job: JobWire): string | undefined {
  const r = (job as Partial<GroupedWire>).r;
  return typeof r === 'string' ? r : undefined;
}

/** @returns the core subject (outside the queue's stream) that says a group's head job settled */
export function groupNoticeSubject(ctx: QueueContext): string {
  const queueToken = ctx.names.base.slice(ctx.names.base.lastIndexOf('.') + 1);
  return `${ctx.options.prefix}.qgroup.${queueToken}`;
}

/** Waits between looks at a head job: `LOOK_MS[i]`, then the last. */
export function lookAfter(i: number): number {
  return LOOK_MS[Math.min(i, LOOK_MS.length - 1)]!;
}
