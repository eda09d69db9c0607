/** A small listener list: `add` returns its own disposer; a throwing listener does not stop the others. */
export class Listeners<T> {
  private list: ((value: T) => void)[] | undefined;

  /** @returns a function that removes `listener` */
  add(listener: (value: T) => void): () => void {
    (this.list ??= []).push(listener);
    return () => {
      const i = this.list?.indexOf(listener) ?? -1;
      if (i >= 0) this.list?.splice(i, 1);
    };
  }

  emit(value: T): void {
    if (!this.list) return;
    for (const listener of [...this.list]) {
      try {
        listener(value);
      } catch {
        // A listener's bug must not break the transition it was told about.
      }
    }
  }
}
