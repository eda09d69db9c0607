/**
 * Things found by name, held weakly: the process-wide lookup `protect(adapter, { breaker: 'name' })`
 * resolves through, so that a standalone breaker nobody holds can still be collected.
 */
export class WeakNameIndex<T extends { readonly name: string }> {
  private readonly byName = new Map<string, WeakRef<T>>();

  /** Makes `item` the one its name resolves to (the most recently remembered wins). */
  remember(item: T): void {
    this.byName.set(item.name, new WeakRef(item));
  }

  /** Forgets `item` if its name still resolves to it. */
  forget(item: T): void {
    if (this.byName.get(item.name)?.deref() === item) this.byName.delete(item.name);
  }

  /** @returns the most recently remembered live item named `name` */
  find(name: string): T | undefined {
    const item = this.byName.get(name)?.deref();
    if (!item) this.byName.delete(name);
    return item;
  }
}
