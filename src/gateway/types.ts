/** Why the gateway disconnected a client. */
export const DisconnectReason = {
  /** Its unsent bytes reached `maxBufferedBytes`. */
  slow: 'slow',
  /** A WebSocket that did not answer the last ping. */
  heartbeat: 'heartbeat',
  /** The gateway is closing. */
  closing: 'closing',
} as const;
export type DisconnectReason = (typeof DisconnectReason)[keyof typeof DisconnectReason];

/** Counters of a gateway, for tests, health pages and people. */
export interface GatewayStats {
  /** Clients connected now (WebSocket and SSE). */
  readonly clients: number;
  /** Events received from the broker since the gateway started. */
  readonly received: number;
  /** Events written to clients (one per client per event). */
  readonly sent: number;
  /** Clients disconnected by the gateway, by reason. */
  readonly disconnected: Readonly<Record<DisconnectReason, number>>;
  /** Connections refused: 401 (authorize), 503 (client bound), 400 (bad subscription). */
  readonly refused: { readonly unauthorized: number; readonly full: number; readonly invalid: number };
}
