/** A competitor for work: takes items up to its capacity. */
export interface Competitor {
  readonly capacity: number;
  inFlight: number;
}

/**
 * Competitors served round-robin, each up to its capacity, as the instances of a group share a
 * JetStream pull consumer. Wake-ups are coalesced: one pump per microtask, however many publishes
 * and settles ask for one.
 */
export class Competition<M extends Competitor> {
  readonly members: M[] = [];
  private rr = 0;
  private scheduled = false;
  private readonly runPump = (): void => this.pump();

  /** @param serve - hands `member` the next item; false when there is none */
  constructor(private readonly serve: (member: M) => boolean) {}

  join(member: M): void {
    this.members.push(member);
    this.schedule();
  }

  leave(member: M): void {
    const i = this.members.indexOf(member);
    if (i >= 0) this.members.splice(i, 1);
  }

  /** Asks for a pump at the end of this microtask (a no-op while one is due or nobody competes). */
  schedule(): void {
    if (this.scheduled || this.members.length === 0) return;
    this.scheduled = true;
    queueMicrotask(this.runPump);
  }

  private pump(): void {
    this.scheduled = false;
    const members = this.members;
    let full = 0;
    while (full < members.length) {
      const member = members[this.rr++ % members.length]!;
      if (member.inFlight >= member.capacity) {
        full++;
        continue;
      }
      full = 0;
      if (!this.serve(member)) return;
    }
  }
}
