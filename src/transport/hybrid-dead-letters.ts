import type { DeadLetter, DeadLetterQuery, DeadLetterStore } from './dead-letters.js';

/** Where a type's events live; see `hybrid.ts`. */
type SideOf = (type: string) => 'local' | 'remote' | 'both';

/**
 * Dead letters of local events carry this prefix before the local store's id: the two stores
 * number their records apart (`'1'` on memory, a stream sequence on NATS), so an id must say
 * which store it belongs to.
 */
export const LOCAL_DEAD_LETTER_PREFIX = 'local:';

/** A query for one side, or undefined when nothing on that side can match. */
interface Split {
  readonly local: DeadLetterQuery | undefined;
  readonly remote: DeadLetterQuery | undefined;
  /** Set when the query names ids: the local records it selects are checked again (see {@link pick}). */
  readonly localIds: ReadonlySet<string> | undefined;
}

/**
 * The dead letters of a hybrid transport: the remote store and the local one, seen as one. A
 * list merges both by `failedAt`; `get`, `redrive` and `purge` go to where each letter lives,
 * so a local event's redrive goes back to the local bus and never reaches the broker.
 */
export class HybridDeadLetters implements DeadLetterStore {
  constructor(
    private readonly remote: DeadLetterStore,
    private readonly local: DeadLetterStore,
    private readonly sideOf: SideOf,
  ) {}

  /** Oldest first across both stores, up to `limit` (@default 100). */
  async list(query?: DeadLetterQuery & { readonly limit?: number }): Promise<DeadLetter[]> {
    const limit = query?.limit ?? 100;
    const split = this.split(query);
    const [local, remote] = await Promise.all([
      this.localMatches(split, limit),
      split.remote ? this.remote.list({ ...split.remote, limit }) : [],
    ]);
    return [...local, ...remote].sort(byFailedAt).slice(0, limit);
  }

  async get(id: string): Promise<DeadLetter | undefined> {
    if (!id.startsWith(LOCAL_DEAD_LETTER_PREFIX)) return this.remote.get(id);
    const dl = await this.local.get(id.slice(LOCAL_DEAD_LETTER_PREFIX.length));
    return dl && marked(dl);
  }

  async count(query?: DeadLetterQuery): Promise<number> {
    const split = this.split(query);
    const [local, remote] = await Promise.all([
      split.localIds ? this.localMatches(split, Infinity).then((l) => l.length) : this.countLocal(split),
      split.remote ? this.remote.count(split.remote) : 0,
    ]);
    return local + remote;
  }

  async redrive(query?: DeadLetterQuery): Promise<{ redriven: number }> {
    const split = this.split(query);
    const [local, remote] = await Promise.all([
      this.onLocal(split, (q) => this.local.redrive(q).then((r) => r.redriven)),
      split.remote ? this.remote.redrive(split.remote).then((r) => r.redriven) : 0,
    ]);
    return { redriven: local + remote };
  }

  async purge(query?: DeadLetterQuery): Promise<{ purged: number }> {
    const split = this.split(query);
    const [local, remote] = await Promise.all([
      this.onLocal(split, (q) => this.local.purge(q).then((r) => r.purged)),
      split.remote ? this.remote.purge(split.remote).then((r) => r.purged) : 0,
    ]);
    return { purged: local + remote };
  }

  /** Which store a query reaches: by its type's side, and by the ids it names. */
  private split(query: DeadLetterQuery = {}): Split {
    const side = query.type === undefined ? 'both' : this.sideOf(query.type);
    let local = side === 'remote' ? undefined : query;
    let remote = side === 'local' ? undefined : query;
    if (!query.ids) return { local, remote, localIds: undefined };
    const plain = query.ids.filter((id) => !id.startsWith(LOCAL_DEAD_LETTER_PREFIX));
    // An id without the prefix is a remote record's id, or an event's id (which is unique anywhere).
    const localIds = new Set(query.ids);
    const stripped = query.ids.map((id) => id.replace(LOCAL_DEAD_LETTER_PREFIX, ''));
    local = local && { ...local, ids: stripped };
    remote = remote && (plain.length > 0 ? { ...remote, ids: plain } : undefined);
    return { local, remote, localIds };
  }

  /** The local records a query selects, with their prefixed ids. */
  private async localMatches(split: Split, limit: number): Promise<DeadLetter[]> {
    if (!split.local) return [];
    const found = await this.local.list({ ...split.local, limit: split.localIds ? Infinity : limit });
    return pick(found.map(marked), split.localIds).slice(0, limit);
  }

  private countLocal(split: Split): Promise<number> {
    return split.local ? this.local.count(split.local) : Promise.resolve(0);
  }

  /**
   * Runs a redrive or purge on the local store; with ids, on exactly the records they select (the
   * local store alone would also take a bare remote id such as `'3'` for one of its own).
   */
  private async onLocal(split: Split, run: (q: DeadLetterQuery) => Promise<number>): Promise<number> {
    if (!split.local) return 0;
    if (!split.localIds) return run(split.local);
    const ids = (await this.localMatches(split, Infinity)).map((dl) => unmarked(dl.id));
    return ids.length === 0 ? 0 : run({ ids });
  }
}

/** Keeps the records whose prefixed id, or whose event's id, was asked for. */
function pick(records: DeadLetter[], ids: ReadonlySet<string> | undefined): DeadLetter[] {
  if (!ids) return records;
  return records.filter((dl) => ids.has(dl.id) || ids.has(dl.event.id));
}

function marked(dl: DeadLetter): DeadLetter {
  return { ...dl, id: LOCAL_DEAD_LETTER_PREFIX + dl.id };
}

function unmarked(id: string): string {
  return id.slice(LOCAL_DEAD_LETTER_PREFIX.length);
}

function byFailedAt(a: DeadLetter, b: DeadLetter): number {
  return a.failedAt < b.failedAt ? -1 : a.failedAt > b.failedAt ? 1 : 0;
}
