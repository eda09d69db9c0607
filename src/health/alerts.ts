import type { Clock } from '../time/clock.js';
import type { Logger } from '../logging.js';
import type { AlertConfig, HealthStatus } from './types.js';

interface Channel {
  /** Last status sent, and when. */
  sentStatus: HealthStatus | undefined;
  sentAt: number;
  /** The latest change not yet sent, waiting for the interval to pass. */
  pending: { status: HealthStatus; message: string } | undefined;
  timer: unknown;
}

/**
 * Sends health alerts without storms: at most one per service per `minInterval`. A change inside
 * the interval waits; when the interval ends the latest state is sent, unless it is the state
 * already reported (a flap that settled back).
 * @example
 * const alerts = new AlertThrottle(clock, logger);
 * alerts.configure({ handler: (id, status, msg) => pager.send(id, status, msg), minInterval: 60_000 });
 * alerts.change('payments', 'DEGRADED', 'breaker stripe OPEN');
 */
export class AlertThrottle {
  private config: AlertConfig | undefined;
  private readonly channels = new Map<string, Channel>();

  constructor(
    private readonly clock: Clock,
    private readonly logger: Logger,
  ) {}

  configure(config: AlertConfig): void {
    this.config = config;
  }

  /** Reports a service's new status; sent now, or once its interval has passed. */
  change(serviceId: string, status: HealthStatus, message: string): void {
    const config = this.config;
    if (!config || config.enabled === false) return;
    let ch = this.channels.get(serviceId);
    if (!ch)
      this.channels.set(
        serviceId,
        (ch = { sentStatus: undefined, sentAt: 0, pending: undefined, timer: undefined }),
      );
    const minInterval = config.minInterval ?? 60_000;
    const wait = ch.sentStatus === undefined ? 0 : ch.sentAt + minInterval - this.clock.now();
    if (wait <= 0 && ch.timer === undefined) return this.send(serviceId, ch, status, message);
    ch.pending = { status, message };
    ch.timer ??= this.clock.setTimeout(() => this.flush(serviceId), Math.max(0, wait));
  }

  private flush(serviceId: string): void {
    const ch = this.channels.get(serviceId);
    if (!ch) return;
    ch.timer = undefined;
    const pending = ch.pending;
    ch.pending = undefined;
    if (pending && pending.status !== ch.sentStatus)
      this.send(serviceId, ch, pending.status, pending.message);
  }

  private send(serviceId: string, ch: Channel, status: HealthStatus, message: string): void {
    ch.sentStatus = status;
    ch.sentAt = this.clock.now();
    try {
      const result = this.config?.handler(serviceId, status, message);
      if (result) result.catch((err: unknown) => this.logger.error({ err }, 'alert handler failed'));
    } catch (err) {
      this.logger.error({ err }, 'alert handler failed');
    }
  }

  /** Drops pending alerts and their timers. */
  stop(): void {
    for (const ch of this.channels.values()) if (ch.timer !== undefined) this.clock.clearTimeout(ch.timer);
    this.channels.clear();
  }
}
