import type { ChildrenResults, FlowChildrenInfo, JobError, JobOptions } from './types.js';

export type { ChildrenResults, FlowChildrenInfo };

/**
 * One child of a flow: a job in any queue of the same transport. A child with `children` of its
 * own is the parent of a flow nested in this one: it waits for them (`waiting-children`), runs
 * with their results, and only then counts as a child of its own parent.
 */
export interface FlowChild<D = unknown> {
  /** The queue the child goes to (any queue on the runtime's transport, this one included). */
  readonly queue: string;
  readonly name: string;
  readonly data: D;
  /**
   * The child's options (`ignoreChildFailure` for its own children). Its `jobId` defaults to
   * `<parentId>:<index>` (its place in `children`), so that adding the same flow again stores
   * nothing twice.
   */
  readonly opts?: JobOptions & FlowOptions;
  /** Its own children, at most {@link MAX_FLOW_CHILDREN}; nesting at most {@link MAX_FLOW_DEPTH} deep. */
  readonly children?: readonly FlowChild[];
}

/** Options of a flow as a whole. */
export interface FlowOptions {
  /**
   * The parent runs even when a child died (or was cancelled): `job.childrenResults()` then leaves
   * that child out, and `getJob` counts it in `children.failed`. Without it, the first child that
   * dies fails the parent (`dead`, with the reason) without running it.
   * @default false
   */
  readonly ignoreChildFailure?: boolean;
}

/** What `queue.addFlow` takes: the parent (a job of this queue) and its children. */
export interface FlowJob<D = unknown> {
  readonly name: string;
  readonly data: D;
  /**
   * The parent's options. Give a `jobId` to make a retried `addFlow` (after a crash midway) safe:
   * the flow record, the children and the parent are all keyed by it. @default a fresh UUID v7
   */
  readonly opts?: JobOptions & FlowOptions;
  /** At least one, at most {@link MAX_FLOW_CHILDREN}. */
  readonly children: readonly FlowChild[];
}

/** Children a flow (or a nested flow) may have; they and their results share one record. */
export const MAX_FLOW_CHILDREN = 1_000;
/** Levels of children under a flow's parent: children, their children, … */
export const MAX_FLOW_DEPTH = 8;
/** Jobs in one flow, its parent and every nested child counted. */
export const MAX_FLOW_JOBS = 10_000;

/** A child as `addFlow` stored it, with its own children when it has some. */
export interface AddedFlowChild {
  readonly queue: string;
  readonly id: string;
  readonly children?: readonly AddedFlowChild[];
}

/** What `addFlow` resolves with. */
export interface AddedFlow {
  /** The parent's job id (in this queue); `getJob(id)` shows it `waiting-children` until released. */
  readonly id: string;
  /** The children as `{ queue, id, children? }`, in the order given. */
  readonly children: readonly AddedFlowChild[];
  /** True when a flow with this parent id was already known: nothing new was stored. */
  readonly duplicate?: boolean;
}

/**
 * How a job takes part in a flow, carried with the job by the store. Opaque to stores.
 * @internal
 */
export interface JobFlowLink {
  /** This job is a child: its outcome is recorded toward this parent before its lease settles. */
  readonly parent?: { readonly queue: string; readonly id: string };
  /**
   * This job is a parent released by its children: with their `results`, or `failed` when one
   * died and failures count. The results travel with the parent, so it needs its flow's record no more.
   */
  readonly released?: { readonly failed?: JobError; readonly results?: ChildrenResults };
}
