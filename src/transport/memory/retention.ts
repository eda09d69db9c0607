import type { RetentionBudget, TypeStream } from './type-stream.js';

/**
 * What the memory transport keeps of events every reader has passed, for replay and for groups
 * that subscribe later: at most `maxBytes` (estimated) across types and `perType` events per
 * type. Over the byte budget the oldest retained event goes first, whatever its type: streams
 * that retain something sit on a min-heap ordered by the sequence of their oldest message.
 */
export class Retention implements RetentionBudget {
  private readonly heap: TypeStream[] = [];
  /** Estimated bytes retained, across types. */
  bytes = 0;

  constructor(
    private readonly maxBytes: number,
    private readonly perType: number,
  ) {}

  changed(stream: TypeStream, bytes: number): void {
    this.bytes += bytes;
    // Only an empty or emptied stream moves in the heap: the floor does not change the oldest message.
    if (stream.heapIndex < 0) {
      if (stream.retained > 0) this.siftUp(this.heap.push(stream) - 1);
    } else if (stream.retained === 0) this.remove(stream);
    while (stream.retained > this.perType) this.drop(stream);
    while (this.bytes > this.maxBytes && this.heap.length > 0) this.drop(this.heap[0]!);
  }

  private drop(stream: TypeStream): void {
    this.bytes -= stream.dropOldest();
    if (stream.retained === 0) this.remove(stream);
    else this.siftDown(stream.heapIndex);
  }

  private remove(stream: TypeStream): void {
    const i = stream.heapIndex;
    const last = this.heap.pop()!;
    stream.heapIndex = -1;
    if (last === stream) return;
    this.put(last, i);
    this.siftDown(this.siftUp(i));
  }

  private siftUp(i: number): number {
    const heap = this.heap;
    const item = heap[i]!;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (heap[parent]!.oldestSeq <= item.oldestSeq) break;
      this.put(heap[parent]!, i);
      i = parent;
    }
    this.put(item, i);
    return i;
  }

  private siftDown(i: number): void {
    const heap = this.heap;
    const item = heap[i]!;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= heap.length) break;
      const right = child + 1;
      if (right < heap.length && heap[right]!.oldestSeq < heap[child]!.oldestSeq) child = right;
      if (heap[child]!.oldestSeq >= item.oldestSeq) break;
      this.put(heap[child]!, i);
      i = child;
    }
    this.put(item, i);
  }

  private put(stream: TypeStream, i: number): void {
    this.heap[i] = stream;
    stream.heapIndex = i;
  }
}
