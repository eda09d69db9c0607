/** What the connected nats-server can do beyond 2.9, decided from its version. */
export interface ServerFeatures {
  readonly version: string;
  /** `term(reason)` terminates (2.10+); on 2.9 it is ignored and the message comes back. */
  readonly termWithReason: boolean;
}

/** @returns -1, 0 or 1 as `a` is older than, equal to or newer than `b` (`major.minor.patch`) */
export function compareVersions(a: string, b: string): number {
  const pa = a.split(/[.-]/).map((p) => Number.parseInt(p, 10) || 0);
  const pb = b.split(/[.-]/).map((p) => Number.parseInt(p, 10) || 0);
  for (let i = 0; i < 3; i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return Math.sign(d);
  }
  return 0;
}

/** @returns the features of a server that reports `version` (e.g. `nc.info.version`) */
export function serverFeatures(version: string | undefined): ServerFeatures {
  const v = version ?? '0.0.0';
  return { version: v, termWithReason: compareVersions(v, '2.10.0') >= 0 };
}
