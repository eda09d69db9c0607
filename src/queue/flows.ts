import { ValidationError } from '../errors.js';
import type { Logger } from '../logging.js';
import type { Transport } from '../transport/transport.js';
import {
  childrenInfo,
  FlowStore,
  flowKey,
  isReleased,
  MAX_FLOW_RECORD_BYTES,
  parentFailure,
  type ChildOutcome,
  type FlowRecord,
} from './flow-store.js';
import {
  MAX_FLOW_CHILDREN,
  MAX_FLOW_DEPTH,
  MAX_FLOW_JOBS,
  type AddedFlow,
  type AddedFlowChild,
  type FlowChild,
  type FlowJob,
  type FlowOptions,
} from './flow-types.js';
import { ChildLease, ParentLease, type FlowSteps } from './flow-leases.js';
import { newJob } from './options.js';
import { uuidv7 } from '../events/ids.js';
import type { JobLease, NewJob } from './store.js';
import type { AddedJob, JobError, JobInfo } from './types.js';

/** What a queue's flows borrow from it. */
export interface FlowHost {
  /** The queue's name. */
  readonly queue: string;
  readonly transport: Transport;
  readonly logger: Logger;
  /** Stores jobs in the queue `name` of the same runtime (this one or another). */
  add(queue: string, jobs: readonly NewJob[]): Promise<AddedJob[]>;
  /** A parent this queue's worker ended `dead` without running it: a child died. */
  onDead(info: JobInfo): void;
}

/** One flow store per transport: its bucket is opened once. */
const stores = new WeakMap<Transport, FlowStore>();

/**
 * A queue's side of job flows: `addFlow`, the `waiting-children` state of its parents, and the
 * leases of its children (whose outcomes go to their parent's record before the lease settles) and
 * of its released parents. The record lives in the transport's key-value store (see `flow-store.ts`).
 */
export class Flows implements FlowSteps {
  private readonly store: FlowStore;
  /** Parents being added, by flow key. */
  private readonly releasing = new Map<string, Promise<void>>();

  constructor(private readonly host: FlowHost) {
    let store = stores.get(host.transport);
    if (!store) stores.set(host.transport, (store = new FlowStore(host.transport)));
    this.store = store;
  }

  /**
   * Stores the flow record, then the children; the parent follows once they finished. A nested
   * flow is stored the same way once its own parent's record is: its record, then its children.
   * Every id is deterministic given the parent's, so a retry after a crash midway stores nothing twice.
   * @throws {ValidationError} for a flow without children, a bad option, or data that is not JSON
   */
  async add(flow: FlowJob): Promise<AddedFlow> {
    const built = buildFlow(this.host.queue, flow);
    const existed = await this.storeFlow(built);
    return { id: built.parent.id, children: addedChildren(built), ...(existed && { duplicate: true }) };
  }

  /** Stores one flow's record, then its children still pending: jobs, and nested flows. @returns whether it existed */
  private async storeFlow(flow: BuiltFlow): Promise<boolean> {
    const { record: stored, existed } = await this.store.create(flow.key, flow.record);
    // A retry adds again only the children its flow still waits for (the others may be swept).
    const pending = new Set(stored.pending);
    const byQueue = new Map<string, NewJob[]>();
    const nested: BuiltFlow[] = [];
    for (const c of flow.children) {
      if (!pending.has(`${c.queue}/${c.job.id}`)) continue;
      if (c.flow) nested.push(c.flow);
      else {
        const jobs = byQueue.get(c.queue);
        if (jobs) jobs.push(c.job);
        else byQueue.set(c.queue, [c.job]);
      }
    }
    await Promise.all([
      ...[...byQueue].map(([queue, jobs]) => this.host.add(queue, jobs)),
      ...nested.map((n) => this.storeFlow(n)),
    ]);
    // A retry of a flow whose children all finished meanwhile: the parent may not have been added.
    if (existed && isReleased(stored)) await this.release(stored);
    return existed;
  }

  /** @returns the parent `id` of this queue while it waits for its children; undefined when none */
  async waiting(id: string): Promise<JobInfo | undefined> {
    const rec = await this.store.get(flowKey(this.host.queue, id));
    if (!rec) return undefined;
    const p = rec.parent;
    return {
      id,
      name: p.name,
      data: p.data,
      state: 'waiting-children',
      priority: p.priority,
      attempts: 0,
      children: childrenInfo(rec),
      // A nested flow's parent is a child of the flow above it.
      ...(p.flow?.parent && { parent: p.flow.parent }),
    };
  }

  /**
   * Hands `lease` on to `next`, wrapped when its job takes part in a flow; a parent whose child
   * died (and failures count) ends `dead` here, without a try. Called synchronously by the store.
   */
  take(lease: JobLease, next: (lease: JobLease) => void): void {
    const link = lease.job.flow;
    if (!link) return next(lease);
    let held = lease;
    if (link.parent) {
      const key = flowKey(link.parent.queue, link.parent.id);
      held = new ChildLease(held, this, key, `${this.host.queue}/${lease.job.id}`);
    }
    if (link.released?.failed) return this.failParent(held, link.released.failed);
    if (link.released) held = new ParentLease(held, this, flowKey(this.host.queue, lease.job.id));
    next(held);
  }

  private failParent(lease: JobLease, error: JobError): void {
    const j = lease.job;
    this.host.logger.error({ jobId: j.id, error }, 'flow parent is dead: a child died');
    lease.dead(error, 'handler', j.attemptsMade);
    void this.forget(flowKey(this.host.queue, j.id));
    const { id, name, data, priority } = j;
    this.host.onDead({ id, name, data, state: 'dead', priority, attempts: j.attemptsMade, error });
  }

  async childSettled(key: string, child: string, outcome: ChildOutcome): Promise<void> {
    const rec = await this.store.settle(key, child, outcome).catch((err: unknown) => {
      this.host.logger.warn({ err, flow: key, child }, 'could not record a child; it comes back');
      throw err;
    });
    if (!rec) {
      this.host.logger.warn({ flow: key, child }, 'flow record not found; the child settles alone');
      return;
    }
    if (isReleased(rec)) await this.release(rec);
  }

  /**
   * A child that left while no worker held it (cancelled or removed): its parent hears it as
   * failed, as from a worker. Idempotent, like every step of a flow.
   * @param child - the child as it was just before it left
   */
  async childLeft(child: JobInfo | undefined, error: JobError): Promise<void> {
    if (!child?.parent) return;
    const { queue, id } = child.parent;
    await this.childSettled(flowKey(queue, id), `${this.host.queue}/${child.id}`, { error });
  }

  /**
   * Drops the flow of a parent of this queue that waits for its children: it will not run.
   * Children already added run on, alone. A nested flow's parent is a child of the flow above it:
   * that flow hears it left (as `error`) before its record goes, so a retry tells it again.
   * @returns whether such a parent was waiting
   */
  async dropWaiting(id: string, error: JobError): Promise<boolean> {
    const key = flowKey(this.host.queue, id);
    const rec = await this.store.get(key);
    if (!rec) return false;
    const above = rec.parent.flow?.parent;
    if (above) await this.childSettled(flowKey(above.queue, above.id), `${rec.queue}/${id}`, { error });
    await this.store.remove(key);
    return true;
  }

  async forget(key: string): Promise<void> {
    await this.store.remove(key).catch((err: unknown) => {
      this.host.logger.warn({ err, flow: key }, 'could not remove a finished flow');
    });
  }

  /**
   * Adds the parent, deduplicated by its id: any number of releases add it once. Children that
   * released it together in this process share one add.
   */
  private release(rec: FlowRecord): Promise<void> {
    const key = flowKey(rec.queue, rec.parent.id);
    let adding = this.releasing.get(key);
    if (!adding) {
      const failed = parentFailure(rec);
      // A failed parent keeps the results too: redriven from its dead letter, it runs with them.
      const released = failed ? { failed, results: rec.results } : { results: rec.results };
      // A nested flow's parent is a child of the flow above it: that link stays.
      const parent: NewJob = { ...rec.parent, dedup: true, flow: { ...rec.parent.flow, released } };
      adding = this.host.add(rec.queue, [parent]).then(() => undefined);
      this.releasing.set(key, adding);
      const forget = (): void => void this.releasing.delete(key);
      adding.then(forget, forget);
    }
    return adding;
  }
}

/** A flow as it is stored: its record under `key`, and its children, each a job or a nested flow. */
interface BuiltFlow {
  readonly key: string;
  readonly parent: NewJob;
  readonly children: readonly BuiltChild[];
  readonly record: FlowRecord;
}

/** A child job; `flow` when it is the parent of a nested flow (its job then waits in that flow's record). */
interface BuiltChild {
  readonly queue: string;
  readonly job: NewJob;
  readonly flow?: BuiltFlow;
}

/** What building a flow counts across its levels. */
interface FlowCount {
  jobs: number;
  readonly keys: Set<string>;
}

/**
 * @returns the flow's jobs with their ids (children default to `<parentId>:<index>`, at every
 * level) and the record of it and of every flow nested in it
 * @throws {ValidationError} for a flow (or nested flow) without children, too deep or too large,
 * a bad option, a job named twice, or data that is not JSON
 */
export function buildFlow(queue: string, flow: FlowJob): BuiltFlow {
  const { ignoreChildFailure = false, ...opts } = flow.opts ?? {};
  const parent = newJob(flow.name, flow.data, { ...opts, jobId: opts.jobId ?? uuidv7() });
  const count: FlowCount = { jobs: 1, keys: new Set([`${queue}/${parent.id}`]) };
  return buildLevel(queue, parent, flow.name, flow.children, ignoreChildFailure, 1, count);
}

function buildLevel(
  queue: string,
  parent: NewJob,
  name: string,
  given: readonly FlowChild[] | undefined,
  ignoreChildFailure: boolean,
  depth: number,
  count: FlowCount,
): BuiltFlow {
  const n = Array.isArray(given) ? given.length : 0;
  if (n < 1 || n > MAX_FLOW_CHILDREN)
    throw new ValidationError(`a flow has 1 to ${MAX_FLOW_CHILDREN} children; "${name}" has ${n}`);
  if (depth > MAX_FLOW_DEPTH)
    throw new ValidationError(`flow "${name}" nests children more than ${MAX_FLOW_DEPTH} levels deep`);
  count.jobs += n;
  if (count.jobs > MAX_FLOW_JOBS)
    throw new ValidationError(`a flow holds at most ${MAX_FLOW_JOBS} jobs, nested children counted`);
  const link = { parent: { queue, id: parent.id } };
  const children = given!.map((c, i): BuiltChild => {
    if (typeof c?.queue !== 'string' || c.queue === '')
      throw new ValidationError(`child ${i} of flow "${name}" names no queue`);
    const { ignoreChildFailure: ignore = false, ...opts }: FlowChild['opts'] & FlowOptions = c.opts ?? {};
    const job = {
      ...newJob(c.name, c.data, { ...opts, jobId: opts.jobId ?? `${parent.id}:${i}` }),
      flow: link,
    };
    const key = `${c.queue}/${job.id}`;
    if (count.keys.has(key)) throw new ValidationError(`flow "${name}" names ${key} twice`);
    count.keys.add(key);
    if (c.children === undefined) return { queue: c.queue, job };
    return {
      queue: c.queue,
      job,
      flow: buildLevel(c.queue, job, c.name, c.children, ignore, depth + 1, count),
    };
  });
  const keys = children.map((c) => `${c.queue}/${c.job.id}`);
  const record: FlowRecord = {
    v: 1,
    queue,
    parent,
    ignoreChildFailure,
    children: keys,
    pending: keys,
    results: {},
    failed: {},
  };
  const bytes = jsonBytes(
    name,
    record,
    children.map((c) => c.job),
  );
  if (bytes > MAX_FLOW_RECORD_BYTES)
    throw new ValidationError(
      `flow "${name}" is ${bytes} bytes as JSON, over the ${MAX_FLOW_RECORD_BYTES} its record may hold`,
    );
  return { key: flowKey(queue, parent.id), parent, children, record };
}

/** @returns a flow's children as `addFlow` reports them, nested ones with theirs */
function addedChildren(flow: BuiltFlow): AddedFlowChild[] {
  return flow.children.map((c) => ({
    queue: c.queue,
    id: c.job.id,
    ...(c.flow && { children: addedChildren(c.flow) }),
  }));
}

/**
 * The record and the children's data are stored as JSON: what JSON cannot hold is refused here.
 * @returns the record's size as JSON, in bytes
 */
function jsonBytes(name: string, record: FlowRecord, children: unknown): number {
  try {
    JSON.stringify(children);
    return Buffer.byteLength(JSON.stringify(record));
  } catch (cause) {
    throw new ValidationError(`flow "${name}" holds data that is not JSON`, [], { cause });
  }
}
