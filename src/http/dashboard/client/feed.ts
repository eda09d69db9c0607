import { byId, showNotice } from './dom.js';
import { fetchData, NoTokenError } from './data.js';

/** Waits a little before connecting again. */
const RETRY_MS = 1_000;

/** The `snapshot` frames of a server-sent event stream, parsed as they arrive. */
async function readFrames(
  body: ReadableStream<Uint8Array>,
  onSnapshot: (data: string) => void,
): Promise<void> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += decoder.decode(value, { stream: true });
    for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
      const frame = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const data = /^data: (.*)$/m.exec(frame)?.[1];
      if (frame.startsWith('event: snapshot') && data) onSnapshot(data);
    }
  }
}

/**
 * Follows the live feed for as long as the page is open, reconnecting after a drop. It reads the
 * stream with `fetch` rather than `EventSource`, which cannot send the read token.
 */
export async function follow(onSnapshot: (data: string) => void): Promise<void> {
  for (;;) {
    try {
      const res = await fetchData('/events');
      if (res.ok && res.body) await readFrames(res.body, onSnapshot);
      else if (res.status === 503) showNotice('The server serves too many live pages; retrying.');
    } catch (err) {
      if (err instanceof NoTokenError) {
        byId('conn').textContent = 'no read token';
        return showNotice('The dashboard needs the read token: reload the page to give it.');
      }
    }
    byId('conn').textContent = 'reconnecting…';
    await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
  }
}
