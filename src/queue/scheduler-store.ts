import { KvConflictError, type KeyValueStore, type KvEntry } from '../transport/key-value.js';
import {
  decodeRecord,
  encodeRecord,
  queueKeyPrefix,
  sameDefinition,
  schedulerInfo,
  type SchedulerDefinition,
  type SchedulerInfo,
  type SchedulerRecord,
} from './schedule.js';

/**
 * The job schedulers' definitions in a key-value bucket: every write is a compare-and-set, so
 * processes that write at once never undo each other, and every one can be retried.
 */

/** Compare-and-set rounds before a write gives up (each lost round means another writer won). */
const CAS_ROUNDS = 10;

/** @returns the records of `queue` in the bucket, by key */
export async function readSchedulers(
  kv: KeyValueStore,
  queue: string,
): Promise<Map<string, SchedulerRecord>> {
  const prefix = queueKeyPrefix(queue);
  const out = new Map<string, SchedulerRecord>();
  const keys = (await kv.keys()).filter((k) => k.startsWith(prefix)).sort();
  for (const key of keys) {
    const entry = await kv.get(key);
    const record = entry && decodeRecord(entry.value);
    if (record) out.set(key, record);
  }
  return out;
}

/**
 * Lists the schedulers of `queue`, ordered by name.
 * @param now - the time `nextSlot` is computed at
 */
export async function listSchedulers(
  kv: KeyValueStore,
  queue: string,
  now: number,
): Promise<SchedulerInfo[]> {
  const records = [...(await readSchedulers(kv, queue)).values()];
  return records.map((r) => schedulerInfo(r, now)).sort((a, b) => a.name.localeCompare(b.name));
}

/** Moves a definition's last slot up to `slot`, unless another process already did. */
export async function recordLast(
  kv: KeyValueStore,
  key: string,
  slot: number,
  first: KvEntry,
): Promise<void> {
  let entry: KvEntry | null = first;
  for (let round = 0; round < CAS_ROUNDS && entry; round++) {
    const record = decodeRecord(entry.value);
    if (!record || (record.last !== undefined && record.last >= slot)) return;
    try {
      await kv.update(key, encodeRecord({ ...record, last: slot }), entry.revision);
      return;
    } catch (err) {
      if (!(err instanceof KvConflictError)) throw err;
      entry = await kv.get(key);
    }
  }
}

/**
 * Writes a definition; an unchanged one writes nothing. A replaced one keeps its last slot, so no
 * slot is added twice, and owes no slot from before the change (`since` is `now()`).
 * @returns the record as stored, and whether this call wrote it
 * @throws {KvConflictError} when other writers keep winning
 */
export async function writeDefinition(
  kv: KeyValueStore,
  key: string,
  def: SchedulerDefinition,
  now: () => number,
): Promise<{ record: SchedulerRecord; written: boolean }> {
  for (let round = 0; round < CAS_ROUNDS; round++) {
    const entry = await kv.get(key);
    const old = entry && decodeRecord(entry.value);
    if (old && sameDefinition(old, def)) return { record: old, written: false };
    const last = old?.last;
    const record: SchedulerRecord = { ...def, since: now(), ...(last !== undefined && { last }) };
    try {
      if (entry) await kv.update(key, encodeRecord(record), entry.revision);
      else await kv.create(key, encodeRecord(record));
      return { record, written: true };
    } catch (err) {
      if (!(err instanceof KvConflictError)) throw err;
    }
  }
  throw new KvConflictError(key, `scheduler "${def.name}" is being redefined concurrently`);
}

/**
 * Deletes a definition, only as it was read: one rewritten in between is read again.
 * @returns whether it existed
 * @throws {KvConflictError} when other writers keep winning
 */
export async function deleteDefinition(kv: KeyValueStore, key: string): Promise<boolean> {
  for (let round = 0; round < CAS_ROUNDS; round++) {
    const entry = await kv.get(key);
    if (!entry) return false;
    try {
      await kv.delete(key, entry.revision);
      return true;
    } catch (err) {
      if (!(err instanceof KvConflictError)) throw err;
    }
  }
  throw new KvConflictError(key, 'scheduler is being redefined concurrently');
}
