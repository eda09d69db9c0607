import type { z } from 'zod';
import { ValidationError } from '../errors.js';

/** A map from event type (dotted, lowercase: `'user.created'`) to the zod schema of its payload. */
export type EventSchemas = Record<string, z.ZodType>;

/** The event schema registry made by {@link defineEvents}. */
export interface EventRegistry<S extends EventSchemas = EventSchemas> {
  readonly schemas: S;
  /** Every registered type. */
  readonly types: readonly (keyof S & string)[];
  /** @returns true when `type` is registered. */
  has(type: string): type is keyof S & string;
  /** @returns the schema of `type`, or undefined. */
  schema(type: string): z.ZodType | undefined;
  /**
   * Validates a payload against the schema of its type.
   * @returns the parsed payload (zod's output: defaults applied, unknown keys stripped)
   * @throws {ValidationError} for an unknown type or an invalid payload
   */
  parse<T extends keyof S & string>(type: T, payload: unknown): z.output<S[T]>;
}

/** The event types of a registry. */
export type EventTypeOf<S extends EventSchemas> = keyof S & string;
/** What a publisher passes for `type` (zod's input type). */
export type PayloadInput<S extends EventSchemas, T extends keyof S> = z.input<S[T]>;
/** What a subscriber receives for `type` (zod's output type). */
export type PayloadOf<S extends EventSchemas, T extends keyof S> = z.output<S[T]>;

const TYPE_PATTERN = /^[a-z0-9][a-z0-9_-]*(\.[a-z0-9][a-z0-9_-]*)*$/i;
/**
 * The longest event type: it is part of every subject the type travels on, and a subject must fit
 * NATS's 4 KiB control line with the reply inbox and the prefix.
 */
export const MAX_EVENT_TYPE_LENGTH = 255;

/**
 * Defines the event schema registry: every type a runtime may publish or subscribe to.
 * @throws {ValidationError} when a type name cannot be used as a subject token
 * @example
 * const events = defineEvents({
 *   'user.created': z.object({ id: z.string(), username: z.string() }),
 * });
 */
export function defineEvents<const S extends EventSchemas>(schemas: S): EventRegistry<S> {
  const table = new Map<string, z.ZodType>();
  for (const [type, schema] of Object.entries(schemas)) {
    if (type.length > MAX_EVENT_TYPE_LENGTH) {
      throw new ValidationError(
        `event type "${type.slice(0, 40)}…" is ${type.length} characters long; the limit is ${MAX_EVENT_TYPE_LENGTH}`,
      );
    }
    if (!TYPE_PATTERN.test(type)) {
      throw new ValidationError(
        `event type "${type}" must be dot-separated tokens of letters, digits, '-' or '_'`,
      );
    }
    table.set(type, schema);
  }
  const types = Object.freeze([...table.keys()]) as readonly (keyof S & string)[];
  return {
    schemas,
    types,
    has: (type: string): type is keyof S & string => table.has(type),
    schema: (type: string) => table.get(type),
    parse(type, payload) {
      const schema = table.get(type);
      if (!schema) throw unknownType(type);
      const result = schema.safeParse(payload);
      if (!result.success) {
        throw ValidationError.fromIssues(`invalid "${type}" payload`, result.error.issues);
      }
      return result.data as never;
    },
  };
}

/** @returns the ValidationError raised for a type that is not in the registry. */
export function unknownType(type: string): ValidationError {
  return new ValidationError(`unknown event type "${type}"`, [
    { code: 'custom', path: ['type'], message: `unknown event type "${type}"`, input: type },
  ] as never);
}
