import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import type { Logger } from '../../logging.js';
import { checkAccess, refuse, type Tokens } from '../access.js';
import type { DashboardSource } from './snapshot.js';

/** Largest request body an admin action reads. */
const MAX_BODY = 64 * 1024;

const deadLetterQuery = z
  .object({
    ids: z.array(z.string().min(1)).max(10_000).optional(),
    type: z.string().min(1).optional(),
    group: z.string().min(1).optional(),
    reason: z.enum(['handler', 'validation', 'decode', 'timeout']).optional(),
    all: z.boolean().optional(),
  })
  .strict()
  .refine((q) => q.all === true || q.ids !== undefined || q.type !== undefined || q.group !== undefined, {
    message: 'name the dead letters: ids, type or group (or all: true)',
  });

const breakerAction = z
  .object({ name: z.string().min(1), action: z.enum(['open', 'close', 'reset']) })
  .strict();

const queueAction = z.object({ name: z.string().min(1), action: z.enum(['pause', 'resume']) }).strict();

/** Writes a JSON response. */
export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'cache-control': 'no-store',
    ...headers,
  });
  res.end(JSON.stringify(body));
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY) throw new RangeError('request body too large');
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  return text.trim() === '' ? {} : (JSON.parse(text) as unknown);
}

/** An admin action: reads its body, acts, and says what it did. */
type Action = (body: unknown) => Promise<{ status: number; body: unknown }>;

/**
 * The state-changing actions of the dashboard: redrive and purge dead letters, force a breaker
 * open, closed, or back to automatic, pause and resume a job queue. Each is a POST that requires the admin token (any-case
 * `Bearer` scheme, compared in constant time); the read token is refused with 403.
 */
export class AdminActions {
  constructor(
    private readonly src: DashboardSource,
    private readonly tokens: Tokens,
    private readonly logger: Logger | undefined,
  ) {}

  /** `POST …/api/dead-letters/redrive` with `{ ids?, type?, group?, reason?, all? }`. */
  readonly redrive = this.guarded('redrive', async (body) => {
    const q = deadLetterQuery.parse(body);
    const { all: _all, ...query } = q;
    return { status: 200, body: await this.src.deadLetters.redrive(query) };
  });

  /** `POST …/api/dead-letters/purge` with `{ ids?, type?, group?, reason?, all? }`. */
  readonly purge = this.guarded('purge', async (body) => {
    const { all: _all, ...query } = deadLetterQuery.parse(body);
    return { status: 200, body: await this.src.deadLetters.purge(query) };
  });

  /** `POST …/api/breakers/action` with `{ name, action: 'open' | 'close' | 'reset' }`. */
  readonly breaker = this.guarded('breaker', (body) => {
    const { name, action } = breakerAction.parse(body);
    const breaker = this.src.breakers.list().find((b) => b.name === name);
    if (!breaker) return Promise.resolve({ status: 404, body: { error: `no breaker "${name}"` } });
    breaker[action]();
    return Promise.resolve({ status: 200, body: { name, state: breaker.stats().state } });
  });

  /**
   * `POST …/api/queues/action` with `{ name, action: 'pause' | 'resume' }`: for every worker of the
   * queue, in every process; answers the pause state read back from the transport.
   */
  readonly queue = this.guarded('queue', async (body) => {
    const { name, action } = queueAction.parse(body);
    const queue = this.src.listQueues?.().find((q) => q.name === name);
    const act = queue?.[action];
    if (!queue || !act) return { status: 404, body: { error: `no queue "${name}" to ${action}` } };
    await act.call(queue);
    return { status: 200, body: { name, paused: (await queue.counts()).paused === true } };
  });

  private guarded(name: string, act: Action): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
    return async (req, res) => {
      if (req.method !== 'POST') return sendJson(res, 405, { error: 'use POST' }, { allow: 'POST' });
      const auth = checkAccess(req.headers.authorization, 'admin', this.tokens);
      if (auth !== 'ok') {
        if (auth !== 'disabled')
          this.logger?.warn({ action: name }, 'dashboard admin action refused: bad or missing token');
        return refuse(res, auth);
      }
      try {
        const out = await act(await readJson(req));
        this.logger?.info({ action: name, status: out.status }, 'dashboard admin action');
        sendJson(res, out.status, out.body);
      } catch (err) {
        const bad = err instanceof z.ZodError || err instanceof SyntaxError || err instanceof RangeError;
        const message = err instanceof z.ZodError ? z.prettifyError(err) : (err as Error).message;
        if (!bad) this.logger?.error({ err, action: name }, 'dashboard admin action failed');
        sendJson(res, bad ? 400 : 500, { error: message });
      }
    };
  }
}
