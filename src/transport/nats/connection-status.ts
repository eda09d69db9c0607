import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from '../../logging.js';
import type { TransportStatus } from '../transport.js';

/** Connection states as bulwark reports them. */
export const ConnectionState = {
  connecting: 'connecting',
  connected: 'connected',
  disconnected: 'disconnected',
  reconnecting: 'reconnecting',
  closed: 'closed',
} as const;
export type ConnectionState = (typeof ConnectionState)[keyof typeof ConnectionState];

/**
 * Follows the connection's status iterator and tells listeners about every change of state
 * (not about every change of the outbox size, which `status()` reads when asked).
 */
export class ConnectionStatus {
  state: ConnectionState = ConnectionState.connecting;
  private readonly listeners = new Set<(s: TransportStatus) => void>();

  constructor(
    private readonly outboxSize: () => number,
    private readonly logger: Logger,
  ) {}

  get connected(): boolean {
    return this.state === ConnectionState.connected;
  }

  snapshot(server?: string): TransportStatus {
    return {
      kind: 'nats',
      connected: this.connected,
      state: this.state,
      storing: this.connected,
      ...(server !== undefined && { server }),
      outboxSize: this.outboxSize(),
    };
  }

  on(listener: (s: TransportStatus) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  set(state: ConnectionState, server?: string): void {
    if (state === this.state) return;
    this.state = state;
    const snap = this.snapshot(server);
    for (const l of this.listeners) {
      try {
        l(snap);
      } catch (err) {
        this.logger.warn({ err }, 'transport status listener threw');
      }
    }
  }

  /** Runs until the connection closes; `onChange` sees each new state first. */
  async follow(nc: NatsConnection, onChange: (state: ConnectionState) => void): Promise<void> {
    const apply = (state: ConnectionState): void => {
      if (state === this.state) return;
      onChange(state);
      this.set(state, nc.getServer());
    };
    void nc.closed().then(() => apply(ConnectionState.closed));
    for await (const s of nc.status()) {
      if (s.type === 'disconnect') apply(ConnectionState.disconnected);
      else if (s.type === 'reconnecting') apply(ConnectionState.reconnecting);
      else if (s.type === 'reconnect') apply(ConnectionState.connected);
      else if (s.type === 'close') apply(ConnectionState.closed);
    }
  }
}
