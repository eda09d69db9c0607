/** The part of a served endpoint the dashboard reads (`rt.listEndpoints()`). */
export interface DashboardEndpoint {
  readonly name: string;
  readonly id: string;
  status(): string;
  stats(): {
    readonly requests: number;
    readonly errors: number;
    readonly processingNs: number;
    readonly lastError: string;
    readonly inFlight: number;
    readonly waiting: number;
    readonly timeouts: number;
    readonly rejected: number;
  };
}

/**
 * An endpoint row: cumulative counters as the micro protocol keeps them; the page turns the change
 * between two snapshots into rates and the latency of that interval.
 */
export interface EndpointRow {
  readonly actor: string;
  readonly name: string;
  readonly status: string;
  readonly requests: number;
  readonly errors: number;
  /** Total handling time, in nanoseconds. */
  readonly processingNs: number;
  readonly lastError: string;
  readonly inFlight: number;
  readonly waiting: number;
  readonly timeouts: number;
  readonly rejected: number;
}

/** @returns one row per endpoint this runtime serves */
export function endpointRows(endpoints: readonly DashboardEndpoint[]): EndpointRow[] {
  return endpoints.map((e) => ({ actor: e.id, name: e.name, status: e.status(), ...e.stats() }));
}
