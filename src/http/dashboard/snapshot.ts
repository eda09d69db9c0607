import type { Subscription } from '../../actors/subscriber/subscriber.actor.js';
import type { BreakerStateChange } from '../../breaker/breaker.js';
import type { BreakerStats } from '../../breaker/options.js';
import { actorImpact } from '../../health/aggregate.js';
import type { HealthReport, HealthStatus } from '../../health/types.js';
import type { DeadLetter, DeadLetterStore } from '../../transport/dead-letters.js';
import { endpointRows, type DashboardEndpoint, type EndpointRow } from './endpoint-rows.js';
import { countBy, QueueBoards, queueRows, type DashboardQueue, type QueueRow } from './queue-rows.js';
import type { SchedulerSource } from './scheduler-board.js';

export type { DashboardQueue, QueueRow } from './queue-rows.js';

/** The part of a breaker the dashboard reads and drives. */
export interface DashboardBreaker {
  readonly name: string;
  stats(): BreakerStats;
  on(event: 'stateChange', listener: (change: BreakerStateChange) => void): () => void;
  open(): void;
  close(): void;
  reset(): void;
}

/** What the dashboard reads from a runtime; `Runtime` has all of it. */
export interface DashboardSource {
  readonly service: string;
  readonly health?: { report(): Promise<HealthReport> };
  readonly breakers: { list(): readonly DashboardBreaker[] };
  readonly deadLetters: DeadLetterStore;
  listSubscriptions(): readonly Subscription[];
  listQueues?(): readonly DashboardQueue[];
  /** The request/reply endpoints it serves. */
  listEndpoints?(): readonly DashboardEndpoint[];
  /** Where subscribers' backlogs are read, when the transport can tell, and queues' schedulers. */
  readonly transport?: SchedulerSource & {
    backlog?(type: string, group: string): Promise<number | undefined>;
    /** Connection changes change health: pages update at once. */
    onStatus?(listener: () => void): () => void;
  };
  /** Actor restarts and failures change health: pages update at once. */
  readonly supervisor?: { onNotice(listener: () => void): () => void };
}

/** A card: a registered service or a health check. */
export interface ServiceCard {
  readonly id: string;
  readonly kind: 'service' | 'check';
  readonly name: string;
  readonly status: HealthStatus;
  readonly message?: string;
  /** Milliseconds the last check took. */
  readonly responseTime?: number;
  /** Milliseconds in the current status. */
  readonly uptime: number;
  readonly breaker?: string;
}

/** A breaker row; `active` are the machine's state ids to highlight in its chart. */
export type BreakerRow = BreakerStats & { readonly actor: string; readonly active: readonly string[] };

/** A subscriber row. */
export interface SubscriberRow {
  readonly actor: string;
  readonly type: string;
  readonly group: string;
  readonly status: string;
  readonly active: readonly string[];
  /** Events not yet delivered to the group; absent when the transport cannot tell. */
  readonly backlog?: number;
  readonly inFlight: number;
  readonly handled: number;
  readonly retried: number;
  readonly deadLetters: number;
}

/** A supervised actor other than a subscriber, queue or breaker (those have their own rows). */
export interface ActorRow {
  readonly id: string;
  readonly kind: string;
  readonly status: string;
  /** What it does to health: a failed actor is UNHEALTHY, a restarting one DEGRADED. */
  readonly health: HealthStatus;
  readonly restarts: number;
  readonly state?: string;
  readonly lastError?: { readonly name: string; readonly message: string };
}

/** Everything the page shows, sent on every update. */
export interface DashboardSnapshot {
  readonly service: string;
  readonly status: HealthStatus;
  readonly timestamp: string;
  readonly uptime?: number;
  /** Whether admin actions are possible (an admin token is configured). */
  readonly adminEnabled: boolean;
  readonly services: readonly ServiceCard[];
  readonly breakers: readonly BreakerRow[];
  readonly subscribers: readonly SubscriberRow[];
  readonly queues: readonly QueueRow[];
  readonly actors: readonly ActorRow[];
  readonly deadLetters: number;
  /** The request/reply endpoints served (`rt.handle`). */
  readonly endpoints?: readonly EndpointRow[];
}

const SUBSCRIBER_ACTIVE: Record<string, readonly string[]> = {
  starting: ['running', 'running.starting'],
  consuming: ['running', 'running.consuming', 'running.consuming.idle'],
  handling: ['running', 'running.consuming', 'running.consuming.handling'],
  draining: ['running', 'running.draining'],
};

/** The breaker machine's state (FORCED_* when manual control holds it), as a chart node id. */
export function breakerActive(stats: BreakerStats): string[] {
  const state = stats.forced ? `FORCED_${stats.state}` : stats.state;
  return [`circuitBreaker.${state}`];
}

function subscriberActive(status: string): string[] {
  return (SUBSCRIBER_ACTIVE[status] ?? [status]).map((s) => `subscriber.${s}`);
}

/**
 * Remembers when each card's status last changed, for cards whose report has no uptime. A status
 * seen for the first time is dated from the runtime's start, not from when the first page asked;
 * later changes from when a read first saw them.
 */
export class StatusSince {
  private readonly since = new Map<string, { status: string; at: number }>();

  /**
   * @param startedAt - when the runtime started (ms since the epoch): the date of a status seen first
   * @returns milliseconds `id` has been in `status`
   */
  uptime(id: string, status: string, now: number, startedAt = now): number {
    const last = this.since.get(id);
    if (last?.status === status) return now - last.at;
    const at = last === undefined ? Math.min(startedAt, now) : now;
    this.since.set(id, { status, at });
    return now - at;
  }
}

function cards(report: HealthReport | undefined, since: StatusSince, now: number): ServiceCard[] {
  if (!report) return [];
  const startedAt = now - report.uptime;
  const services = Object.entries(report.services).map(([id, s]) => ({
    id,
    kind: 'service' as const,
    name: s.name,
    status: s.status,
    uptime: since.uptime(`service:${id}`, s.status, now, startedAt),
    ...(s.breaker !== undefined && { breaker: s.breaker }),
  }));
  const checks = Object.entries(report.checks).map(([id, c]) => ({
    id,
    kind: 'check' as const,
    name: id,
    status: c.status,
    message: c.message,
    responseTime: c.responseTime,
    uptime: c.uptime,
  }));
  return [...services, ...checks];
}

async function subscriberRows(src: DashboardSource, dead: readonly DeadLetter[]): Promise<SubscriberRow[]> {
  const perGroupType = countBy(dead, (dl) => `${dl.group}/${dl.event.type}`);
  const seen = new Map<string, number>();
  const transport = src.transport;
  const backlog = async (s: Subscription): Promise<number | undefined> =>
    transport?.backlog?.(s.type, s.group).catch(() => undefined);
  return Promise.all(
    src.listSubscriptions().map(async (sub) => {
      const key = `${sub.group}/${sub.type}`;
      const n = (seen.get(key) ?? 0) + 1;
      seen.set(key, n);
      const status = sub.status();
      const stats = sub.stats();
      const backlogOf = await backlog(sub);
      return {
        actor: `subscriber:${key}${n > 1 ? `#${n}` : ''}`,
        type: sub.type,
        group: sub.group,
        status,
        active: subscriberActive(status),
        ...(backlogOf === undefined ? {} : { backlog: backlogOf }),
        inFlight: stats.inFlight,
        handled: stats.handled,
        retried: stats.retried,
        deadLetters: perGroupType.get(key) ?? 0,
      };
    }),
  );
}

const OWN_ROWS = new Set(['subscriber', 'queue', 'breaker', 'endpoint']);

function actorRows(report: HealthReport | undefined): ActorRow[] {
  if (!report) return [];
  return Object.entries(report.actors)
    .filter(([, a]) => !OWN_ROWS.has(a.kind))
    .map(([id, a]) => ({
      id,
      kind: a.kind,
      status: a.status,
      health: actorImpact(a),
      restarts: a.restarts,
      ...(a.state !== undefined && { state: a.state }),
      ...(a.lastError && { lastError: a.lastError }),
    }));
}

/** The worst state of the breakers, for a runtime without health. */
function statusFromBreakers(rows: readonly BreakerRow[]): HealthStatus {
  return rows.some((b) => b.state !== 'CLOSED') ? 'DEGRADED' : 'HEALTHY';
}

/** Most dead letters read per update; counts above it show as this many. */
export const DEAD_LETTER_SCAN_LIMIT = 10_000;

/** Options of {@link readSnapshot}. */
export interface SnapshotOptions {
  readonly adminEnabled: boolean;
  readonly since: StatusSince;
  /** What is kept between reads of the queues; without it, each read starts afresh. */
  readonly boards?: QueueBoards;
}

/**
 * Reads one snapshot of everything the dashboard shows.
 * @example
 * const snap = await readSnapshot(rt, { adminEnabled: false, since: new StatusSince() });
 */
export async function readSnapshot(src: DashboardSource, opts: SnapshotOptions): Promise<DashboardSnapshot> {
  const boards = opts.boards ?? new QueueBoards(src.transport);
  try {
    return await snapshotOf(src, opts, boards);
  } finally {
    if (!opts.boards) boards.close();
  }
}

async function snapshotOf(
  src: DashboardSource,
  opts: SnapshotOptions,
  boards: QueueBoards,
): Promise<DashboardSnapshot> {
  const [report, dead] = await Promise.all([
    src.health?.report(),
    src.deadLetters.list({ limit: DEAD_LETTER_SCAN_LIMIT }),
  ]);
  const now = Date.now();
  const breakers = src.breakers.list().map((b) => {
    const stats = b.stats();
    return { ...stats, actor: `breaker:${b.name}`, active: breakerActive(stats) };
  });
  return {
    service: src.service,
    status: report?.status ?? statusFromBreakers(breakers),
    timestamp: new Date(now).toISOString(),
    ...(report && { uptime: report.uptime }),
    adminEnabled: opts.adminEnabled,
    services: cards(report, opts.since, now),
    breakers,
    subscribers: await subscriberRows(src, dead),
    queues: await queueRows(src.listQueues?.() ?? [], dead, boards, now),
    actors: actorRows(report),
    deadLetters: dead.length,
    endpoints: endpointRows(src.listEndpoints?.() ?? []),
  };
}
