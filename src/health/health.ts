import type { Supervisor } from '../actors/supervisor/supervisor.js';
import { ValidationError } from '../errors.js';
import type { Transport } from '../transport/transport.js';
import { aggregate, breakerImpact, checkImpact } from './aggregate.js';
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
  private readonly services = new Map<string, { reg: ServiceRegistration; off?: () => void }>();
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
      ])
        this.register(c);
    env.supervisor.onNotice(() => this.changed());
  }

  /**
   * Adds a custom check.
   * @throws {ValidationError} when a check of that name exists
   */
  register(check: HealthCheck): () => void {
    if (this.checks.has(check.name))
      throw new ValidationError(`health check "${check.name}" already registered`);
    this.checks.set(check.name, { def: check, last: undefined, changedAt: this.env.clock.now() });
    return () => this.checks.delete(check.name);
  }

  /**
   * Registers a dependency and its breaker; a breaker state change re-evaluates health at once.
   * @throws {ValidationError} when a service of that id exists
   */
  registerService(reg: ServiceRegistration): () => void {
    if (this.services.has(reg.id)) throw new ValidationError(`service "${reg.id}" already registered`);
    const off = reg.circuitBreaker?.on?.('stateChange', () => this.changed());
    this.services.set(reg.id, { reg, ...(off && { off }) });
    return () => {
      off?.();
      this.services.delete(reg.id);
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
    const now = this.env.clock.now();
    const checks = await this.runChecks(now);
    const { breakers, services } = this.serviceReports();
    const actors = this.env.supervisor.report();
    const whole = this.overrides.get('*');
    const status = aggregate({
      checks: Object.values(checks).map((c) => ({ status: c.status, critical: c.critical })),
      breakers: [],
      actors: Object.values(actors),
      ...(whole && { override: whole.status }),
    });
    const overall = whole ? whole.status : worstOf(status, Object.values(services));
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
      if (e.last?.status !== run.status) e.changedAt = now;
      e.last = run;
      const critical = e.def.critical ?? false;
      out[e.def.name] = {
        ...run,
        critical,
        uptime: now - e.changedAt,
        lastChanged: new Date(e.changedAt).toISOString(),
      };
    });
    return out;
  }

  private serviceReports() {
    const breakers: Record<string, BreakerStatsLike> = {};
    const services: Record<string, ServiceReport> = {};
    for (const [id, { reg }] of this.services) {
      const critical = reg.critical ?? false;
      const stats = reg.circuitBreaker?.stats();
      if (stats) breakers[stats.name] = stats;
      const computed = stats ? breakerImpact(stats, critical) : 'HEALTHY';
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
    this.env.logger.info({ service: id, from: before, to: status }, 'health changed');
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

/** A registered service's status counts like an optional check, or fully when it is critical. */
function worstOf(status: HealthStatus, services: readonly ServiceReport[]): HealthStatus {
  const parts = services.map((s) => ({ status: checkImpact(s.status, s.critical), critical: true }));
  return aggregate({ checks: [{ status, critical: true }, ...parts], breakers: [], actors: [] });
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
