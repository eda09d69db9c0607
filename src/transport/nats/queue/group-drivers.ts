import type { Subscription } from '@nats-io/transport-node';
import { uuidv7 } from '../../../events/ids.js';
import type { Pull } from '../toolkit/pull.js';
import type { QueueContext } from './context.js';
import {
  finished,
  GroupClaims,
  groupHead,
  groupNoticeSubject,
  headJob,
  jobKind,
  lookAfter,
  type Claim,
} from './groups.js';
import type { GroupNames } from './group-entry.js';
import { HANDBACK_DELAY_MS, queuePull, type QueueMsg } from './msg.js';
import { GROUPS_CONSUMER } from './provision.js';
import { encodeWire, type JobWire } from './wire.js';

const encoder = new TextEncoder();
const noop = (): void => undefined;
const decoder = new TextDecoder();

/** One group this worker drives: its claim and the turn message it holds meanwhile. */
interface Driver {
  readonly group: string;
  /** Undefined while the claim is being taken. */
  claim: Claim | undefined;
  /** The group's latest turn: a newer one replaces the one held (the stream keeps one per group). */
  turn: QueueMsg;
  /** Another worker took the group over (this one looked silent): stop at once. */
  lost: boolean;
  /** Wakes the wait for the head job: a notice came, which may say how the head finished. */
  wake: ((notice: GroupNotice | undefined) => void) | undefined;
}

/** A group's head finished: its record (`k`) is stored. Sent after the store confirmed it. */
interface GroupNotice {
  readonly g: string;
  readonly id: string;
  readonly k: string;
}

/** @returns the notice in a message; a bare group name (as older workers send) names only the group */
function readNotice(data: Uint8Array): { group: string; notice: GroupNotice | undefined } {
  const text = decoder.decode(data);
  if (!text.startsWith('{')) return { group: text, notice: undefined };
  try {
    const n = JSON.parse(text) as Partial<GroupNotice>;
    if (typeof n.g === 'string' && typeof n.id === 'string' && typeof n.k === 'string')
      return { group: n.g, notice: n as GroupNotice };
  } catch {
    // not one of ours: a wake at most
  }
  return { group: text, notice: undefined };
}

/**
 * A worker's drivers of ordered groups on JetStream. A turn (from the `groups` consumer) makes this
 * worker claim its group and drive it: it puts the group's head job on its priority subject (so any
 * worker runs it, with its retries and backoff), waits until the job's record says it finished, drops
 * the head's entry and goes on with the next, in add order, until the group is empty. The turn stays
 * unacknowledged while the group is driven and the claim is renewed every third of the ack wait:
 * when this worker dies, the turn comes back after the ack wait and another worker, finding the claim
 * lapsed, takes the group over where it stood. No consumer per group: one for all turns.
 */
export class GroupDrivers {
  private readonly claims: GroupClaims;
  private readonly names: GroupNames;
  private readonly driving = new Map<string, Driver>();
  private readonly runs = new Set<Promise<void>>();
  private pull: Pull | undefined;
  private pullStopped: Promise<void> | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  private stopped = false;
  /** Settle notices of grouped jobs, from any worker: they cut a driver's wait short. */
  private notices: Subscription | undefined;

  constructor(
    private readonly ctx: QueueContext,
    /** Groups this worker drives at once. */
    private readonly room: number,
  ) {
    this.claims = new GroupClaims(ctx, uuidv7());
    this.names = this.claims.names;
  }

  /** Starts taking turns (the `groups` consumer comes with the queue: `provision.ts`). */
  async start(): Promise<void> {
    const { jsm, names, options, ackWaitMs } = this.ctx;
    if (
      !options.provision &&
      !(await jsm.consumers.info(names.stream, GROUPS_CONSUMER).catch(() => undefined))
    ) {
      this.ctx.logger.info('no groups consumer (not provisioned): this worker drives no ordered groups');
      return;
    }
    if (this.stopped) return;
    this.notices = this.ctx.nc.subscribe(groupNoticeSubject(this.ctx), {
      callback: (_err, msg) => {
        const { group, notice } = readNotice(msg.data);
        this.driving.get(group)?.wake?.(notice);
      },
    });
    const receive = (m: QueueMsg): void => this.receive(m);
    this.pull = queuePull(
      this.ctx,
      GROUPS_CONSUMER,
      () => this.room,
      () => this.driving.size,
      receive,
    );
    this.pull.pull();
    this.heartbeat = setInterval(() => this.beat(), Math.max(50, Math.floor(ackWaitMs / 3)));
    this.heartbeat.unref();
  }

  private receive(m: QueueMsg): void {
    if (this.stopped) return m.nak(HANDBACK_DELAY_MS);
    const group = this.names.groupOfTurn(m.subject);
    const driver = this.driving.get(group);
    // A new turn of a group driven (or being claimed) here replaced the one held: hold this one instead.
    if (driver) driver.turn = m;
    else {
      const d: Driver = { group, claim: undefined, turn: m, lost: false, wake: undefined };
      this.driving.set(group, d);
      this.track(this.claim(d).finally(() => this.driving.delete(group)));
    }
  }

  private track(run: Promise<void>): void {
    this.runs.add(run);
    void run.finally(() => {
      this.runs.delete(run);
      this.pull?.pull();
    });
  }

  private async claim(d: Driver): Promise<void> {
    try {
      const claim = await this.claims.take(d.group);
      // Driven elsewhere: the turn comes back once that claim would lapse, in case its driver died.
      if (typeof claim === 'number') return d.turn.nak(claim + 100);
      d.claim = claim;
      if (this.stopped) return await this.handBack(d);
      await this.drive(d, claim);
    } catch (err) {
      this.ctx.logger.warn({ err, group: d.group }, 'could not drive an ordered group; its turn comes back');
      d.turn.nak(1_000);
    }
  }

  private async drive(d: Driver, claim: Claim): Promise<void> {
    const { ctx } = this;
    // The first head may have run before (a group taken over); the ones after it are new.
    let fresh = false;
    let head = await groupHead(ctx, this.names, d.group);
    while (head) {
      await this.runHead(d, headJob(head), head.seq, fresh);
      if (d.lost) return;
      if (this.stopped) return this.handBack(d);
      const dropped = ctx.jsm.streams.deleteMessage(ctx.names.stream, head.seq, false);
      ctx.track(dropped.then(noop, noop));
      // Read once the head finished, past it (no wait on its entry's removal): a job removed or
      // cancelled while it waited has no entry left.
      head = await groupHead(ctx, this.names, d.group, head.seq + 1);
      fresh = true;
    }
    await this.claims.release(d.group, claim);
    d.turn.ack();
    // A job added while the group was being given up finds no driver: wake one.
    if (await groupHead(ctx, this.names, d.group))
      await ctx.store(this.names.turn(d.group), new Uint8Array(0));
  }

  /** Puts the head job on its priority subject unless it already ran, and waits until it finished. */
  private async runHead(d: Driver, job: JobWire, seq: number, fresh: boolean): Promise<void> {
    const { ctx } = this;
    let kind = fresh ? undefined : await jobKind(ctx, job.id);
    if (kind === undefined) {
      const msgId = `grp:${job.id}:${seq}`;
      await ctx.store(ctx.names.subject(job.id, job.p), encodeWire(job), msgId);
      kind = job.p;
    }
    // A job without a record once it was put out was removed: the group goes on.
    for (let i = 0; kind !== undefined && !finished(kind); i++) {
      const woken = await this.pause(d, lookAfter(i));
      if (d.lost || this.stopped) return;
      // A notice that the head's final record is stored saves the look; notices are not durable,
      // so the looks go on meanwhile, and any other wake starts them over from the shortest wait.
      if (woken?.notice?.id === job.id && finished(woken.notice.k)) return;
      if (woken) i = 0;
      kind = await jobKind(ctx, job.id);
    }
  }

  /** @returns after `ms` (undefined), or sooner with the notice that woke it */
  private pause(d: Driver, ms: number): Promise<{ notice: GroupNotice | undefined } | undefined> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        d.wake = undefined;
        resolve(undefined);
      }, ms);
      d.wake = (notice) => {
        clearTimeout(timer);
        d.wake = undefined;
        resolve({ notice });
      };
    });
  }

  /**
   * A grouped job's final record (`kind`) is stored in this worker: tells every driver of its group,
   * wherever it runs, which then goes on without looking.
   */
  settled(group: string, id: string, kind: string): void {
    try {
      const notice: GroupNotice = { g: group, id, k: kind };
      this.ctx.nc.publish(groupNoticeSubject(this.ctx), encoder.encode(JSON.stringify(notice)));
    } catch (err) {
      this.ctx.logger.debug({ err, group }, 'could not send a group settle notice');
    }
  }

  /**
   * Gives the group up as this worker stops: the claim goes, and a fresh turn (once this worker's
   * pull is gone, so that it cannot come back here) wakes another worker at once.
   */
  private async handBack(d: Driver): Promise<void> {
    if (d.claim) await this.claims.release(d.group, d.claim).catch(() => undefined);
    await this.pullStopped;
    d.turn.ack();
    await this.ctx.store(this.names.turn(d.group), new Uint8Array(0)).catch((err: unknown) => {
      this.ctx.logger.warn(
        { err, group: d.group },
        'could not hand a group on; it waits for its claim to lapse',
      );
    });
  }

  /** Keeps every held turn and claim alive; a claim that cannot be renewed was taken over. */
  private beat(): void {
    for (const d of this.driving.values()) {
      d.turn.working();
      if (!d.claim) continue;
      void this.claims.renew(d.group, d.claim).then(
        (held) => {
          if (!held) d.lost = true;
        },
        (err: unknown) => this.ctx.logger.debug({ err, group: d.group }, 'could not renew a group claim'),
      );
    }
  }

  /** Stops taking turns; groups being driven are handed back (their head jobs run on). Idempotent. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearInterval(this.heartbeat);
    this.notices?.unsubscribe();
    for (const d of this.driving.values()) d.wake?.(undefined);
    this.pullStopped = this.pull?.stop();
    await this.pullStopped;
    await Promise.all([...this.runs]);
    this.claims.close();
  }
}
