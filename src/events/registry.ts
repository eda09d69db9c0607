import type { z } from 'zod';
import { ValidationError } from '../errors.js';
import type { MatchingTypes } from './patterns.js';

/** Where a type's events travel: `'remote'` through the transport, `'local'` within this process only. */
export type EventScope = 'local' | 'remote';

/**
 * One step of a versioned type's history: how to read events written at an older version.
 * @typeParam Sc - the schema of that older version
 */
export interface Upcaster<Sc extends z.ZodType = z.ZodType> {
  /** The payload schema of the older version; an old event is validated against it first. */
  readonly schema: Sc;
  /** Turns a payload of this version into one of the next version (which is then upcast on, or validated). */
  readonly to: (old: z.output<Sc>) => unknown;
}

/**
 * A type given with its version: subscribers see the newest `schema`; events stored at an older
 * version are upcast step by step (`upcast[1].to`, then `upcast[2].to`, …) before validation.
 */
export interface VersionedEvent<Sc extends z.ZodType = z.ZodType> {
  /** The payload schema of the newest version. */
  readonly schema: Sc;
  /** The newest version, a positive integer. @default 1 */
  readonly version?: number;
  /** For each older version still readable, its schema and the step to the next version. */
  // `any`: each step's input is its own schema's output, which a record of steps cannot name.
  readonly upcast?: Readonly<Record<number, Upcaster<any>>>;
  /** `'local'`: delivered in this process only, never sent to the broker. @default 'remote' */
  readonly scope?: EventScope;
}

/** How a type is declared: a plain zod schema (version 1), or a {@link VersionedEvent}. */
export type EventDefinition = z.ZodType | VersionedEvent;

/** A map from event type (dotted, lowercase: `'user.created'`) to its schema or versioned definition. */
export type EventSchemas = Record<string, EventDefinition>;

/** The newest payload schema of a definition. */
export type SchemaOf<D> = D extends z.ZodType ? D : D extends VersionedEvent<infer Sc> ? Sc : never;

/** A type's definition as the registry holds it: every version's schema resolved. */
export interface ResolvedEvent {
  readonly type: string;
  /** The newest payload schema. */
  readonly schema: z.ZodType;
  /** The newest version (1 for a plain schema). */
  readonly version: number;
  /** The envelope's `dataschema` for the newest version; undefined for an unversioned type. */
  readonly dataschema: string | undefined;
  /** Older versions still readable, by version. */
  readonly upcast: ReadonlyMap<number, Upcaster>;
  readonly scope: EventScope;
}

/** The event schema registry made by {@link defineEvents}. */
export interface EventRegistry<S extends EventSchemas = EventSchemas> {
  /** The definitions as given to {@link defineEvents}. */
  readonly schemas: S;
  /** Every registered type. */
  readonly types: readonly (keyof S & string)[];
  /** @returns true when `type` is registered. */
  has(type: string): type is keyof S & string;
  /** @returns the newest payload schema of `type`, or undefined. */
  schema(type: string): z.ZodType | undefined;
  /** @returns the resolved definition of `type` (versions, upcasters, scope), or undefined. */
  definition(type: string): ResolvedEvent | undefined;
  /** @returns the newest version of `type` (1 when unversioned), or undefined for an unknown type. */
  version(type: string): number | undefined;
  /** @returns the envelope's `dataschema` for `type` (`'bulwark:<type>/<version>'`); undefined when unversioned */
  dataschema(type: string): string | undefined;
  /** @returns where events of `type` travel. @default 'remote' (also for an unknown type) */
  scope(type: string): EventScope;
  /**
   * Validates a payload against the newest schema of its type.
   * @returns the parsed payload (zod's output: defaults applied, unknown keys stripped)
   * @throws {ValidationError} for an unknown type or an invalid payload
   */
  parse<T extends keyof S & string>(type: T, payload: unknown): z.output<SchemaOf<S[T]>>;
}

/** The event types of a registry. */
export type EventTypeOf<S extends EventSchemas> = keyof S & string;
/** What a publisher passes for `type` (zod's input type of the newest schema). */
export type PayloadInput<S extends EventSchemas, T extends keyof S> = T extends keyof S
  ? z.input<SchemaOf<S[T]>>
  : never;
/** What a subscriber receives for `type` (zod's output type of the newest schema); a union for a union of types. */
export type PayloadOf<S extends EventSchemas, T extends keyof S> = T extends keyof S
  ? z.output<SchemaOf<S[T]>>
  : never;

const TYPE_PATTERN = /^[a-z0-9][a-z0-9_-]*(\.[a-z0-9][a-z0-9_-]*)*$/i;
/**
 * The longest event type: it is part of every subject the type travels on, and a subject must fit
 * NATS's 4 KiB control line with the reply inbox and the prefix.
 */
export const MAX_EVENT_TYPE_LENGTH = 255;

/**
 * Defines the event schema registry: every type a runtime may publish or subscribe to. A type is a
 * zod schema, or `{ schema, version, upcast, scope }` for a type whose payload has changed.
 * @throws {ValidationError} when a type name cannot be used as a subject token, or a definition is malformed
 * @example
 * const events = defineEvents({
 *   'user.created': z.object({ id: z.string(), username: z.string() }),
 *   'order.placed': {
 *     schema: z.object({ id: z.string(), totalCents: z.number().int() }),
 *     version: 2,
 *     upcast: { 1: { schema: z.object({ id: z.string(), total: z.number() }),
 *                    to: (v1) => ({ id: v1.id, totalCents: Math.round(v1.total * 100) }) } },
 *   },
 * });
 */
export function defineEvents<const S extends EventSchemas>(schemas: S): EventRegistry<S> {
  const table = new Map<string, ResolvedEvent>();
  for (const [type, definition] of Object.entries(schemas)) {
    checkTypeName(type);
    table.set(type, resolve(type, definition));
  }
  const types = Object.freeze([...table.keys()]) as readonly (keyof S & string)[];
  return {
    schemas,
    types,
    has: (type: string): type is keyof S & string => table.has(type),
    schema: (type: string) => table.get(type)?.schema,
    definition: (type: string) => table.get(type),
    version: (type: string) => table.get(type)?.version,
    dataschema: (type: string) => table.get(type)?.dataschema,
    scope: (type: string) => table.get(type)?.scope ?? 'remote',
    parse(type, payload) {
      const schema = table.get(type)?.schema;
      if (!schema) throw unknownType(type);
      const result = schema.safeParse(payload);
      if (!result.success) {
        throw ValidationError.fromIssues(`invalid "${type}" payload`, result.error.issues);
      }
      return result.data as never;
    },
  };
}

function checkTypeName(type: string): void {
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
}

/** `'bulwark:<type>/<version>'`: the envelope's `dataschema` for one version of a type. */
export function dataschemaOf(type: string, version: number): string {
  return `bulwark:${type}/${version}`;
}

/** Duck-typed, so that a schema from another copy of zod is still one. */
function isSchema(value: unknown): value is z.ZodType {
  return typeof (value as { safeParse?: unknown } | null)?.safeParse === 'function';
}

const NO_UPCAST: ReadonlyMap<number, Upcaster> = new Map();

/** @throws {ValidationError} naming the type and what is wrong with its definition */
function resolve(type: string, definition: EventDefinition): ResolvedEvent {
  if (isSchema(definition)) {
    return {
      type,
      schema: definition,
      version: 1,
      dataschema: undefined,
      upcast: NO_UPCAST,
      scope: 'remote',
    };
  }
  const bad = (what: string): ValidationError => new ValidationError(`event type "${type}": ${what}`);
  const d = definition as Partial<VersionedEvent> | null;
  if (typeof d !== 'object' || d === null || !isSchema(d.schema))
    throw bad('give a zod schema, or { schema, version?, upcast?, scope? }');
  const version = d.version ?? 1;
  if (!Number.isSafeInteger(version) || version < 1)
    throw bad(`version must be a positive integer, not ${String(d.version)}`);
  if (d.scope !== undefined && d.scope !== 'local' && d.scope !== 'remote')
    throw bad(`scope must be 'local' or 'remote', not ${String(d.scope)}`);
  return {
    type,
    schema: d.schema,
    version,
    dataschema: d.version === undefined ? undefined : dataschemaOf(type, version),
    upcast: upcasters(d.upcast ?? {}, version, bad),
    scope: d.scope ?? 'remote',
  };
}

function upcasters(
  given: Readonly<Record<number, Upcaster>>,
  version: number,
  bad: (what: string) => ValidationError,
): ReadonlyMap<number, Upcaster> {
  const steps = new Map<number, Upcaster>();
  for (const [key, step] of Object.entries(given)) {
    const from = Number(key);
    if (!Number.isSafeInteger(from) || from < 1 || from >= version)
      throw bad(`upcast key ${key} is not a version below ${version}`);
    if (!isSchema(step?.schema) || typeof step.to !== 'function')
      throw bad(`upcast[${key}] must be { schema, to(old) }`);
    steps.set(from, step);
  }
  return steps;
}

/** @returns the ValidationError raised for a type that is not in the registry. */
export function unknownType(type: string): ValidationError {
  return new ValidationError(`unknown event type "${type}"`, [
    { code: 'custom', path: ['type'], message: `unknown event type "${type}"`, input: type },
  ] as never);
}

/** What `rt.subscribe` takes: a registered type, or a pattern (`order.*`, `order.>`). */
export type SubscribePattern<S extends EventSchemas> = EventTypeOf<S> | `${string}*${string}` | `${string}>`;

/** The registered types a subscription to `P` (a type or a pattern) receives. */
export type TypesMatching<S extends EventSchemas, P extends string> = MatchingTypes<EventTypeOf<S>, P>;
