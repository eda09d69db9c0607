// Job queue features (issue 17): one row per feature, BullMQ 6 on the local Redis (127.0.0.1:6379)
// vs bulwark on JetStream (file storage, a private nats-server) and in memory, in one run.
// A feature adds itself to `rows`.
import { pino } from 'pino';
import { createRuntime, defineEvents, type Runtime } from '../src/index.js';
import { natsTransport } from '../src/transport/nats/nats-transport.js';
import { startNatsServer } from '../test/setup/nats-server.js';
import { bullFlows, bulwarkFlows, FLOW_SHAPE, measureFlows } from './flow-row.js';
import { groupsRow, limitedRow } from './limit-group-rows.js';
import { markdownTable, median, perSecond } from './stats.js';
import type { BenchSection } from './types.js';

/** The runtimes a row measures bulwark on. */
export interface FeatureContext {
  readonly nats: Runtime;
  readonly memory: Runtime;
}

/** One measured row: rates per second; `bull` undefined where BullMQ has no equivalent. */
export interface FeatureFigures {
  readonly bull: number | undefined;
  readonly nats: number;
  readonly memory: number;
  /** What was measured, for the section's notes. */
  readonly note: string;
}

/** One feature of the section. */
export interface FeatureRow {
  readonly feature: string;
  readonly unit: string;
  measure(ctx: FeatureContext): Promise<FeatureFigures>;
}

const flows: FeatureRow = {
  feature: 'flow: 1 parent + 10 children',
  unit: 'flows',
  async measure({ nats, memory }) {
    const [bull, onNats, inMemory] = await measureFlows([
      bullFlows,
      bulwarkFlows(nats),
      bulwarkFlows(memory),
    ]);
    return {
      bull: median(bull!),
      nats: median(onNats!),
      memory: median(inMemory!),
      note: `Flows: ${FLOW_SHAPE}; BullMQ's FlowProducer and \`getChildrenValues\` vs \`addFlow\` and \`job.childrenResults()\`; median of 3 rounds alternating between the three.`,
    };
  },
};

/** Every row, in table order. */
export const rows: FeatureRow[] = [flows, limitedRow, groupsRow];

const silent = pino({ level: 'silent' });

/** Runs the section. */
export async function runQueueFeaturesBench(): Promise<BenchSection> {
  const events = defineEvents({});
  const server = await startNatsServer();
  const prefix = `qf${Date.now().toString(36)}`;
  const transport = natsTransport({ servers: server.url, prefix, storage: 'file' });
  const nats = await createRuntime({ service: 'bench', events, transport, logger: silent });
  const memory = await createRuntime({ service: 'bench', events, logger: silent });
  try {
    const table: (string | number)[][] = [];
    const notes: string[] = [];
    for (const row of rows) {
      const f = await row.measure({ nats, memory });
      const rate = (n: number | undefined) => (n === undefined ? 'n/a' : `${perSecond(n)} ${row.unit}`);
      const ratio = f.bull === undefined ? 'n/a' : `${(f.nats / f.bull).toFixed(2)}x`;
      table.push([row.feature, rate(f.bull), rate(f.nats), rate(f.memory), ratio]);
      notes.push(f.note);
    }
    return {
      title: 'Job queue features: bulwark vs BullMQ',
      table: markdownTable(
        ['', 'BullMQ (Redis)', 'bulwark (JetStream, file)', 'bulwark (memory)', 'JetStream / BullMQ'],
        table,
      ),
      notes,
    };
  } finally {
    await Promise.all([nats.shutdown(), memory.shutdown()]);
    await server.dispose();
  }
}
