import { base } from './base.js';
import { state } from './state.js';
import { askToken, authHeader } from './token.js';

/** The dashboard's data is behind a read token the reader did not give. */
export class NoTokenError extends Error {
  override readonly name = 'NoTokenError';
}

/**
 * GETs the dashboard's data with the read token; on 401 asks for the token once and tries again.
 * @throws {NoTokenError} when the reader cancels the prompt
 */
export async function fetchData(path: string, init: RequestInit = {}): Promise<Response> {
  for (;;) {
    const res = await fetch(base + path, { ...init, headers: authHeader(state.readToken) });
    if (res.status !== 401) return res;
    const token = await askToken('read');
    if (!token) throw new NoTokenError('the dashboard needs the read token');
    state.readToken = token;
  }
}

/** GETs JSON from the dashboard's data. @throws when the server refuses it */
export async function getJson<T>(path: string): Promise<T> {
  const res = await fetchData(path);
  if (!res.ok) throw new Error(`${path}: ${res.status}`);
  return (await res.json()) as T;
}
