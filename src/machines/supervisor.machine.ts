import { assign, setup, type ActorRefFrom, type SnapshotFrom } from 'xstate';

/**
 * The runtime's supervisor: its state is the aggregate health of everything it supervises
 * (HEALTHY, DEGRADED, UNHEALTHY, or UNKNOWN while nothing has reported), and its context holds
 * each child's latest status. Children (subscribers, queues, breakers, spawned machines, health
 * checks, registered services) report changes as `child.reported` events (several of one turn as
 * one `children.reported`); nothing is polled.
 *
 * A report costs the same whatever the number of children: `children` is a Map updated in place
 * and `counts` says how many children are in each status, so the aggregate is read off four
 * numbers. `problems` (the children that are not HEALTHY, usually few) is what the inspector
 * shows in full. Restarts are decided per child by the restart-policy machine.
 */

/** A health status, as a map and a type. */
export const Health = {
  healthy: 'HEALTHY',
  degraded: 'DEGRADED',
  unhealthy: 'UNHEALTHY',
  unknown: 'UNKNOWN',
} as const;
export type Health = (typeof Health)[keyof typeof Health];

/** One child as it last reported. */
export interface ChildHealth {
  /** 'subscriber', 'queue', 'breaker', 'actor', 'check', 'service', … */
  readonly kind: string;
  readonly status: Health;
  /** The child's own state where it has one (`consuming`, `OPEN`, `stalled`, …). */
  readonly state?: string;
  readonly message?: string;
}

export interface SupervisorContext {
  /** Every child's latest report, by id. Updated in place: one report touches one entry. */
  readonly children: Map<string, ChildHealth>;
  /** How many children are in each status. */
  readonly counts: Readonly<Record<Health, number>>;
  /** The children that are not HEALTHY, by id: what makes the aggregate what it is. */
  readonly problems: Readonly<Record<string, ChildHealth>>;
  /** Holds the aggregate at this status while set (a manual override). */
  readonly override: Health | undefined;
}

/** One child's report in a batch: its health, or `undefined` once it is gone. */
export type ChildReport = readonly [id: string, health: ChildHealth | undefined];

/**
 * Events children and the health monitor send. `children.reported` carries the reports of one
 * event-loop turn (the latest per child) when there are several: spawning 100,000 actors in one
 * loop is one event, not 100,000.
 */
export type SupervisorEvent =
  | { type: 'child.reported'; id: string; health: ChildHealth }
  | { type: 'child.removed'; id: string }
  | { type: 'children.reported'; reports: readonly ChildReport[] }
  | { type: 'override.set'; status: Health | undefined };

const SEVERITY: Record<Health, number> = { HEALTHY: 0, UNKNOWN: 1, DEGRADED: 2, UNHEALTHY: 3 };

/** @returns the aggregate: the override, else the worst child status; UNKNOWN with no children */
export function aggregateOf(context: Pick<SupervisorContext, 'counts' | 'override'>): Health {
  if (context.override) return context.override;
  const c = context.counts;
  if (c.UNHEALTHY > 0) return 'UNHEALTHY';
  if (c.DEGRADED > 0) return 'DEGRADED';
  if (c.UNKNOWN > 0 || c.HEALTHY === 0) return 'UNKNOWN';
  return 'HEALTHY';
}

/** @returns the worse of two statuses */
export function worseOf(a: Health, b: Health): Health {
  return SEVERITY[b] > SEVERITY[a] ? b : a;
}

/**
 * Applies reports to the children (in place), to a copy of the counts and, when a report makes or
 * ends a problem, to a copy of the problems. @returns the context's changed parts
 */
function recorded(context: SupervisorContext, reports: readonly ChildReport[]) {
  const counts = { ...context.counts };
  let problems: Record<string, ChildHealth> | undefined;
  for (const [id, next] of reports) {
    const before = context.children.get(id);
    if (before) counts[before.status]--;
    if (next) {
      counts[next.status]++;
      context.children.set(id, next);
    } else context.children.delete(id);
    const wasProblem = before !== undefined && before.status !== 'HEALTHY';
    const isProblem = next !== undefined && next.status !== 'HEALTHY';
    if (!wasProblem && !isProblem) continue;
    problems ??= { ...context.problems };
    if (isProblem) problems[id] = next;
    else delete problems[id];
  }
  return problems ? { counts, problems } : { counts };
}

const is = (status: Health) => ({ type: 'is', params: { status } }) as const;

export const supervisorMachine = setup({
  types: {
    context: {} as SupervisorContext,
    events: {} as SupervisorEvent,
  },
  guards: {
    is: ({ context }, params: { status: Health }) => aggregateOf(context) === params.status,
  },
  actions: {
    record: assign(({ context, event }) => {
      if (event.type === 'child.reported') return recorded(context, [[event.id, event.health]]);
      if (event.type === 'child.removed') return recorded(context, [[event.id, undefined]]);
      if (event.type === 'children.reported') return recorded(context, event.reports);
      return { override: event.status };
    }),
  },
}).createMachine({
  id: 'supervisor',
  context: () => ({
    children: new Map(),
    counts: { HEALTHY: 0, DEGRADED: 0, UNHEALTHY: 0, UNKNOWN: 0 },
    problems: {},
    override: undefined,
  }),
  initial: 'UNKNOWN',
  on: {
    'child.reported': { actions: 'record' },
    'child.removed': { actions: 'record' },
    'children.reported': { actions: 'record' },
    'override.set': { actions: 'record' },
  },
  states: {
    UNKNOWN: {
      always: [
        { guard: is('UNHEALTHY'), target: 'UNHEALTHY' },
        { guard: is('DEGRADED'), target: 'DEGRADED' },
        { guard: is('HEALTHY'), target: 'HEALTHY' },
      ],
    },
    HEALTHY: {
      always: [
        { guard: is('UNHEALTHY'), target: 'UNHEALTHY' },
        { guard: is('DEGRADED'), target: 'DEGRADED' },
        { guard: is('UNKNOWN'), target: 'UNKNOWN' },
      ],
    },
    DEGRADED: {
      always: [
        { guard: is('UNHEALTHY'), target: 'UNHEALTHY' },
        { guard: is('HEALTHY'), target: 'HEALTHY' },
        { guard: is('UNKNOWN'), target: 'UNKNOWN' },
      ],
    },
    UNHEALTHY: {
      always: [
        { guard: is('DEGRADED'), target: 'DEGRADED' },
        { guard: is('HEALTHY'), target: 'HEALTHY' },
        { guard: is('UNKNOWN'), target: 'UNKNOWN' },
      ],
    },
  },
});

export type SupervisorActorRef = ActorRefFrom<typeof supervisorMachine>;
export type SupervisorSnapshot = SnapshotFrom<typeof supervisorMachine>;
