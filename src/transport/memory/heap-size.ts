/**
 * A bounded structural estimate of the heap bytes a value holds, modelled on V8's layout (64-bit,
 * pointer compression off): what retention budgets count. Arrays and objects wider than
 * {@link WIDTH} are extrapolated from their first entries, and nesting deeper than {@link DEPTH}
 * counts a flat {@link DEEP}, so one estimate costs at most a few thousand steps.
 */

/** Header, map, properties and elements pointers of a plain object. */
const OBJECT = 32;
/** One property or element slot. */
const SLOT = 8;
/** Header and length of a string; one byte per character follows (Latin-1 strings). */
const STRING = 16;
/** A number that is not a small integer is boxed. */
const HEAP_NUMBER = 16;
/** A typed array's view object and its buffer's header. */
const TYPED_ARRAY = 128;
/** Entries walked per object or array before the rest is extrapolated. */
const WIDTH = 32;
/** Nesting walked before a nested value counts {@link DEEP}. */
const DEPTH = 6;
const DEEP = 256;

/** @returns the estimated heap bytes of `value` and what it references */
export function heapSize(value: unknown, depth = 0): number {
  switch (typeof value) {
    case 'string':
      return STRING + align(value.length);
    case 'number':
      return (value | 0) === value ? 0 : HEAP_NUMBER;
    case 'bigint':
      return HEAP_NUMBER + SLOT;
    case 'object':
      if (value === null) return 0;
      if (depth >= DEPTH) return DEEP;
      return objectSize(value, depth + 1);
    default:
      return 0;
  }
}

function objectSize(value: object, depth: number): number {
  if (ArrayBuffer.isView(value)) return TYPED_ARRAY + align(value.byteLength);
  if (value instanceof Date) return OBJECT + HEAP_NUMBER;
  if (Array.isArray(value)) return OBJECT + SLOT * value.length + sampled(value, value.length, depth);
  let keys = 0;
  let bytes = 0;
  for (const key in value) {
    if (keys++ < WIDTH) bytes += heapSize((value as Record<string, unknown>)[key], depth);
  }
  return OBJECT + SLOT * keys + extrapolate(bytes, keys);
}

function sampled(items: readonly unknown[], length: number, depth: number): number {
  let bytes = 0;
  for (let i = 0; i < length && i < WIDTH; i++) bytes += heapSize(items[i], depth);
  return extrapolate(bytes, length);
}

/** Scales what the first {@link WIDTH} entries held to `count` entries. */
function extrapolate(bytes: number, count: number): number {
  return count <= WIDTH ? bytes : Math.round((bytes / WIDTH) * count);
}

function align(n: number): number {
  return (n + 7) & ~7;
}
