import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * A route that writes its own response: server-sent events, POST bodies, extra headers. The server
 * hands it the request as it came, whatever the method, and checks no token for it.
 */
export interface RawRoute {
  readonly path: string;
  readonly raw: (req: IncomingMessage, res: ServerResponse) => unknown;
  /** Ends what the route keeps open (live streams); called when the server closes. */
  readonly close?: () => void;
}

/** @returns true when `route` writes its own response */
export function isRawRoute(route: object): route is RawRoute {
  return typeof (route as { raw?: unknown }).raw === 'function';
}
