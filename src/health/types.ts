import type { ActorReport } from '../actors/supervisor/types.js';

/** Overall and per-component health, as `as const` map and type. */
export const HealthStatus = {
  healthy: 'HEALTHY',
  degraded: 'DEGRADED',
  unhealthy: 'UNHEALTHY',
  unknown: 'UNKNOWN',
} as const;
export type HealthStatus = (typeof HealthStatus)[keyof typeof HealthStatus];

/** What a check function resolves with. `status` wins over `healthy` when both are given. */
export interface CheckOutcome {
  readonly healthy: boolean;
  readonly message?: string;
  readonly status?: HealthStatus;
}

/** A custom health check, given to `rt.health.register`. */
export interface HealthCheck {
  /** Unique among the runtime's checks; the key in `report().checks`. */
  readonly name: string;
  readonly check: () => CheckOutcome | Promise<CheckOutcome>;
  /** A critical check that fails makes the service UNHEALTHY; an optional one makes it DEGRADED. @default false */
  readonly critical?: boolean;
  /** A check running longer fails with a timeout message. @default 5_000 */
  readonly timeoutMs?: number;
}

/** The minimum of a circuit breaker that health reads; bulwark's `Breaker` has it. */
export interface BreakerLike {
  stats(): BreakerStatsLike;
  on?(event: 'stateChange', listener: (change: { from: string; to: string }) => void): () => void;
}

/** The part of breaker stats health reads; every other field is passed through to the report. */
export interface BreakerStatsLike {
  readonly name: string;
  readonly state: 'CLOSED' | 'OPEN' | 'HALF_OPEN';
  readonly failureRate: number;
  readonly shared?: { readonly mode: string };
}

/** A dependency the service relies on, given to `rt.health.registerService`. */
export interface ServiceRegistration {
  readonly id: string;
  readonly name: string;
  readonly description?: string;
  /** Its breaker: OPEN makes the service DEGRADED, or UNHEALTHY when `critical`. */
  readonly circuitBreaker?: BreakerLike;
  readonly tags?: readonly string[];
  /** @default false */
  readonly critical?: boolean;
}

/** One check in a report. */
export interface CheckReport {
  readonly status: HealthStatus;
  readonly message: string;
  /** Milliseconds the check took (or the timeout, when it ran out). */
  readonly responseTime: number;
  readonly critical: boolean;
  /** Milliseconds since this check's status last changed. */
  readonly uptime: number;
  readonly lastChanged: string;
}

/** One registered service in a report. */
export interface ServiceReport {
  readonly name: string;
  readonly status: HealthStatus;
  readonly critical: boolean;
  readonly tags: readonly string[];
  readonly description?: string;
  readonly breaker?: string;
}

/** `rt.health.report()`; `/health` serves it as JSON. */
export interface HealthReport {
  readonly status: HealthStatus;
  readonly service: string;
  readonly version: string;
  readonly instance: string;
  readonly timestamp: string;
  /** Milliseconds since the runtime started. */
  readonly uptime: number;
  readonly checks: Record<string, CheckReport>;
  readonly circuitBreakers: Record<string, BreakerStatsLike>;
  readonly services: Record<string, ServiceReport>;
  readonly actors: Record<string, ActorReport>;
  /** Present while a manual override holds the overall status. */
  readonly override?: { readonly status: HealthStatus; readonly message: string };
}

/** `rt.health.setAlertConfig`. */
export interface AlertConfig {
  /** @default true */
  readonly enabled?: boolean;
  /** Called with the service (the runtime's own, or a registered service id) whose status changed. */
  readonly handler: (serviceId: string, status: HealthStatus, message: string) => void | Promise<void>;
  /** At most one alert per service per this many ms; the settled state is sent once it elapses. @default 60_000 */
  readonly minInterval?: number;
}
