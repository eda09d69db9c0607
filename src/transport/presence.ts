/** How a runtime instance describes itself to discovery. */
export interface ServiceAdvert {
  /** The service name; letters, digits, `-` and `_` (other characters become `_`). */
  readonly name: string;
  /** Unique per instance. */
  readonly id: string;
  /** Semver. */
  readonly version: string;
  readonly description?: string;
  readonly metadata?: Readonly<Record<string, string>>;
  /** The instance's current health, served in STATS and on its health endpoint. */
  readonly health: () => Promise<unknown>;
}

/** One live instance found by `rt.discover(service)`. */
export interface DiscoveredInstance {
  readonly name: string;
  readonly id: string;
  readonly version: string;
  readonly metadata: Readonly<Record<string, string>>;
  /** When the instance started (ISO 8601). */
  readonly started?: string;
  /** Its health as it reported it in STATS, when it did. */
  readonly health?: unknown;
}

/**
 * Where a transport lets service instances announce themselves and watch each other: health
 * changes on a subject, and discovery (on NATS, the `$SRV` PING/INFO/STATS micro protocol that the
 * `nats` CLI understands). A transport without such a place leaves `Transport.presence` unset.
 */
export interface ServicePresence {
  /** Publishes a health change (a JSON report); on NATS to `<prefix>.health.<service>`. */
  publishStatus(service: string, body: Uint8Array): Promise<void>;
  /** Answers discovery for this instance until the returned `stop()`. */
  advertise(advert: ServiceAdvert): Promise<{ stop(): Promise<void> }>;
  /** Lists the live instances of `service` that answer within `timeoutMs`. */
  discover(service: string, timeoutMs: number): Promise<DiscoveredInstance[]>;
}
