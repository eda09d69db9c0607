import type {} from 'vitest';
import type { TestProject } from 'vitest/node';
import { startNatsServer, type NatsServerHandle } from './nats-server.js';

declare module 'vitest' {
  export interface ProvidedContext {
    natsUrl: string;
  }
}

let server: NatsServerHandle | undefined;

/** Starts the test run's own nats-server; the machine's shared server on 4222 is never touched. */
export async function setup(project: TestProject): Promise<void> {
  server = await startNatsServer();
  project.provide('natsUrl', server.url);
}

export async function teardown(): Promise<void> {
  await server?.dispose();
}
