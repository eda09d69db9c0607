import { ValidationError } from '../errors.js';
import type { CloudEvent } from './cloudevent.js';
import { isPattern, isValidPattern, typesMatching } from './patterns.js';
import { unknownType, type EventRegistry, type ResolvedEvent } from './registry.js';

/**
 * Versioned payloads on the way in. The envelope names its version in CloudEvents `dataschema`
 * (`'bulwark:<type>/<version>'`); an event without one (or with a `dataschema` that is not
 * bulwark's) is version 1, which is what every event written before its type had versions is.
 */

/** A stored event's payload at the newest version of its type, or why it cannot be had. */
export type DecodedPayload =
  { readonly ok: true; readonly payload: unknown } | { readonly ok: false; readonly error: ValidationError };

/** What a subscriber's deliveries are decoded with: the event's own type decides the schema. */
export type PayloadDecoder = (event: CloudEvent) => DecodedPayload;

const DATASCHEMA = /^bulwark:(.+)\/([1-9][0-9]{0,8})$/;

/**
 * @returns the version an event was written at: its `dataschema`'s, 1 when it has none of bulwark's
 * @throws {ValidationError} when `dataschema` is bulwark's but malformed, or names another type
 */
export function versionOf(event: CloudEvent): number {
  const dataschema = event.dataschema;
  if (typeof dataschema !== 'string' || !dataschema.startsWith('bulwark:')) return 1;
  const m = DATASCHEMA.exec(dataschema);
  if (!m) throw new ValidationError(`dataschema "${dataschema}" is not 'bulwark:<type>/<version>'`);
  if (m[1] !== event.type)
    throw new ValidationError(`dataschema "${dataschema}" names another type than "${event.type}"`);
  return Number(m[2]);
}

/**
 * Decodes a stored CloudEvent into the newest payload of its type: an older version is validated
 * against its own schema and upcast step by step (v1 → v2 → v3), then validated against the
 * newest schema. What delivery, replay and history reads all use.
 * @returns `{ ok: true, payload }`, or `{ ok: false, error }` for an unknown type, an invalid
 * payload, a version newer than the registry knows, a missing upcaster, or an upcaster that threw
 * @example
 * const r = decodePayload(events, stored.event);
 * if (r.ok) use(r.payload); else log.warn({ err: r.error }, 'unreadable event');
 */
export function decodePayload(
  registry: Pick<EventRegistry, 'definition'>,
  event: CloudEvent,
): DecodedPayload {
  const def = registry.definition(event.type);
  if (!def) return { ok: false, error: unknownType(event.type) };
  return decodeAs(def, event);
}

/** {@link decodePayload} for an event already known to be of `def`'s type. */
function decodeAs(def: ResolvedEvent, event: CloudEvent): DecodedPayload {
  // The common case, unversioned types: one check more than a plain schema parse.
  if (def.version === 1 && event.dataschema === undefined) return validate(def, def.schema, event.data, 1);
  let version: number;
  try {
    version = versionOf(event);
  } catch (err) {
    return { ok: false, error: err as ValidationError };
  }
  if (version > def.version) {
    const error = new ValidationError(
      `"${def.type}" version ${version} is newer than the newest this service knows (${def.version})`,
    );
    return { ok: false, error };
  }
  return upcast(def, version, event.data);
}

function upcast(def: ResolvedEvent, from: number, data: unknown): DecodedPayload {
  let payload = data;
  for (let v = from; v < def.version; v++) {
    const step = def.upcast.get(v);
    if (!step) {
      const error = new ValidationError(
        `"${def.type}" has no upcaster from version ${v} (newest: ${def.version})`,
      );
      return { ok: false, error };
    }
    const old = validate(def, step.schema, payload, v);
    if (!old.ok) return old;
    try {
      payload = step.to(old.payload);
    } catch (err) {
      const message = `upcasting "${def.type}" from version ${v} failed: ${(err as Error)?.message ?? String(err)}`;
      return { ok: false, error: new ValidationError(message, [], { cause: err }) };
    }
  }
  return validate(def, def.schema, payload, def.version);
}

function validate(
  def: ResolvedEvent,
  schema: ResolvedEvent['schema'],
  data: unknown,
  version: number,
): DecodedPayload {
  const result = schema.safeParse(data);
  if (result.success) return { ok: true, payload: result.data };
  const what =
    def.version === 1 ? `invalid "${def.type}" payload` : `invalid "${def.type}" v${version} payload`;
  return { ok: false, error: ValidationError.fromIssues(what, result.error.issues) };
}

/**
 * The decoder of a subscription to `target`, an event type or a pattern (`order.*`).
 * @throws {ValidationError} for an unknown type, a malformed pattern, or a pattern no registered type matches
 */
export function payloadDecoder(
  registry: Pick<EventRegistry, 'types' | 'definition'>,
  target: string,
): PayloadDecoder {
  if (!isPattern(target)) {
    const def = registry.definition(target);
    if (!def) throw unknownType(target);
    // The receiving side has checked that the event's type is its subject's, which is `target`.
    return (event) => decodeAs(def, event);
  }
  if (!isValidPattern(target)) {
    throw new ValidationError(
      `"${target}" is not a valid pattern: '*' and '>' stand for whole tokens, '>' last`,
    );
  }
  if (typesMatching(target, registry.types).length === 0) {
    throw new ValidationError(`pattern "${target}" matches no registered event type`);
  }
  return (event) => decodePayload(registry, event);
}
