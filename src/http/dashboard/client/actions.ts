import { base } from './base.js';
import { showNotice } from './dom.js';
import { state } from './state.js';
import { askToken, authHeader } from './token.js';

/** What an admin action answers: what it did, or why it refused. */
interface ActionReply {
  readonly error?: string;
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * Sends an admin action with the admin token, asking for the token the first time; the token is
 * kept in memory once the server accepts it and forgotten when it refuses it.
 * @example
 * await postAction('/api/breakers/action', { name: 'payments', action: 'open' });
 */
export async function postAction(path: string, body: unknown): Promise<void> {
  if (state.snap && !state.snap.adminEnabled) {
    return showNotice('Read-only: no admin token is configured on the server.');
  }
  try {
    const token = state.token ?? (await askToken('admin'));
    if (!token) return showNotice('Cancelled: the action needs the admin token.');
    const res = await fetch(base + path, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...authHeader(token) },
      body: JSON.stringify(body),
    });
    const out: ActionReply = await res.json();
    if (res.status === 401 || (res.status === 403 && state.snap?.adminEnabled !== false)) {
      state.token = null;
      return showNotice('Refused: unauthorized (that is not the admin token).');
    }
    if (!res.ok) return showNotice(`Refused: ${out.error || res.status}`);
    state.token = token;
    showNotice(`Done: ${JSON.stringify(out)}`, true);
    // The next snapshot reloads the list, whatever its count.
    state.dlCount = -1;
  } catch (err) {
    showNotice(`Failed: ${messageOf(err)}`);
  }
}
