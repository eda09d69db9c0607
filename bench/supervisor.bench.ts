import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { pino } from 'pino';
import { createActor, type AnyActorRef } from 'xstate';
import type { ActorGroup } from '../src/actors/groups/actor-group.js';
import { ActorGroups } from '../src/actors/groups/actor-group.js';
import { spawnSupervised, type SupervisedActor } from '../src/actors/supervisor/hosted-actor.js';
import { Supervisor } from '../src/actors/supervisor/supervisor.js';
import { systemClock } from '../src/time/clock.js';
import { circuitBreakerMachine } from '../src/machines/circuit-breaker.machine.js';
import { markdownTable, median } from './stats.js';
import type { BenchSection } from './types.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const SIZES = [1_000, 10_000, 100_000];
/** Rounds per size: small sizes get more, so every median rests on at least 250k spawns (min 5 rounds). */
const roundsFor = (n: number): number => Math.max(5, Math.ceil(250_000 / n));
const input = {
  window: { isTripped: () => false },
  resetTimeoutMs: 60_000,
  halfOpenMaxCalls: 1,
  halfOpenSuccessThreshold: 1,
};

interface Round {
  spawnUs: number;
  stopUs: number;
  heapPerActor: number;
}

/**
 * Spawns `n` breaker actors under one supervisor, then stops them all, timing each phase. Every
 * round starts from a collected heap (no earlier round's garbage is charged to it) with V8's young
 * generation grown back: a forced full GC shrinks it, and its regrowth would be charged to the
 * first spawns (+40 % at 1k). Heap per actor comes from a separate round between forced GCs.
 */
async function round(n: number, measureHeap = false, inspect?: () => void): Promise<Round> {
  const supervisor = new Supervisor({
    clock: systemClock,
    logger: pino({ level: 'silent' }),
    ...(inspect && { inspect }),
  });
  const actors: SupervisedActor<typeof circuitBreakerMachine>[] = new Array(n);
  settle(!measureHeap);
  const heapBefore = process.memoryUsage().heapUsed;
  let t = performance.now();
  for (let i = 0; i < n; i++)
    actors[i] = spawnSupervised(supervisor, circuitBreakerMachine, { id: `breaker-${i}`, input });
  const spawnMs = performance.now() - t;
  if (measureHeap) settle(false);
  const heapPerActor = (process.memoryUsage().heapUsed - heapBefore) / n;
  t = performance.now();
  for (let i = 0; i < n; i++) void actors[i]!.stop();
  const stopMs = performance.now() - t;
  if (supervisor.size !== 0) throw new Error(`supervisor still holds ${supervisor.size} actors`);
  return { spawnUs: (spawnMs * 1_000) / n, stopUs: (stopMs * 1_000) / n, heapPerActor };
}

/** Collects the heap; `regrow`: then allocates and drops 2,000 actors, untimed, to grow the young generation back. */
function settle(regrow: boolean): void {
  gc();
  gc();
  if (!regrow) return;
  const supervisor = new Supervisor({ clock: systemClock, logger: pino({ level: 'silent' }) });
  for (let i = 0; i < 2_000; i++)
    void spawnSupervised(supervisor, circuitBreakerMachine, { id: `warm-${i}`, input }).stop();
}

/** The floor: XState's createActor + start of the same machine as bare root actors, no supervisor. µs per actor. */
function bareRound(n: number): number {
  const actors: AnyActorRef[] = new Array(n);
  settle(true);
  const t = performance.now();
  for (let i = 0; i < n; i++)
    actors[i] = createActor(circuitBreakerMachine, { id: `breaker-${i}`, input }).start();
  const us = ((performance.now() - t) * 1_000) / n;
  for (let i = 0; i < n; i++) actors[i]!.stop();
  return us;
}

/**
 * What bulwark's own share is measured against: XState's createActor + start of the same machine
 * with one of the supervisor's actor groups as its parent (what a supervised spawn creates), with
 * no supervision record, no report, no handle. µs per actor.
 */
function memberRound(n: number): number {
  const groups = new ActorGroups({ clock: systemClock });
  const joined = new Set<ActorGroup>();
  settle(true);
  const t = performance.now();
  for (let i = 0; i < n; i++) {
    const group = groups.join();
    joined.add(group);
    group.member(circuitBreakerMachine, `breaker-${i}`, input).start();
  }
  const us = ((performance.now() - t) * 1_000) / n;
  for (const group of joined) group.stop();
  return us;
}

/**
 * Spawning and stopping breaker actors under the runtime's supervisor: µs per spawn and per stop
 * at 1k, 10k and 100k supervised actors, and heap bytes per live actor.
 */
export async function runSupervisorBench(): Promise<BenchSection> {
  // Warm-up: JIT tiers and the machine's lazily built structures.
  for (let i = 0; i < 3; i++) await round(10_000);
  const rows: (string | number)[][] = [];
  for (const n of SIZES) {
    const heapPerActor = (await round(n, true)).heapPerActor;
    const rounds: Round[] = [];
    const bare: number[] = [];
    const members: number[] = [];
    const inspected: number[] = [];
    for (let r = 0; r < roundsFor(n); r++) {
      rounds.push(await round(n));
      bare.push(bareRound(n));
      members.push(memberRound(n));
      if (r < 3) inspected.push((await round(n, false, () => undefined)).spawnUs);
    }
    rows.push([
      n.toLocaleString('en-US'),
      median(rounds.map((x) => x.spawnUs)).toFixed(2),
      median(rounds.map((x) => x.stopUs)).toFixed(2),
      Math.round(heapPerActor).toLocaleString('en-US'),
      median(bare).toFixed(2),
      median(members).toFixed(2),
      median(inspected).toFixed(2),
    ]);
  }
  return {
    title: 'Supervisor: spawning and stopping breaker actors',
    table: markdownTable(
      [
        'actors',
        'µs per spawn',
        'µs per stop',
        'heap bytes per actor',
        'bare XState root actor: µs per createActor + start',
        'XState actor in an actor group: µs per createActor + start',
        'µs per spawn, inspector attached',
      ],
      rows,
    ),
    notes: [
      `Median over rounds (${SIZES.map((n) => `${roundsFor(n)} at ${n.toLocaleString('en-US')}`).join(', ')}): spawn n circuit-breaker machines as supervised actors (\`spawnSupervised\`, what \`rt.spawn\` does), then stop every one. Each timed round starts from a collected heap whose young generation was grown back by 2,000 untimed spawns; heap per live actor is measured in one extra round between forced full GCs.`,
      "Each supervised actor is an XState actor whose parent is one of the supervisor's actor groups (64 members sharing one actor system, never listed in a parent snapshot), tracked in a Map; its restart policy actor is created only once it first fails.",
      "Bare root actor: XState's own createActor + start of the same machine, no supervisor, same rounds; each has an actor system of its own.",
      "Actor in an actor group: the same createActor + start with one of the supervisor's actor groups as parent, which is what a supervised spawn creates, without the supervision record, the report or the handle: the difference to the spawn column is bulwark's share.",
      'Goal: <= 20 µs per spawn and per stop at 100k, flat from 1k to 100k (XState children of one parent grow with the child count: ~1.4 ms per spawn at 10k). Each spawn and stop is also reported to the supervisor actor, whose state is the aggregate health: the reports of one event-loop turn as one `children.reported` event (one event per spawn cost 6-7 µs of each spawn and stop).',
      'Last column: the same spawns with a no-op `inspect` observer on the supervisor (medians of 3 rounds): no goal, the cost of watching.',
    ],
  };
}
