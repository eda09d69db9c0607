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

/**
 * Characters a terminal would act on rather than print: C0 and C1 controls (ESC and CSI start
 * escape sequences), DEL, and the bidirectional overrides that reorder what is shown.
 */
// eslint-disable-next-line no-control-regex
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
const NAMED: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t', '\u001b': '\\e' };
const hex = (c: string): string => {
  const code = c.charCodeAt(0);
  return code <= 0xff
    ? `\\x${code.toString(16).padStart(2, '0')}`
    : `\\u${code.toString(16).padStart(4, '0')}`;
};

/**
 * Makes text from the broker (event data, error messages, names) safe to print on a terminal:
 * every control character is shown escaped (`\e`, `\x9b`, `\n`, `\u202e`) instead of acting.
 * @example
 * safe('boom\u001b[2J'); // 'boom\\e[2J'
 */
export function safe(text: string): string {
  return text.replace(UNSAFE, (c) => NAMED[c] ?? hex(c));
}

/** What JSON.stringify leaves raw in strings that a terminal acts on (it escapes C0 controls itself). */
const UNSAFE_IN_JSON = /[\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/** The JSON text of `value` with nothing a terminal acts on: what JSON leaves raw is written `\uXXXX`. */
export function safeJson(value: unknown, indent?: number): string {
  return JSON.stringify(value, null, indent).replace(
    UNSAFE_IN_JSON,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/** Writes `value` as JSON on stdout (terminal-safe: C1 controls and bidi overrides escaped). */
export function printJson(value: unknown): void {
  process.stdout.write(`${safeJson(value, 2)}\n`);
}

/** One column of a table: its heading and width (the last column takes what it needs). */
export interface Column {
  readonly title: string;
  readonly width: number;
}

/**
 * Writes a table with a header line: cells are made terminal-safe and padded to their column, then
 * painted (`paint` per cell, by column index) so that colour codes do not count towards the width.
 */
export function printTable(
  columns: readonly Column[],
  rows: readonly (readonly string[])[],
  paintCell: (column: number, cell: string, padded: string) => string = (_c, _cell, padded) => padded,
): void {
  const line = (cells: readonly string[], p: typeof paintCell) =>
    cells
      .map((cell, i) => {
        const text = safe(cell);
        const last = i === columns.length - 1;
        return p(i, text, last ? text : text.padEnd(columns[i]?.width ?? 0));
      })
      .join(' ')
      .trimEnd();
  const header = line(
    columns.map((c) => c.title),
    (_i, _c, padded) => paint('bold', padded),
  );
  process.stdout.write(`${[header, ...rows.map((r) => line(r, paintCell))].join('\n')}\n`);
}
