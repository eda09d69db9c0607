/** Something that shuts down gracefully on a signal. */
export interface SignalTarget {
  /** @returns whether every step finished before the deadline */
  shutdownForSignal(signal: NodeJS.Signals): Promise<boolean>;
}

const SIGNALS: readonly NodeJS.Signals[] = ['SIGTERM', 'SIGINT'];
const targets = new Set<SignalTarget>();
let received: NodeJS.Signals | undefined;

async function onSignal(signal: NodeJS.Signals): Promise<void> {
  if (received) {
    // a second signal while shutting down: stop waiting
    process.exit(130);
  }
  received = signal;
  const results = await Promise.all([...targets].map((t) => t.shutdownForSignal(signal)));
  process.exit(results.every(Boolean) ? 0 : 1);
}

function handler(signal: NodeJS.Signals): void {
  void onSignal(signal);
}

/**
 * Shuts `target` down on SIGTERM / SIGINT, then exits (0, or 1 when the deadline abandoned work).
 * One process listener per signal serves every runtime; it is removed with the last runtime.
 * @returns a function that unregisters the target
 */
export function handleSignals(target: SignalTarget): () => void {
  if (targets.size === 0) for (const s of SIGNALS) process.on(s, handler);
  targets.add(target);
  return () => {
    if (!targets.delete(target) || targets.size > 0 || received) return;
    for (const s of SIGNALS) process.off(s, handler);
  };
}
