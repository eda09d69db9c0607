import type { Backoff } from '../../retry/backoff.js';
import type { ActorGroupNotice } from '../../machines/actor-group.machine.js';
import type { ChildFailure } from '../../machines/restart-policy.machine.js';
import type { ActorGroup } from '../groups/actor-group.js';

/** How a supervised child is restarted when it fails. */
export interface RestartPolicy {
  /** Failures tolerated within `withinMs`; one more and the child is failed for good. @default 5 */
  maxRestarts?: number;
  /** The sliding window failures are counted in. @default 60_000 */
  withinMs?: number;
  /** Delay before the `n`-th restart within the window. @default exponential({ initialMs: 100, maxMs: 10_000, jitter: 'equal' }) */
  backoff?: Backoff;
}

/**
 * A supervised child's life as the supervisor sees it: `running`, `restarting` (failed, waiting
 * out the backoff), `failed` (given up on), `done` (reached a final state) or `stopped`.
 */
export type ChildStatus = 'running' | 'restarting' | 'failed' | 'done' | 'stopped';

/** One child in `rt.health.report().actors`. */
export interface ActorReport {
  readonly status: ChildStatus;
  readonly restarts: number;
  /** The child's own state where it has a meaningful one (a subscriber's `consuming`, `backingOff`, …). */
  readonly state?: string;
  readonly kind: string;
  readonly lastError?: ChildFailure;
}

/** What the supervisor tells its listeners (health, metrics, alerts). */
export type SupervisorNotice =
  | { readonly type: 'restarted'; readonly id: string; readonly kind: string; readonly restarts: number }
  | {
      readonly type: 'failed';
      readonly id: string;
      readonly kind: string;
      readonly error: ChildFailure | undefined;
    };

/** A child as the supervisor manages it; implemented by hosted machines and by watched subscribers. */
export interface SupervisedChild {
  readonly id: string;
  readonly kind: string;
  /** Starts a fresh incarnation after a failure. */
  restart(): void;
  /** Stops it for good; called by the supervisor once it has forgotten the child. */
  halt(): Promise<void>;
  /** Its own state name, when it has one worth reporting. */
  state?(): string | undefined;
  /** The id of the machine it runs, when it is an XState machine (`subscriber`, `circuitBreaker`, …). */
  readonly machine?: string;
  /** For members of an actor group: what the group saw of a member with this child's id. */
  memberNotice?(group: ActorGroup, notice: ActorGroupNotice): void;
}

/** One live actor, as `rt.actors.list()` shows it. */
export interface ActorInfo {
  /** Its stable id: `breaker:<name>`, `subscriber:<group>/<type>`, `job:<queue>/<jobId>`, `supervisor`, a spawned machine's id. */
  readonly id: string;
  /** 'subscriber', 'breaker', 'job', 'queue', 'machine', 'endpoint', 'supervisor', … */
  readonly kind: string;
  /** The id of the machine it runs (the statechart the inspector draws). */
  readonly machine: string;
  /** Its current state: a state name, or a dotted path for nested states (`running.consuming.idle`). */
  readonly state: string;
}

/** @returns a machine state value as one string: `'OPEN'`, or `'running.consuming.idle'` for nested states */
export function stateName(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value === null || typeof value !== 'object') return String(value);
  return Object.entries(value as Record<string, unknown>)
    .map(([k, v]) => `${k}.${stateName(v)}`)
    .join(',');
}
