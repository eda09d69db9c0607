import {
  createActor,
  type ActorOptions,
  type AnyActorLogic,
  type AnyActorScope,
  type AnyEventObject,
  type ExecutableActionObject,
} from 'xstate';
import {
  HANDLER_ID,
  retryJobContext,
  retryJobMachine,
  type HandlerInput,
  type RetryJobInput,
  type RetryJobSnapshot,
} from '../machines/retry-job.machine.js';

/** The settle actions a host supplies; each receives the job's context. */
export type JobActions = Parameters<typeof retryJobMachine.provide>[0]['actions'];

/** One job's snapshot and the effects its machine may ask for. */
export interface SteppedJob {
  snapshot: RetryJobSnapshot;
  /** Run a try of the handler (the machine invoked `handler`). */
  startTry(input: HandlerInput): void;
  /** Abort the running try, if any (the machine left `active`). */
  stopTry(): void;
  /** Deliver `event` to this job after `delayMs` (an `after` was armed); `id` cancels it. */
  schedule(id: string, event: AnyEventObject, delayMs: number): void;
  cancel(id: string): void;
}

const NOOP = (): void => undefined;
type Effect = ExecutableActionObject;

/**
 * Drives per-job snapshots of the retry-job machine with the machine's own `transition`, under one
 * actor scope shared by every job of a worker, and carries out the effects itself: no actor, actor
 * system, mailbox or promise actor per job. See the machine's comment for the numbers behind it.
 * With an inspector, every job's microsteps reach it through the scope's system.
 * @example
 * const stepper = new JobStepper({ onCompleted: ({ context }) => done(context) }, undefined);
 * stepper.begin(job, input);
 */
export class JobStepper {
  private readonly machine: typeof retryJobMachine;
  private readonly scope: AnyActorScope;
  private effects: Effect[] = [];

  constructor(actions: JobActions, inspect: ActorOptions<AnyActorLogic>['inspect'] | undefined) {
    // No `handler` logic: XState would build an actor object per try (a third of the stepping
    // cost) only for it never to start; the spawn effect reaches startTry() instead.
    this.machine = retryJobMachine.provide({ actions, actors: { handler: undefined as never } });
    const self = createActor(this.machine, {
      input: {
        id: '',
        attemptsMade: 0,
        maxAttempts: 1,
        backoff: { delay: () => 0 },
        timeoutMs: 0,
        delayMs: 0,
        job: undefined,
      },
      ...(inspect && { inspect }),
    });
    this.scope = {
      self,
      id: 'queue',
      sessionId: self.sessionId,
      system: self.system,
      logger: NOOP,
      defer: NOOP,
      emit: NOOP,
      stopChild: NOOP,
      actionExecutor: (effect: Effect) => void this.effects.push(effect),
    };
  }

  /** Restores the job at `waiting` (where the store keeps it) and sends it `event`: by default, start the next try. */
  begin(job: SteppedJob, input: RetryJobInput, event: AnyEventObject = START): void {
    job.snapshot = this.machine.resolveState({ value: 'waiting', context: retryJobContext(input) });
    this.step(job, event);
  }

  /** Delivers `event` to the job's machine and carries out what it asks for. */
  step(job: SteppedJob, event: AnyEventObject): void {
    const effects: Effect[] = [];
    this.effects = effects;
    // Development builds of XState warn on each spawn of a source that has no logic, which here is
    // on purpose; the transition is synchronous and runs none of the user's code.
    const warn = console.warn;
    console.warn = NOOP;
    try {
      job.snapshot = this.machine.transition(job.snapshot, event as never, this.scope);
    } finally {
      console.warn = warn;
    }
    // Effects may start other jobs (a settle frees a slot): each step collects into its own list.
    for (const e of effects) run(job, e);
  }
}

const START: AnyEventObject = Object.freeze({ type: 'job.start' });
/** Sent with the handler's result once a try resolved. */
export const doneEvent = (output: unknown): AnyEventObject => ({
  type: `xstate.done.actor.${HANDLER_ID}`,
  output,
});
/** Sent with what the handler threw. */
export const errorEvent = (error: unknown): AnyEventObject => ({
  type: `xstate.error.actor.${HANDLER_ID}`,
  error,
});

function run(job: SteppedJob, e: Effect): void {
  switch (e.type) {
    case 'xstate.spawnChild': {
      // Without logic XState leaves the input unresolved: it is the invoke's `input` mapping.
      const { context } = job.snapshot;
      if ((e.params as { id: string }).id === HANDLER_ID)
        job.startTry({ job: context.job, attempt: context.attempt });
      return;
    }
    case 'xstate.stopChild':
      return job.stopTry();
    case 'xstate.raise': {
      const p = e.params as { event: AnyEventObject; delay: unknown; id: string };
      if (typeof p.delay === 'number') job.schedule(p.id, p.event, p.delay);
      return;
    }
    case 'xstate.cancel':
      return job.cancel((e.params as { sendId: string }).sendId);
    default:
      e.exec?.(e.info, e.params);
  }
}
