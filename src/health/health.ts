import type { Supervisor } from '../actors/supervisor/supervisor.js';
import { ValidationError } from '../errors.js';
import type { Transport } from '../transport/transport.js';
import { breakerImpact, checkImpact, worst } from './aggregate.js';
import { AlertThrottle } from './alerts.js';
import { eventLoopCheck, memoryCheck, runCheck, transportCheck, type CheckRun } from './checks.js';
import type {
  AlertConfig,
  BreakerStatsLike,
  CheckReport,
  HealthCheck,
  HealthReport,
  HealthStatus,
  ServiceRegistration,
  ServiceReport,
} from './types.js';
import type { Env } from '../env.js';

/** What the health monitor reads. */
export interface HealthEnvironment extends Env {
  readonly service: string;
  readonly version: string;
  readonly instanceId: string;
  readonly transport: Transport;
  readonly supervisor: Supervisor;
  /** Called with every report (the metrics' health gauge). */
  readonly onReport?: (report: HealthReport) => void;
  /** Registers the transport, event-loop and memory checks. @default true */
  readonly builtinChecks?: boolean;
  /** How long publishes may go unstored before the transport check is UNHEALTHY. @default 30_000 */
  readonly transportUnhealthyAfterMs?: number;
}

/** A dependency for `registerService`, optionally with a check of its own. */
export interface ServiceRegistrationWithCheck extends ServiceRegistration {
  /**
   * Registered as one of the runtime's checks (named by its `name`, reported as such) whose
   * status counts in this service's too: its breaker's or its check's, whichever is worse.
   * @default none
   */
  readonly check?: HealthCheck;
}

/** Told a check's status whenever it changes (see {@link HealthMonitor.watchCheck}). */
export type CheckListener = (status: HealthStatus) => void;

interface CheckEntry {
  readonly def: HealthCheck;
  last: CheckRun | undefined;
  changedAt: number;
}

interface Override {
  readonly status: HealthStatus;
  readonly message: string;
}

/**
 * `rt.health`: custom and built-in checks, registered services and their breakers, supervised
 * actors and manual overrides, aggregated into one status; alerts and broker notices on change.
 * @example
 * rt.health.register({ name: 'db', check: async () => ({ healthy: await db.ping() }), critical: true });
 * const report = await rt.health.report();
 */
export class HealthMonitor {
  private readonly checks = new Map<string, CheckEntry>();
  private readonly services = new Map<string, { reg: ServiceRegistrationWithCheck; off?: () => void }>();
  private readonly checkListeners = new Map<string, Set<CheckListener>>();
  /** Built-in checks still in place: a check of the same name replaces one. */
  private readonly builtins = new Set<string>();
  private readonly overrides = new Map<string, Override>();
  private readonly alerts: AlertThrottle;
  private readonly lastStatus = new Map<string, HealthStatus>();
  private readonly loop = eventLoopCheck();
  private readonly startedAt: number;
  private timer: unknown;
  private evaluating: Promise<HealthReport> | undefined;
  private stopped = false;

  constructor(private readonly env: HealthEnvironment) {
    this.startedAt = env.clock.now();
    this.alerts = new AlertThrottle(env.clock, env.logger);
    if (env.builtinChecks !== false)
      for (const c of [
        transportCheck(env.transport, {
          ...(env.transportUnhealthyAfterMs !== undefined && {
            unhealthyAfterMs: env.transportUnhealthyAfterMs,
          }),
        }),
        this.loop,
        memoryCheck(),
      ]) {
        this.register(c);
        this.builtins.add(c.name);
      }
    // The supervisor actor aggregates; a change of its state is a change of the service's health.
    let aggregate = env.supervisor.getSnapshot().value;
    env.supervisor.actor.subscribe((s) => {
      if (s.value === aggregate) return;
      aggregate = s.value;
      this.changed();
    });
  }

  /**
   * Adds a custom check; one named like a built-in check (`transport`, `event-loop`, `memory`)
   * replaces it, so `register(memoryCheck({ maxHeapRatio: 0.8 }))` tunes the built-in one.
   * @throws {ValidationError} when a check of that name exists (other than a built-in one)
   */
  register(check: HealthCheck): () => void {
    if (this.checks.has(check.name) && !this.builtins.delete(check.name))
      throw new ValidationError(`health check "${check.name}" already registered`);
    this.checks.set(check.name, { def: check, last: undefined, changedAt: this.env.clock.now() });
    return () => {
      this.checks.delete(check.name);
      this.env.supervisor.reportHealth(`check:${check.name}`, undefined);
    };
  }

  /**
   * Calls `listener` with the status of the check named `name` each time it changes (checks run
   * on `report()` and on the `start()` loop), and at once when it has run already.
   * @returns a function that stops the listener
   * @example
   * const off = rt.health.watchCheck('stripe-api', (status) => console.log('stripe-api is', status));
   */
  watchCheck(name: string, listener: CheckListener): () => void {
    let listeners = this.checkListeners.get(name);
    if (!listeners) this.checkListeners.set(name, (listeners = new Set()));
    listeners.add(listener);
    const last = this.checks.get(name)?.last;
    if (last) listener(last.status);
    return () => void listeners.delete(listener);
  }

  /**
   * Registers a dependency, its breaker and its own check; a breaker state change or a change of
   * the check's status re-evaluates the service at once.
   * @throws {ValidationError} when a service of that id, or a check of its check's name, exists
   */
  registerService(reg: ServiceRegistrationWithCheck): () => void {
    if (this.services.has(reg.id)) throw new ValidationError(`service "${reg.id}" already registered`);
    const unregister = reg.check && this.register(reg.check);
    const unwatch = reg.check && this.watchCheck(reg.check.name, () => this.reportService(reg.id));
    const off = reg.circuitBreaker?.on?.('stateChange', () => this.reportService(reg.id));
    this.services.set(reg.id, { reg, ...(off && { off }) });
    this.reportService(reg.id);
    return () => {
      off?.();
      unwatch?.();
      unregister?.();
      this.services.delete(reg.id);
      this.env.supervisor.reportHealth(`service:${reg.id}`, undefined);
    };
  }

  /**
   * Holds a status until cleared: `target` is a check name, a service id, or omitted for the
   * overall status. `status: undefined` clears it.
   */
  setOverride(status: HealthStatus | undefined, message = 'manual override', target?: string): void {
    const key = target ?? '*';
    if (status === undefined) this.overrides.delete(key);
    else this.overrides.set(key, { status, message });
    if (target === undefined) this.env.supervisor.send({ type: 'override.set', status });
    else if (this.services.has(target)) this.reportService(target);
    this.changed();
  }

  /**
   * Configures alerts on status changes of the service and of each registered service, and starts
   * re-evaluating every `intervalMs` (breaker and supervisor changes re-evaluate at once).
   */
  setAlertConfig(config: AlertConfig, intervalMs?: number): void {
    this.alerts.configure(config);
    // checks are polled, so alerts need the evaluation loop running
    if (config.enabled !== false) this.start(intervalMs);
  }

  /** Runs every check (each against its timeout) and aggregates; concurrent calls share one run. */
  report(): Promise<HealthReport> {
    return (this.evaluating ??= this.evaluate().finally(() => (this.evaluating = undefined)));
  }

  /** Re-evaluates every `intervalMs` so that alerts and broker notices follow changes. @default 10_000 */
  start(intervalMs = 10_000): void {
    if (this.timer !== undefined || this.stopped) return;
    const tick = (): void => {
      void this.report().finally(() => {
        if (!this.stopped) this.timer = this.env.clock.setTimeout(tick, intervalMs);
      });
    };
    this.timer = this.env.clock.setTimeout(tick, 0);
  }

  /** Stops the loop, the event-loop histogram and pending alerts. Idempotent. */
  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) this.env.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.loop.stop();
    this.alerts.stop();
    for (const s of this.services.values()) s.off?.();
  }

  private changed(): void {
    if (!this.stopped) void this.report();
  }

  private async evaluate(): Promise<HealthReport> {
    const checks = await this.runChecks(this.env.clock.now());
    // Read once the checks answered: a report (shared by every caller meanwhile) is as of its end.
    const now = this.env.clock.now();
    const { breakers, services } = this.serviceReports();
    const actors = this.env.supervisor.report();
    const whole = this.overrides.get('*');
    const overall = this.env.supervisor.getSnapshot().value;
    const report: HealthReport = {
      status: overall,
      service: this.env.service,
      version: this.env.version,
      instance: this.env.instanceId,
      timestamp: new Date(now).toISOString(),
      uptime: now - this.startedAt,
      checks,
      circuitBreakers: breakers,
      services,
      actors,
      ...(whole && { override: whole }),
    };
    this.notifyChanges(report);
    this.env.onReport?.(report);
    return report;
  }

  private async runChecks(now: number): Promise<Record<string, CheckReport>> {
    const entries = [...this.checks.values()];
    const runs = await Promise.all(entries.map((e) => runCheck(e.def, this.env.clock)));
    const out: Record<string, CheckReport> = {};
    entries.forEach((e, i) => {
      const forced = this.overrides.get(e.def.name);
      const run = forced ? { ...runs[i]!, ...forced } : runs[i]!;
      const critical = e.def.critical ?? false;
      const changed = e.last?.status !== run.status;
      e.last = run;
      if (changed) {
        e.changedAt = now;
        const health = { kind: 'check', status: checkImpact(run.status, critical), message: run.message };
        this.env.supervisor.reportHealth(`check:${e.def.name}`, health);
        for (const listener of this.checkListeners.get(e.def.name) ?? []) listener(run.status);
      }
      out[e.def.name] = {
        ...run,
        critical,
        uptime: now - e.changedAt,
        lastChanged: new Date(e.changedAt).toISOString(),
      };
    });
    return out;
  }

  /** Sends a registered service's status (its breaker's, or its override) to the supervisor actor. */
  private reportService(id: string): void {
    const entry = this.services.get(id);
    if (!entry) return;
    const critical = entry.reg.critical ?? false;
    const status = this.overrides.get(id)?.status ?? this.serviceStatus(entry.reg, critical);
    const health = { kind: 'service', status: checkImpact(status, critical), state: status };
    this.env.supervisor.reportHealth(`service:${id}`, health);
  }

  private serviceReports() {
    const breakers: Record<string, BreakerStatsLike> = {};
    const services: Record<string, ServiceReport> = {};
    for (const [id, { reg }] of this.services) {
      const critical = reg.critical ?? false;
      const stats = reg.circuitBreaker?.stats();
      if (stats) breakers[stats.name] = stats;
      const computed = this.serviceStatus(reg, critical);
      services[id] = {
        name: reg.name,
        status: this.overrides.get(id)?.status ?? computed,
        critical,
        tags: reg.tags ?? [],
        ...(reg.description !== undefined && { description: reg.description }),
        ...(stats && { breaker: stats.name }),
      };
    }
    return { breakers, services };
  }

  /** A service's own status: its breaker's or its check's, whichever is worse. */
  private serviceStatus(reg: ServiceRegistrationWithCheck, critical: boolean): HealthStatus {
    const stats = reg.circuitBreaker?.stats();
    const byBreaker = stats ? breakerImpact(stats, critical) : 'HEALTHY';
    const checked = reg.check && this.checks.get(reg.check.name)?.last?.status;
    return checked ? worst(byBreaker, checkImpact(checked, critical)) : byBreaker;
  }

  private notifyChanges(report: HealthReport): void {
    const message = (id: string, s: HealthStatus) => `${id} is ${s}`;
    this.transition(this.env.service, report.status, summary(report), report);
    for (const [id, s] of Object.entries(report.services))
      this.transition(id, s.status, message(s.name, s.status));
  }

  private transition(id: string, status: HealthStatus, message: string, report?: HealthReport): void {
    const before = this.lastStatus.get(id);
    this.lastStatus.set(id, status);
    if (before === undefined || before === status) return;
    // `service` is the runtime's own on every line: the one that changed is the `target`.
    this.env.logger.info({ target: id, from: before, to: status }, 'health changed');
    this.alerts.change(id, status, message);
    if (report) void this.publish(report);
  }

  private async publish(report: HealthReport): Promise<void> {
    const presence = this.env.transport.presence?.();
    if (!presence) return;
    try {
      await presence.publishStatus(this.env.service, new TextEncoder().encode(JSON.stringify(report)));
    } catch (err) {
      this.env.logger.warn({ err }, 'could not publish the health change');
    }
  }
}

/** One line naming what is not healthy. */
function summary(report: HealthReport): string {
  const bad = [
    ...Object.entries(report.checks)
      .filter(([, c]) => c.status !== 'HEALTHY')
      .map(([n, c]) => `${n}: ${c.message}`),
    ...Object.entries(report.services)
      .filter(([, s]) => s.status !== 'HEALTHY')
      .map(([n, s]) => `${n}: ${s.status}`),
    ...Object.entries(report.actors)
      .filter(([, a]) => a.status !== 'running')
      .map(([n, a]) => `${n}: ${a.status}`),
  ];
  return bad.length
    ? `${report.service} is ${report.status} (${bad.join('; ')})`
    : `${report.service} is ${report.status}`;
}
