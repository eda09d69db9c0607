import type { Inspect } from '../env.js';
import { systemClock, type Clock } from '../time/clock.js';
import { isTimeoutError } from '../errors.js';
import { silentLogger } from '../logging.js';
import type {
  CircuitBreakerActorRef,
  CircuitBreakerEvent,
  CircuitBreakerSnapshot,
  CircuitBreakerStateName,
} from '../machines/circuit-breaker.machine.js';
import {
  GATE,
  PASS,
  PUBLIC_STATE,
  RecordedCalls,
  startBreakerActor,
  type BreakerActor,
  TRIAL,
  TRIAL_FAILED,
  TRIAL_STARTED,
  TRIAL_SUCCEEDED,
  WINDOW_TRIPPED,
} from './actor.js';
import { Listeners } from './listeners.js';
import { callWithTimeout, NEVER_ABORTED, refusal, type BreakerCall } from './call.js';
import { WeakNameIndex } from './lookup.js';
import type { BreakerState } from './options.js';
import {
  resolveOptions,
  SAMPLE_EVERY,
  type BreakerEnvironment,
  type CallCounts,
  type CallTimings,
  type BreakerOptions,
  type BreakerStats,
  type ResolvedBreakerOptions,
} from './options.js';
import { startSharedState, type SharedHost, type SharedState } from './shared.js';
import type { BreakerStrategy } from './strategy.js';

/** A `stateChange` event: the public state before and after. */
export interface BreakerStateChange {
  readonly from: BreakerState;
  readonly to: BreakerState;
}

const HEALTH_DOWN: CircuitBreakerEvent = Object.freeze({ type: 'health.down' });
const HEALTH_UP: CircuitBreakerEvent = Object.freeze({ type: 'health.up' });

/** `start` of a call whose duration is not measured. */
const UNTIMED = -1;

/** Every live breaker of the process by name: `protect(adapter, { breaker: 'name' })` resolves through it. */
export const breakersByName = new WeakNameIndex<Breaker>();

/**
 * A circuit breaker: an XState actor running the circuit-breaker machine, fronted by a gate that
 * lets a CLOSED breaker's calls through without touching the actor. Calls are recorded in a
 * compact failure window; the actor hears of them only when the window trips or in HALF_OPEN.
 * @example
 * const breaker = createBreaker('stripe', { timeoutMs: 2_000, fallback: () => cached });
 * const charge = await breaker.execute((signal, id: string) => stripe.charge(id, { signal }), 'ch_1');
 */
export class Breaker {
  /** Names of the adapters `protect()` wrapped with this breaker. */
  readonly protectedBy: string[] = [];
  private readonly opts: ResolvedBreakerOptions;
  private readonly strategy: BreakerStrategy;
  private readonly clock: Clock;
  private readonly inspect: Inspect | undefined;
  private actor: BreakerActor | undefined;
  private readonly shared: SharedState | undefined;
  private gate = PASS;
  private machineState: CircuitBreakerStateName = 'CLOSED';
  private halfOpenEpoch = 0;
  private openedAt: number | undefined;
  private peerOpenedAt: number | undefined;
  private applyingPeer = false;
  private manualCall = false;
  private disposed = false;
  private successes = 0;
  private failures = 0;
  private rejections = 0;
  private timeouts = 0;
  private slowCalls = 0;
  /** Calls until the next one is timed for `timings` (never without them: Infinity counts down to itself). */
  private untilSample: number;
  private readonly timings: CallTimings | undefined;
  private readonly onProtected: ((adapter: string) => void) | undefined;
  /** The health check this breaker follows is UNHEALTHY. */
  private healthDown = false;
  private readonly listeners = new Listeners<BreakerStateChange>();
  /** With an inspector: the window's calls, told to the actor once per event-loop turn. */
  private shown: RecordedCalls | undefined;

  /**
   * @param name - shown in stats, errors and logs
   * @throws {ValidationError} when an option is out of range
   */
  constructor(
    readonly name: string,
    options: BreakerOptions = {},
    env: BreakerEnvironment = {},
  ) {
    this.opts = resolveOptions(name, options);
    this.strategy = this.opts.strategy();
    this.clock = env.clock ?? systemClock;
    this.inspect = env.inspect;
    this.timings = env.timings;
    this.untilSample = env.timings ? SAMPLE_EVERY : Infinity;
    this.onProtected = env.onProtected;
    // The actor runs from the first event it must hear until the breaker is CLOSED again: a CLOSED
    // breaker's snapshot is the initial one anyway. With an inspector it runs from now on, so that
    // every breaker is visible there.
    if (this.inspect) this.startActor();
    this.shared = this.opts.shared ? startSharedState(this.sharedHost(env), env) : undefined;
    breakersByName.remember(this);
  }

  /** Resolves once a shared breaker has loaded and watches the bucket's state (at once otherwise). */
  get ready(): Promise<void> {
    return this.shared?.ready ?? Promise.resolve();
  }

  /** The public state: CLOSED, OPEN or HALF_OPEN. */
  get state(): BreakerState {
    return PUBLIC_STATE[this.machineState];
  }

  /**
   * Runs `fn(signal, ...args)` through the breaker.
   * @returns what `fn` resolves with, or the fallback's result when refused or failed
   * @throws {CircuitOpenError} when OPEN (or every HALF_OPEN trial slot is taken) without a fallback
   * @throws {TimeoutError} when `timeoutMs` passed first (the signal is aborted) without a fallback
   * @throws what `fn` threw, without a fallback
   */
  execute<T, A extends unknown[]>(fn: BreakerCall<T, A>, ...args: A): Promise<T> {
    if (this.gate === PASS) return this.run(fn, args, 0);
    if (this.gate === TRIAL) return this.runTrial(fn, args);
    return this.refuse(args);
  }

  /** Every counter, and the state. */
  stats(): BreakerStats {
    const s = this.machineState;
    return {
      name: this.name,
      state: PUBLIC_STATE[s],
      ...(s === 'FORCED_OPEN' || s === 'FORCED_CLOSED' ? { forced: true } : {}),
      failureRate: this.strategy.failureRate(this.clock.now()),
      totalRequests: this.successes + this.failures + this.rejections,
      successCount: this.successes,
      failureCount: this.failures,
      rejectedCount: this.rejections,
      timeoutCount: this.timeouts,
      ...(this.openedAt !== undefined ? { openedAt: this.openedAt } : {}),
      ...(this.shared ? { shared: { mode: this.shared.mode } } : {}),
    };
  }

  /**
   * Listens to changes of the public state.
   * @returns a function that removes the listener
   */
  on(event: 'stateChange', listener: (change: BreakerStateChange) => void): () => void {
    return event === 'stateChange' ? this.listeners.add(listener) : () => undefined;
  }

  /**
   * Adds this breaker's counters to `into`, allocating nothing: a scrape sums every breaker's.
   * Timeouts are counted apart from the other failures.
   */
  addCounts(into: CallCounts): void {
    into.successes += this.successes;
    into.failures += this.failures - this.timeouts;
    into.timeouts += this.timeouts;
    into.rejections += this.rejections;
    into.slow += this.slowCalls;
  }

  /** Lists `adapter` in `protectedBy` and tells the runtime that made this breaker, if any. */
  addProtected(adapter: string): void {
    this.protectedBy.push(adapter);
    this.onProtected?.(adapter);
  }

  /**
   * Follows a health check: unhealthy opens the breaker and holds it OPEN; healthy again lets
   * trial calls through at once (a breaker the check did not hold goes on as it was).
   */
  followHealth(healthy: boolean): void {
    if (this.healthDown !== healthy) return;
    this.healthDown = !healthy;
    // Without an actor the breaker is CLOSED and the check was not down: nothing to tell.
    if (healthy && !this.actor) return;
    this.send(healthy ? HEALTH_UP : HEALTH_DOWN);
  }

  /** Opens the breaker and keeps it open until the next `close()` or `reset()`. */
  open(): void {
    this.sendManual('manual.open');
  }

  /** Closes the breaker and keeps it closed, whatever fails, until the next `open()` or `reset()`. */
  close(): void {
    this.sendManual('manual.close');
  }

  /** Ends manual control: CLOSED with an empty window, opening again by itself. */
  reset(): void {
    this.sendManual('manual.reset');
  }

  /** Stops the actor (and its reset timer) and the shared-state watch; idempotent. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.actor?.stop();
    this.shared?.stop();
    breakersByName.forget(this);
  }

  private async run<T, A extends unknown[]>(fn: BreakerCall<T, A>, args: A, epoch: number): Promise<T> {
    // One call in SAMPLE_EVERY is timed for the duration metric; counted down here, so a call
    // that never settles does not stop the sampling.
    const sampled = --this.untilSample === 0;
    if (sampled) this.untilSample = SAMPLE_EVERY;
    const start = sampled || this.opts.timed ? this.clock.now() : UNTIMED;
    const timeoutMs = this.opts.timeoutMs;
    let value: T;
    try {
      value = await (timeoutMs === undefined
        ? fn(NEVER_ABORTED, ...args)
        : callWithTimeout(fn, args, timeoutMs, this.clock));
    } catch (err) {
      return this.fail(err, start, epoch, args, sampled);
    }
    this.successes++;
    this.settle(false, start, epoch, sampled);
    return value;
  }

  private async fail<T>(
    err: unknown,
    start: number,
    epoch: number,
    args: unknown[],
    sampled: boolean,
  ): Promise<T> {
    const timedOut = isTimeoutError(err);
    const counted = timedOut || this.counts(err);
    if (counted) this.failures++;
    else this.successes++;
    if (timedOut) this.timeouts++;
    this.settle(counted, start, epoch, sampled);
    const fallback = this.opts.fallback;
    if (counted && fallback) return (await fallback(err, ...args)) as T;
    throw err;
  }

  private counts(err: unknown): boolean {
    try {
      return this.opts.isFailure?.(err) ?? true;
    } catch {
      return true;
    }
  }

  /** Feeds a finished call to the window, or to the machine when it was a trial. */
  private settle(failed: boolean, start: number, epoch: number, sampled: boolean): void {
    const now = start === UNTIMED ? 0 : this.clock.now();
    const slowCallMs = this.opts.slowCallMs;
    const slow = slowCallMs !== undefined && now - start >= slowCallMs;
    if (slow) this.slowCalls++;
    if (sampled) this.timings?.observe(now - start);
    if (epoch !== 0) {
      // A trial of an earlier HALF_OPEN period says nothing of this one.
      if (epoch === this.halfOpenEpoch && this.gate === TRIAL) {
        this.send(failed || slow ? TRIAL_FAILED : TRIAL_SUCCEEDED);
      }
      return;
    }
    // A call that started before the breaker left CLOSED says nothing of its new period.
    if (this.gate !== PASS) return;
    if (this.inspect) (this.shown ??= new RecordedCalls()).add(failed || slow, this.actor?.ref);
    if (this.strategy.record(failed, slow, now) && this.machineState === 'CLOSED') {
      this.send(WINDOW_TRIPPED);
    }
  }

  private runTrial<T, A extends unknown[]>(fn: BreakerCall<T, A>, args: A): Promise<T> {
    const claim = this.shared ? this.shared.trialClaim(this.clock.now()) : 'owned';
    if (claim === 'owned') return this.startTrial(fn, args);
    if (claim === 'unclaimed') return this.claimThenTrial(fn, args);
    return this.refuse(args);
  }

  private async claimThenTrial<T, A extends unknown[]>(fn: BreakerCall<T, A>, args: A): Promise<T> {
    const won = await this.shared!.claimTrial();
    return won && this.gate === TRIAL ? this.startTrial(fn, args) : this.refuse(args);
  }

  private startTrial<T, A extends unknown[]>(fn: BreakerCall<T, A>, args: A): Promise<T> {
    const actor = this.startActor();
    const before = actor.getSnapshot().context.trialsInFlight;
    actor.send(TRIAL_STARTED);
    const after = actor.getSnapshot();
    if (after.value !== 'HALF_OPEN' || after.context.trialsInFlight <= before) return this.refuse(args);
    return this.run(fn, args, this.halfOpenEpoch);
  }

  private refuse<T>(args: unknown[]): Promise<T> {
    this.rejections++;
    const err = refusal(this.name);
    const fallback = this.opts.fallback;
    if (!fallback) return Promise.reject(err);
    try {
      return Promise.resolve(fallback(err, ...args) as T);
    } catch (fallbackErr) {
      return Promise.reject(fallbackErr);
    }
  }

  private sendManual(type: 'manual.open' | 'manual.close' | 'manual.reset'): void {
    this.manualCall = true;
    try {
      this.send({ type });
    } finally {
      this.manualCall = false;
    }
  }

  private onSnapshot(snapshot: CircuitBreakerSnapshot): void {
    const next = snapshot.value;
    const from = this.machineState;
    if (next === from) return;
    this.machineState = next;
    this.gate = GATE[next];
    if (next === 'HALF_OPEN') this.halfOpenEpoch++;
    if (next === 'OPEN') this.openedAt = this.peerOpenedAt ?? this.clock.now();
    else if (next !== 'HALF_OPEN') this.openedAt = undefined;
    this.peerOpenedAt = undefined;
    if (!this.applyingPeer) this.shared?.publish(next, this.openedAt, this.manualCall);
    if (PUBLIC_STATE[from] !== PUBLIC_STATE[next])
      this.listeners.emit({ from: PUBLIC_STATE[from], to: PUBLIC_STATE[next] });
    // Back in CLOSED, the actor's snapshot is its initial one again: let it go until it is needed.
    if (next === 'CLOSED' && !this.inspect) queueMicrotask(() => this.releaseActor());
  }

  private releaseActor(): void {
    const actor = this.actor;
    if (!actor || this.machineState !== 'CLOSED' || actor.ref.getSnapshot().value !== 'CLOSED') return;
    this.actor = undefined;
    actor.stop();
  }

  private send(event: CircuitBreakerEvent): void {
    if (!this.disposed) this.startActor().send(event);
  }

  private startActor(): CircuitBreakerActorRef {
    if (this.actor) return this.actor.ref;
    const { resetTimeoutMs, halfOpenMaxCalls, halfOpenSuccessThreshold } = this.opts;
    const actor = startBreakerActor({
      id: `breaker:${this.name}`,
      input: {
        window: this.strategy,
        resetTimeoutMs,
        halfOpenMaxCalls,
        halfOpenSuccessThreshold,
        healthDown: this.healthDown,
      },
      clock: this.clock,
      inspect: this.inspect,
    });
    actor.ref.subscribe((snapshot) => this.onSnapshot(snapshot));
    this.actor = actor;
    return actor.ref;
  }

  private sharedHost(env: BreakerEnvironment): SharedHost {
    return {
      name: this.name,
      resetTimeoutMs: this.opts.resetTimeoutMs,
      clock: this.clock,
      logger: env.logger ?? silentLogger,
      state: () => this.machineState,
      applyPeer: (event, openedAt) => {
        this.applyingPeer = true;
        this.peerOpenedAt = openedAt;
        try {
          this.send(event);
        } finally {
          this.applyingPeer = false;
          this.peerOpenedAt = undefined;
        }
      },
    };
  }
}
