import { describe, expect, it } from 'vitest';
import type { DashboardSnapshot } from '../../../src/http/dashboard/snapshot.js';
import { useRuntimes, type TestRuntime } from '../../support/runtime.js';
import { transportCases } from '../../support/transports.js';
import { poll, until } from '../../support/wait.js';

const ADMIN = 'queue-admin-token-51d';
const READ = 'queue-read-token-0b7';

describe.each(transportCases)('dashboard queue actions on $name', (c) => {
  const { runtime } = useRuntimes(c);

  async function serve(tokens: { adminToken?: string; readToken?: string }) {
    const rt: TestRuntime = await runtime('accounts', { handleSignals: false });
    const server = await rt.listen(tokens);
    const base = `${server.url}/dashboard`;
    const post = (body: unknown, token?: string) =>
      fetch(`${base}/api/queues/action`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(token && { authorization: `Bearer ${token}` }) },
        body: JSON.stringify(body),
      });
    return { rt, base, post };
  }

  it('pauses and resumes a queue for its workers with the admin token only', async () => {
    const { rt, base, post } = await serve({ adminToken: ADMIN, readToken: READ });
    const emails = rt.queue('emails');
    emails.process(() => undefined);
    await emails.ready();
    const pause = { name: 'emails', action: 'pause' };
    const refusals: [string | undefined, number][] = [
      [undefined, 401],
      ['wrong-token', 401],
      [READ, 403],
    ];
    for (const [token, status] of refusals)
      expect((await post(pause, token)).status, String(token)).toBe(status);
    expect((await emails.counts()).paused).toBe(false);
    expect((await fetch(`${base}/api/queues/action`)).status).toBe(405);
    expect((await post({ name: 'emails', action: 'drain' }, ADMIN)).status).toBe(400);
    expect((await post({ name: 'emails' }, ADMIN)).status).toBe(400);
    const unknown = await post({ name: 'nope', action: 'pause' }, ADMIN);
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toEqual({ error: 'no queue "nope" to pause' });

    const paused = await post(pause, ADMIN);
    expect(paused.status).toBe(200);
    expect(await paused.json()).toEqual({ name: 'emails', paused: true });
    await until(() => emails.isPaused(), 'the worker to hear of the pause');
    const read = async () =>
      (await (
        await fetch(`${base}/api/snapshot`, { headers: { authorization: `Bearer ${READ}` } })
      ).json()) as DashboardSnapshot;
    expect((await read()).queues).toEqual([expect.objectContaining({ name: 'emails', paused: true })]);

    const resumed = await post({ name: 'emails', action: 'resume' }, ADMIN);
    expect(await resumed.json()).toEqual({ name: 'emails', paused: false });
    await until(() => !emails.isPaused(), 'the worker to hear of the resume');
    await poll(read, (s) => s.queues[0]?.paused === false, 'the snapshot to say running');
  });

  it('is refused while no admin token is configured', async () => {
    const { rt, post } = await serve({});
    const emails = rt.queue('emails');
    await emails.ready();
    const res = await post({ name: 'emails', action: 'pause' }, 'anything');
    expect(res.status).toBe(403);
    expect((await emails.counts()).paused).toBe(false);
  });
});
