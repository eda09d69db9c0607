import type { Readiness } from '../health/readiness.js';
import type { HealthReport } from '../health/types.js';
import type { Route } from './server.js';

/** What the built-in routes read from a runtime. */
export interface ObservedRuntime {
  readonly health: { report(): Promise<HealthReport> };
  readonly metrics: { text(): Promise<string>; readonly registry: { readonly contentType: string } };
  readiness(): Readiness;
}

/** Kubernetes' names for the health routes: `/healthz`, `/livez`, `/readyz`. */
export const K8S_ALIASES = {
  '/healthz': '/health',
  '/livez': '/health/live',
  '/readyz': '/health/ready',
} as const;

/**
 * The built-in routes: `/health` (the JSON report, 503 when UNHEALTHY), `/health/live`,
 * `/health/ready` (503 until every subscriber consumes and once shutdown begins), open to anyone,
 * also under Kubernetes' names (`/healthz`, `/livez`, `/readyz`); `/metrics`, which needs the read
 * token (or the admin token) when one is configured.
 * @returns a route table keyed by path; add more routes to it before serving
 */
export function runtimeRoutes(rt: ObservedRuntime): Map<string, Route> {
  const routes: Route[] = [
    {
      path: '/health',
      handle: async () => {
        const report = await rt.health.report();
        return { status: report.status === 'UNHEALTHY' ? 503 : 200, body: JSON.stringify(report) };
      },
    },
    { path: '/health/live', anyHost: true, handle: () => ({ status: 200, body: '{"status":"UP"}' }) },
    {
      path: '/health/ready',
      anyHost: true,
      handle: () => {
        const r = rt.readiness();
        return {
          status: r.ready ? 200 : 503,
          body: JSON.stringify({ status: r.ready ? 'READY' : 'NOT_READY', ...r }),
        };
      },
    },
    {
      path: '/metrics',
      scope: 'read',
      handle: async () => ({
        status: 200,
        body: await rt.metrics.text(),
        contentType: rt.metrics.registry.contentType,
      }),
    },
  ];
  const table = new Map(routes.map((r) => [r.path, r]));
  for (const [alias, path] of Object.entries(K8S_ALIASES))
    table.set(alias, { ...table.get(path)!, path: alias });
  return table;
}
