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
 * Follows the connection's status iterator and whether publishes are being stored, and tells
 * listeners about every change of either (not about every change of the outbox size, which
 * `status()` reads when asked).
 */
export class ConnectionStatus {
  state: ConnectionState = ConnectionState.connecting;
  /** When the broker last confirmed a write or answered a probe (epoch ms). */
  lastStoredAt = 0;
  private storing = false;
  private notStoringSince: number | undefined = Date.now();
  private reason: string | undefined = 'not connected yet';
  private readonly listeners = new Set<(s: TransportStatus) => void>();

  constructor(
    private readonly outboxSize: () => number,
    private readonly logger: Logger,
  ) {}

  get connected(): boolean {
    return this.state === ConnectionState.connected;
  }

  snapshot(server?: string): TransportStatus {
    const storing = this.storing && this.connected;
    return {
      kind: 'nats',
      connected: this.connected,
      state: this.state,
      storing,
      ...(!storing && {
        notStoringSince: this.notStoringSince ?? Date.now(),
        notStoringForMs: Date.now() - (this.notStoringSince ?? Date.now()),
        reason: this.connected ? (this.reason ?? 'the broker did not confirm a write') : this.state,
      }),
      ...(server !== undefined && { server }),
      outboxSize: this.outboxSize(),
    };
  }

  /** Whether the broker stored (or, probed, could store) the last write; `reason` when not. */
  stored(ok: boolean, reason?: string): void {
    if (ok) this.lastStoredAt = Date.now();
    if (ok === this.storing) return;
    this.storing = ok;
    this.notStoringSince = ok ? undefined : Date.now();
    this.reason = ok ? undefined : reason;
    this.emit();
  }

  on(listener: (s: TransportStatus) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  set(state: ConnectionState, server?: string): void {
    if (state === this.state) return;
    this.state = state;
    // A lost connection stores nothing; a new one is trusted until a write or a probe says otherwise.
    if (state === ConnectionState.connected) this.stored(true);
    else if (this.storing) this.stored(false, state);
    this.emit(server);
  }

  private emit(server?: string): void {
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
