import { describe, expect, it } from 'vitest';
import { runDemo } from '../../src/cli/demo.js';

describe('bulwark demo', () => {
  it('shows retries, a dead letter redriven, batches, and ends by itself', async () => {
    const lines: string[] = [];
    const result = await runDemo({ print: (l) => lines.push(l) });
    expect(result).toEqual({ handled: 4, deadLettered: 1, batches: 2, breakerTimeouts: 3 });
    const text = lines.join('\n');
    expect(text).toMatch(/attempt 2 for "flaky" failed/);
    expect(text).toMatch(/dead letter: user\.created "mallory" — reason handler/);
    expect(text).toMatch(/ValidationError/);
    expect(text).toMatch(/stored a batch of 5/);
    expect(text).toMatch(/breaker "payments": CLOSED -> OPEN/);
    expect(text).toMatch(/call 6: charged/);
  });
});
