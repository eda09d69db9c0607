/** A failure the CLI reports in one line and exits 1 for (bad input that parsed, an unreachable server). */
export class CliError extends Error {
  override readonly name = 'CliError';
}

const COLORS = { red: 31, green: 32, yellow: 33, blue: 34, dim: 2, bold: 1 } as const;

/** Colours `text` for a terminal; plain when stdout is not one or `NO_COLOR` is set. */
export function paint(color: keyof typeof COLORS, text: string): string {
  if (!process.stdout.isTTY || process.env.NO_COLOR) return text;
  return `\u001b[${COLORS[color]}m${text}\u001b[0m`;
}

/** The colour of a status word. */
export function statusColor(status: string): keyof typeof COLORS {
  if (['HEALTHY', 'CLOSED', 'running', 'consuming', 'completed'].includes(status)) return 'green';
  if (['DEGRADED', 'HALF_OPEN', 'UNKNOWN', 'restarting'].includes(status)) return 'yellow';
  return 'red';
}

/** Writes `value` as JSON on stdout. */
export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}
