/**
 * The page's element with this id; throws when the page has none (or one of another type).
 * @example
 * const filter = byId('filter', HTMLSelectElement);
 */
export function byId(id: string): HTMLElement;
export function byId<T extends HTMLElement>(id: string, type: new () => T): T;
export function byId(id: string, type: new () => HTMLElement = HTMLElement): HTMLElement {
  const el = document.getElementById(id);
  if (!(el instanceof type)) throw new Error(`the page has no #${id}`);
  return el;
}

/** Shows `text` in the notice bar (green when `ok`, red otherwise); empty text hides it. */
export function showNotice(text: string, ok = false): void {
  const n = byId('notice');
  n.textContent = text;
  n.className = ok ? 'info' : '';
  n.hidden = !text;
}

/** Fills a table body with one row per item, or one row saying it is empty. */
export function fillRows<T>(
  id: string,
  items: readonly T[],
  render: (item: T) => string,
  empty: string,
): void {
  byId(id).innerHTML = items.length
    ? items.map((item) => render(item)).join('')
    : `<tr><td colspan="8" class="empty">${empty}</td></tr>`;
}
