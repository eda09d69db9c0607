/**
 * @returns `text` as UTF-8 bytes. `Buffer.from` takes small strings from Node's shared pool, where
 * `TextEncoder.encode` allocates a new buffer on every call: about 0.1 µs against 1 µs for a
 * 60-byte record, on paths that encode one per event or job.
 */
export function utf8Bytes(text: string): Uint8Array {
  return Buffer.from(text, 'utf8');
}
