/**
 * Counts in-flight work and reports only its edges: busy when it goes from none to some, idle
 * when it has stayed at none until the next turn of the event loop. A steady stream of messages
 * that briefly drops to zero between an ack and the next delivery reports nothing.
 */
export class Activity {
  private count = 0;
  private busy = false;
  private checking = false;
  private waiters: (() => void)[] = [];
  private readonly check = (): void => this.settleIdle();

  constructor(private readonly onChange: (busy: boolean) => void) {}

  get inFlight(): number {
    return this.count;
  }

  begin(): void {
    this.count++;
    if (!this.busy) {
      this.busy = true;
      this.onChange(true);
    }
  }

  end(): void {
    if (--this.count === 0 && !this.checking) {
      this.checking = true;
      setImmediate(this.check);
    }
  }

  /** Resolves once nothing is in flight. */
  whenIdle(): Promise<void> {
    if (this.count === 0) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  private settleIdle(): void {
    this.checking = false;
    if (this.count !== 0) return;
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
    if (this.busy) {
      this.busy = false;
      this.onChange(false);
    }
  }
}
