import { byId } from './dom.js';

/** Which token a prompt asks for. */
export type TokenKind = 'read' | 'admin';

const PROMPTS: Record<TokenKind, { text: string; placeholder: string }> = {
  read: {
    text: "This dashboard's data needs the read token (or the admin token).",
    placeholder: 'read token',
  },
  admin: { text: 'This action needs the admin token.', placeholder: 'admin token' },
};

let asking: Promise<string | null> | undefined;

/** Asks for a token in the page's dialog (one prompt at a time); null when cancelled. */
export function askToken(kind: TokenKind): Promise<string | null> {
  asking ??= new Promise<string | null>((resolve) => {
    const dialog = byId('token-dialog', HTMLDialogElement);
    const input = byId('token-input', HTMLInputElement);
    byId('token-prompt').textContent = PROMPTS[kind].text;
    input.placeholder = PROMPTS[kind].placeholder;
    input.value = '';
    dialog.onclose = () => {
      asking = undefined;
      resolve(dialog.returnValue === 'ok' && input.value !== '' ? input.value : null);
    };
    dialog.showModal();
  });
  return asking;
}

/** The `Authorization` header for a token, or none. */
export function authHeader(token: string | null): Record<string, string> {
  return token ? { authorization: `Bearer ${token}` } : {};
}
