import { MissingStreamError } from '../errors.js';
import { KvConflictError, type KeyValueStore } from '../transport/key-value.js';
import type { Transport } from '../transport/transport.js';
import type { FlowChildrenInfo } from './flow-types.js';
import type { NewJob } from './store.js';
import type { JobError } from './types.js';

/** Compare-and-set tries before a flow step gives up (children finishing together retry). */
const CAS_TRIES = 100;
/** Flows whose latest record this process remembers. */
const KNOWN_MAX = 10_000;
/**
 * The largest flow record, as JSON, on every transport: one message on NATS (whose default
 * `max_payload` is 1 MiB), with room for headers. The parent travels with its children's results
 * too, so this also bounds the parent's message.
 */
export const MAX_FLOW_RECORD_BYTES = 1_000_000;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * One flow as the transport's key-value store keeps it, under `<queue>.<parentId>` in the
 * `<prefix>_flows` bucket: the parent as it will be added, and what each child left.
 */
export interface FlowRecord {
  readonly v: 1;
  /** The parent's queue. */
  readonly queue: string;
  /** The parent job, added to `queue` (deduplicated by its id) once the flow is released. */
  readonly parent: NewJob;
  readonly ignoreChildFailure: boolean;
  /** Every child as `<queue>/<id>`, in the order given. */
  readonly children: readonly string[];
  /** Children that have not yet completed or failed. */
  readonly pending: readonly string[];
  /** Completed children's results. */
  readonly results: Readonly<Record<string, unknown>>;
  /** Dead or cancelled children's errors, in the order they failed. */
  readonly failed: Readonly<Record<string, JobError>>;
}

/** What a child left: its result, or the error it died with. */
export type ChildOutcome = { readonly result: unknown } | { readonly error: JobError };

/** @returns the bucket that holds the flows of every queue under a transport's namespace */
export function flowsBucket(transport: Transport): string {
  return `${(transport.namespace ?? 'bulwark').replace(/[^A-Za-z0-9_-]/g, '_')}_flows`;
}

/** @returns the key of a flow; a name or id that is not a key token is encoded, never merged */
export function flowKey(queue: string, parentId: string): string {
  return `${token(queue)}.${token(parentId)}`;
}

function token(s: string): string {
  return /^[A-Za-z0-9_-]+$/.test(s) ? s : `=${Buffer.from(s).toString('base64url')}`;
}

/** @returns whether the parent may be added now: every child finished, or one failed and failures count */
export function isReleased(rec: FlowRecord): boolean {
  return rec.pending.length === 0 || (!rec.ignoreChildFailure && Object.keys(rec.failed).length > 0);
}

/** @returns the first child failure that fails the parent, if any */
export function parentFailure(rec: FlowRecord): JobError | undefined {
  if (rec.ignoreChildFailure) return undefined;
  const [child, error] = Object.entries(rec.failed)[0] ?? [];
  if (!child || !error) return undefined;
  return { name: 'ChildFailedError', message: `child ${child} ${failedVerb(error)}: ${error.message}` };
}

function failedVerb(error: JobError): string {
  if (error.name === 'CancelledError') return 'was cancelled';
  if (error.name === 'ResultTooLargeError') return 'completed, but its result could not be kept';
  return error.name === 'RemovedError' ? 'was removed' : 'died';
}

/** @returns how many of the parent's children are pending and failed */
export function childrenInfo(rec: FlowRecord): FlowChildrenInfo {
  return {
    total: rec.children.length,
    pending: rec.pending.length,
    failed: Object.keys(rec.failed).length,
  };
}

/**
 * The flows of a transport, in its key-value store. Every step is idempotent, so that a worker that
 * crashes between steps repeats them harmlessly: a child's outcome is recorded once (a second
 * record of the same child changes nothing), and concurrent records of two children are ordered by
 * compare-and-set.
 */
export class FlowStore {
  private kv: Promise<KeyValueStore> | undefined;
  private readonly lanes = new Map<string, Lane>();
  /**
   * Flows as this process last wrote them: the next write tries their revision without reading
   * first. A stale one (another process wrote since) only costs a conflict and a read.
   */
  private readonly known = new Map<string, Known>();

  constructor(private readonly transport: Transport) {}

  /**
   * Stores a new flow; a flow already stored under its key is kept as it is (a retried `addFlow`).
   * @returns the stored record and whether it was already there
   */
  async create(key: string, rec: FlowRecord): Promise<{ record: FlowRecord; existed: boolean }> {
    const kv = await this.bucket();
    try {
      this.remember(key, rec, await kv.create(key, encode(rec)));
      return { record: rec, existed: false };
    } catch (err) {
      if (!(err instanceof KvConflictError)) throw err;
      const existing = await this.get(key);
      if (!existing) throw err;
      return { record: existing, existed: true };
    }
  }

  /** @returns the flow, or undefined when it is not (or no longer) stored */
  async get(key: string): Promise<FlowRecord | undefined> {
    const kv = await this.bucket(false);
    const entry = await kv?.get(key);
    return entry?.operation === 'PUT' ? decode(entry.value) : undefined;
  }

  /**
   * Records what child `child` left, once: by compare-and-set, so that two children finishing at
   * the same instant in two processes are both counted. Children of one flow settling in this
   * process at once share a write.
   * @returns the record after the step; undefined when the flow is not stored
   * @throws {KvConflictError} when the record kept changing for {@link CAS_TRIES} tries
   */
  settle(key: string, child: string, outcome: ChildOutcome): Promise<FlowRecord | undefined> {
    return new Promise((resolve, reject) => {
      let lane = this.lanes.get(key);
      if (!lane) this.lanes.set(key, (lane = { queued: [], running: false }));
      lane.queued.push({ child, outcome, resolve, reject });
      if (lane.running) return;
      lane.running = true;
      // Children that settle in this event-loop turn (a worker's batch) share the first write.
      setImmediate(() => void this.drain(key, lane));
    });
  }

  /** Writes the lane's queued outcomes, a batch per write, until none is left. */
  private async drain(key: string, lane: Lane): Promise<void> {
    while (lane.queued.length > 0) {
      const batch = lane.queued.splice(0);
      try {
        const rec = await this.write(key, batch);
        for (const step of batch) step.resolve(rec);
      } catch (err) {
        this.known.delete(key);
        for (const step of batch) step.reject(err);
      }
    }
    this.lanes.delete(key);
  }

  private async write(key: string, batch: readonly Step[]): Promise<FlowRecord | undefined> {
    const kv = await this.bucket();
    for (let i = 0; i < CAS_TRIES; i++) {
      const cached = this.known.get(key);
      const cur = cached ?? (await read(kv, key));
      if (!cur) return undefined;
      const { next, body } = fitted(cur.rec, batch);
      if (next === cur.rec) return next;
      try {
        this.remember(key, next, await kv.update(key, body, cur.revision));
        return next;
      } catch (err) {
        if (!(err instanceof KvConflictError)) throw err;
        this.known.delete(key);
        if (!cached) await jitter(i);
      }
    }
    throw new KvConflictError(key, `flow "${key}" kept changing; its children were not recorded`);
  }

  /** Keeps the flow's latest record while children may still write it, within {@link KNOWN_MAX}. */
  private remember(key: string, rec: FlowRecord, revision: number): void {
    this.known.delete(key);
    if (rec.pending.length === 0) return;
    this.known.set(key, { rec, revision });
    if (this.known.size > KNOWN_MAX) this.known.delete(this.known.keys().next().value!);
  }

  /** Removes a flow whose parent finished. Idempotent. */
  async remove(key: string): Promise<void> {
    this.known.delete(key);
    const kv = await this.bucket(false);
    await kv?.delete(key);
  }

  /**
   * Opens the bucket: created when missing on a transport that provisions. Opened without
   * `create`, a missing bucket is undefined (nothing is stored) and is looked up again next time.
   */
  private async bucket(create: false): Promise<KeyValueStore | undefined>;
  private async bucket(): Promise<KeyValueStore>;
  private async bucket(create?: false): Promise<KeyValueStore | undefined> {
    if (this.kv) return this.kv;
    const t = this.transport;
    if (create === false) {
      const kv = await t.keyValue(flowsBucket(t), { create: false }).catch((err: unknown) => {
        if (err instanceof MissingStreamError) return undefined;
        throw err;
      });
      if (kv) this.kv ??= Promise.resolve(kv);
      return kv;
    }
    const opening = t.keyValue(flowsBucket(t));
    // A bucket that did not open is opened again by the next step.
    opening.catch(() => this.kv === opening && (this.kv = undefined));
    return (this.kv = opening);
  }
}

/** One child's outcome waiting for its write. */
interface Step {
  readonly child: string;
  readonly outcome: ChildOutcome;
  resolve(rec: FlowRecord | undefined): void;
  reject(err: unknown): void;
}

/** The outcomes of one flow's children settling in this process, written one batch at a time. */
interface Lane {
  queued: Step[];
  running: boolean;
}

/** A flow's record at a revision. */
interface Known {
  readonly rec: FlowRecord;
  readonly revision: number;
}

async function read(kv: KeyValueStore, key: string): Promise<Known | undefined> {
  const entry = await kv.get(key);
  return entry?.operation === 'PUT' ? { rec: decode(entry.value), revision: entry.revision } : undefined;
}

/** @returns `rec` with the child's outcome; `rec` itself when the child was already recorded */
function withOutcome(rec: FlowRecord, child: string, outcome: ChildOutcome): FlowRecord {
  if (!rec.pending.includes(child)) return rec;
  const pending = rec.pending.filter((c) => c !== child);
  if ('error' in outcome) return { ...rec, pending, failed: { ...rec.failed, [child]: outcome.error } };
  return { ...rec, pending, results: { ...rec.results, [child]: outcome.result } };
}

/**
 * @returns the record with the batch's outcomes, and its bytes. Results that would make it larger
 * than {@link MAX_FLOW_RECORD_BYTES} (the largest first) are recorded as the child's failure
 * instead: a record that cannot be stored would send the child back to run again and again.
 */
function fitted(rec: FlowRecord, batch: readonly Step[]): { next: FlowRecord; body: Uint8Array } {
  const apply = (steps: readonly Step[]): FlowRecord =>
    steps.reduce((r, step) => withOutcome(r, step.child, step.outcome), rec);
  let next = apply(batch);
  let body = encode(next);
  if (body.length <= MAX_FLOW_RECORD_BYTES) return { next, body };
  const steps = [...batch];
  const bySize = steps
    .map((step, i) => ({ i, bytes: 'result' in step.outcome ? resultBytes(step.outcome.result) : 0 }))
    .filter((r) => r.bytes > 0)
    .sort((x, y) => y.bytes - x.bytes);
  for (const { i, bytes } of bySize) {
    const step = steps[i]!;
    steps[i] = { ...step, outcome: { error: tooLarge(step.child, bytes) } };
    next = apply(steps);
    body = encode(next);
    if (body.length <= MAX_FLOW_RECORD_BYTES) return { next, body };
  }
  return { next, body };
}

function resultBytes(result: unknown): number {
  const json = JSON.stringify(result) as string | undefined;
  return json === undefined ? 0 : Buffer.byteLength(json);
}

function tooLarge(child: string, bytes: number): JobError {
  return {
    name: 'ResultTooLargeError',
    message: `the result of ${child} (${bytes} bytes as JSON) does not fit its flow's record (${MAX_FLOW_RECORD_BYTES} bytes with every other result)`,
  };
}

/** Spreads children that collided apart: a short random wait that grows with the tries. */
function jitter(attempt: number): Promise<void> {
  const ms = Math.random() * Math.min(50, 2 + attempt * 2);
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function encode(rec: FlowRecord): Uint8Array {
  return encoder.encode(JSON.stringify(rec));
}

function decode(bytes: Uint8Array): FlowRecord {
  return JSON.parse(decoder.decode(bytes)) as FlowRecord;
}
