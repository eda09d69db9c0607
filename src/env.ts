import type { ActorOptions, AnyActorLogic } from 'xstate';
import type { Logger } from './logging.js';
import type { Clock } from './time/clock.js';

/** An XState inspection observer (the Stately inspector's `inspect`), handed to every root actor. */
export type Inspect = ActorOptions<AnyActorLogic>['inspect'];

/**
 * What every part of a runtime runs with: its clock (injectable, so tests drive time), its logger,
 * and the inspector when one is attached. Hosts that need more extend it.
 */
export interface Env {
  readonly clock: Clock;
  readonly logger: Logger;
  readonly inspect?: Inspect | undefined;
}
