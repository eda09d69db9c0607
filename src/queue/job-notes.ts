import { ValidationError } from '../errors.js';
import type { JobNotes } from './store.js';
import { MAX_JOB_LOG_LINE, MAX_JOB_LOG_LINES, type JobProgress } from './types.js';

/**
 * @returns `value` when it is a progress a store can keep: a finite number, or a plain object
 * @throws {ValidationError} otherwise
 */
export function checkProgress(value: unknown): JobProgress {
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    try {
      JSON.stringify(value);
      return value as JobProgress;
    } catch (cause) {
      throw new ValidationError('job progress must be JSON', [], { cause });
    }
  }
  throw new ValidationError('job progress must be a finite number or a JSON object');
}

/**
 * Appends `line` to `logs` in place, cut at {@link MAX_JOB_LOG_LINE} characters, keeping the newest
 * {@link MAX_JOB_LOG_LINES}.
 * @throws {ValidationError} when `line` is not a string
 */
export function pushLog(logs: string[], line: unknown): void {
  if (typeof line !== 'string') throw new ValidationError('a job log line must be a string');
  logs.push(line.length > MAX_JOB_LOG_LINE ? `${line.slice(0, MAX_JOB_LOG_LINE - 1)}…` : line);
  if (logs.length > MAX_JOB_LOG_LINES) logs.splice(0, logs.length - MAX_JOB_LOG_LINES);
}

/** @returns the notes' fields to spread into a `JobInfo` (nothing for absent ones) */
export function notesInfo(notes: JobNotes | undefined): JobNotes {
  if (!notes) return {};
  return {
    ...(notes.progress !== undefined && { progress: notes.progress }),
    ...(notes.logs && notes.logs.length > 0 && { logs: notes.logs }),
  };
}
