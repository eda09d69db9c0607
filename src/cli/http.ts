import { causeOf, CONNECT_TIMEOUT_MS } from './broker.js';
import { CliError } from './output.js';

/**
 * GETs or POSTs JSON at a running service.
 * @throws {CliError} when the service cannot be reached, or answers other than `accept`
 */
export async function fetchJson(
  url: string,
  init: {
    method?: 'GET' | 'POST';
    body?: unknown;
    token?: string | undefined;
    accept?: readonly number[];
  } = {},
): Promise<unknown> {
  let res: Response;
  try {
    res = await fetch(url, {
      method: init.method ?? 'GET',
      signal: AbortSignal.timeout(CONNECT_TIMEOUT_MS * 5),
      headers: {
        accept: 'application/json',
        ...(init.body !== undefined && { 'content-type': 'application/json' }),
        ...(init.token && { authorization: `Bearer ${init.token}` }),
      },
      ...(init.body !== undefined && { body: JSON.stringify(init.body) }),
    });
  } catch (err) {
    throw new CliError(`cannot reach ${new URL(url).origin} (${causeOf(err)})`);
  }
  const text = await res.text();
  if (!(init.accept ?? [200]).includes(res.status)) {
    let reason = text;
    try {
      reason = (JSON.parse(text) as { error?: string }).error ?? text;
    } catch {
      // not JSON: the text itself
    }
    throw new CliError(`${res.status} from ${new URL(url).pathname}: ${reason.slice(0, 200)}`);
  }
  return JSON.parse(text) as unknown;
}
