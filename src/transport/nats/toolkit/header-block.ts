import type { Msg } from '@nats-io/transport-node';

/**
 * Reads a message's headers straight from its bytes. nats.js builds a `MsgHdrs` object on first
 * access, which costs more than the rest of a delivery (BENCHMARKS.md, design measurements), and
 * its public API offers nothing lighter. So this one adapter reads two fields of nats.js's message
 * object that are not public API: `_msg.hdr` (the header block's length) and `_rdata` (the bytes).
 * Written against @nats-io/transport-node 3.4.0; `test/transport/nats/headers.test.ts` fails when an
 * upgrade moves them. Whenever they are missing it falls back to `msg.headers`.
 */

const NO_HEADERS: Readonly<Record<string, string>> = Object.freeze({});

interface MsgInternals {
  readonly _msg?: { readonly hdr?: unknown };
  readonly _rdata?: unknown;
}

/**
 * The message's raw header block: its bytes, `null` when the message has none, or `undefined` when
 * this nats.js version does not expose it.
 */
export function rawHeaderBlock(msg: Msg): Uint8Array | null | undefined {
  const raw = msg as unknown as MsgInternals;
  const len = raw._msg?.hdr;
  if (typeof len !== 'number' || !(raw._rdata instanceof Uint8Array)) return undefined;
  if (len <= 0) return null;
  return raw._rdata.subarray(0, len);
}

/**
 * False when the message's raw header block certainly lacks `name` (or there is none): a byte
 * search instead of parsing every header of every message. True when unsure.
 */
export function mayHaveHeader(msg: Msg, name: string): boolean {
  const raw = msg as unknown as MsgInternals;
  const len = raw._msg?.hdr;
  const data = raw._rdata;
  if (typeof len !== 'number' || !(data instanceof Uint8Array)) return true;
  if (len <= 0) return false;
  // NATS keeps a header name's case as it was sent, and bulwark looks headers up as it writes them.
  // Searched in place (no view, no copy): a match past the header block is in the payload.
  const at = Buffer.prototype.indexOf.call(data, needle(name), 0);
  return at >= 0 && at < len;
}

const needles = new Map<string, Buffer>();

function needle(name: string): Buffer {
  let n = needles.get(name);
  if (!n) needles.set(name, (n = Buffer.from(name, 'latin1')));
  return n;
}

/** The headers as a record: from the header block when it is exposed, through `msg.headers` otherwise. */
export function readHeaders(msg: Msg): Readonly<Record<string, string>> {
  const block = rawHeaderBlock(msg);
  if (block === null) return NO_HEADERS;
  if (block !== undefined) {
    const parsed = parseHeaderBlock(block, block.length);
    if (parsed) return parsed;
  }
  return fromMsgHdrs(msg);
}

/** @returns the headers of a `NATS/1.0` block, or undefined when it carries a status (left to nats.js) */
export function parseHeaderBlock(buf: Uint8Array, len: number): Record<string, string> | undefined {
  const text = Buffer.from(buf.buffer, buf.byteOffset, len).toString('utf8');
  const lines = text.split('\r\n');
  if (lines[0] !== 'NATS/1.0') return undefined;
  const out: Record<string, string> = {};
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const key = line.slice(0, colon).trim();
    if (!(key in out)) out[key] = line.slice(colon + 1).trim();
  }
  return out;
}

function fromMsgHdrs(msg: Msg): Readonly<Record<string, string>> {
  const h = msg.headers;
  if (!h) return NO_HEADERS;
  const out: Record<string, string> = {};
  for (const key of h.keys()) out[key] = h.get(key);
  return out;
}
