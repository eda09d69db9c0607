const ENTITIES: Readonly<Record<string, string>> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/** Escapes text for HTML content and double- or single-quoted attribute values. */
export function escapeHtml(value: string): string {
  // String() because JSON.stringify yields undefined for undefined event data, whatever its type says.
  return String(value).replace(/[&<>"']/g, (c) => ENTITIES[c] ?? c);
}

/** A duration in milliseconds, in the largest unit that keeps it readable. */
export function duration(v: number | null | undefined): string {
  // Null as well as absent: both mean "not measured".
  if (v == null) return '—';
  if (v < 1000) return `${Math.round(v)} ms`;
  const s = Math.floor(v / 1000);
  if (s < 120) return `${s} s`;
  const m = Math.floor(s / 60);
  return m < 120 ? `${m} min` : `${Math.floor(m / 60)} h ${m % 60} min`;
}

/** A rate in [0, 1] as a percentage with one decimal. */
export function percent(v: number): string {
  return `${Math.round(v * 1000) / 10} %`;
}
