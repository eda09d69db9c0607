import { base } from './base.js';
import { byId, showNotice } from './dom.js';
import { state } from './state.js';

/** What an admin action answers: what it did, or why it refused. */
interface ActionReply {
  readonly error?: string;
}

/** Asks for the admin token in the page's dialog; null when cancelled. */
function askToken(): Promise<string | null> {
  return new Promise((resolve) => {
    const dialog = byId('token-dialog', HTMLDialogElement);
    const input = byId('token-input', HTMLInputElement);
    input.value = '';
    dialog.onclose = () => resolve(dialog.returnValue === 'ok' ? input.value : null);
    dialog.showModal();
  });
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
    const token = state.token ?? (await askToken());
    if (!token) return showNotice('Cancelled: the action needs the admin token.');
    const res = await fetch(base + path, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify(body),
    });
    const out: ActionReply = await res.json();
    if (res.status === 401) {
      state.token = null;
      return showNotice('Refused: unauthorized (wrong admin token).');
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
