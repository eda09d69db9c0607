/**
 * Resolves after `ms` without keeping the process alive: for backoffs between retries, which must
 * not hold a process that has nothing else left to do.
 */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
