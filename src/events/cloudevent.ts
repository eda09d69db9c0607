import { isUtf8 } from 'node:buffer';
import { DecodeError } from '../errors.js';
import { utf8Bytes } from '../bytes.js';

/** A CloudEvents 1.0 event in structured JSON mode, as bulwark puts it on the wire. */
export interface CloudEvent<T = unknown> {
  readonly specversion: '1.0';
  readonly id: string;
  readonly source: string;
  readonly type: string;
  readonly time: string;
  readonly datacontenttype: string;
  readonly data: T;
  /** The payload's schema version, `'bulwark:<type>/<version>'`; absent for unversioned types (read as version 1). */
  readonly dataschema?: string;
  /** W3C trace context, as the CloudEvents distributed-tracing extension. */
  readonly traceparent?: string;
  readonly tracestate?: string;
  readonly [extension: string]: unknown;
}

/** The MIME type of a structured-mode CloudEvent. */
export const CLOUDEVENTS_CONTENT_TYPE = 'application/cloudevents+json; charset=utf-8';

/** UTF-8 text of the bytes; a fatal TextDecoder costs several times more than a check plus toString. */
// Fatal: bytes that are not UTF-8 are refused rather than changed; one pass checks and decodes.
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

function utf8(body: Uint8Array): string {
  try {
    return strictUtf8.decode(body);
  } catch {
    throw new TypeError('the bytes are not valid UTF-8');
  }
}

/** @returns the CloudEvent as UTF-8 JSON bytes. */
export function encodeEvent(event: CloudEvent): Uint8Array {
  return utf8Bytes(JSON.stringify(event));
}

/**
 * Parses and checks a structured-mode CloudEvent.
 * @throws {DecodeError} when the bytes are not UTF-8 JSON or the envelope misses a required attribute
 */
export function decodeEvent(body: Uint8Array | string): CloudEvent {
  let parsed: unknown;
  try {
    parsed = JSON.parse(typeof body === 'string' ? body : utf8(body));
  } catch (err) {
    throw new DecodeError(`not a JSON CloudEvent: ${(err as Error).message}`, { cause: err });
  }
  return checkEnvelope(parsed);
}

/**
 * Checks the required CloudEvents 1.0 attributes of an already-parsed object.
 * @throws {DecodeError} naming the first attribute that is missing or of the wrong type
 */
export function checkEnvelope(value: unknown): CloudEvent {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new DecodeError('a CloudEvent must be a JSON object');
  }
  const e = value as Record<string, unknown>;
  if (e.specversion !== '1.0') throw new DecodeError(`unsupported specversion ${String(e.specversion)}`);
  for (const key of ['id', 'source', 'type'] as const) {
    if (typeof e[key] !== 'string' || e[key] === '') throw new DecodeError(`CloudEvent "${key}" is missing`);
  }
  if (e.time !== undefined && typeof e.time !== 'string')
    throw new DecodeError('CloudEvent "time" is not a string');
  if (e.dataschema !== undefined && typeof e.dataschema !== 'string')
    throw new DecodeError('CloudEvent "dataschema" is not a string');
  if (e.datacontenttype === undefined)
    (e as { datacontenttype?: string }).datacontenttype = 'application/json';
  return e as unknown as CloudEvent;
}

/** Text for dead-letter records of bytes that could not be decoded. */
/** Bytes kept as text: UTF-8 when they are, base64 (said so) when they are not. */
export interface RawBytes {
  readonly raw: string;
  readonly rawEncoding?: 'base64';
}

/** Bytes kept as text, so that none is changed on the way back: see {@link RawBytes}. */
export function rawText(body: Uint8Array | string | undefined): RawBytes {
  if (body === undefined) return { raw: '' };
  if (typeof body === 'string') return { raw: body };
  const buf = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  return isUtf8(body)
    ? { raw: buf.toString('utf8') }
    : { raw: buf.toString('base64'), rawEncoding: 'base64' };
}

/** The bytes a dead letter's `raw` stands for. */
export function rawBytes(raw: string, rawEncoding: 'base64' | undefined): Uint8Array | string {
  return rawEncoding === 'base64' ? new Uint8Array(Buffer.from(raw, 'base64')) : raw;
}
