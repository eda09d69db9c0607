import { AckPolicy, jetstream, jetstreamManager, type JetStreamClient } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, type Cluster, type ClusterNode } from '../support/cluster.js';
import { waitFor } from '../support/wait.js';

const STREAM = 'HARNESS';

/** True while a process with this id exists. */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Publishes `count` messages, each retried until stored: an election in progress refuses for seconds. */
async function publishAll(js: JetStreamClient, from: number, count: number): Promise<void> {
  for (let i = from; i < from + count; i++) {
    let stored = false;
    await waitFor(
      async () =>
        (stored ||= await js.publish(`harness.${i}`, `m${i}`, { msgID: `m${i}`, timeout: 1_000 }).then(
          () => true,
          () => false,
        )),
      { what: `message ${i} to be stored`, timeoutMs: 30_000 },
    );
  }
}

/** Asks the stream's leader; without `checkAPI: false` the manager first asks the meta leader, which may be electing. */
async function storedCount(nc: NatsConnection): Promise<number> {
  return (await (await jetstreamManager(nc, { checkAPI: false })).streams.info(STREAM)).state.messages;
}

describe('a 3-node JetStream cluster for tests', () => {
  let cluster: Cluster;
  let nc: NatsConnection;

  beforeAll(async () => {
    cluster = await startCluster();
    nc = await connect({ servers: cluster.urls, maxReconnectAttempts: -1, reconnectTimeWait: 100 });
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: STREAM, subjects: ['harness.>'], num_replicas: 3 });
    await jsm.consumers.add(STREAM, { durable_name: 'reader', ack_policy: AckPolicy.Explicit });
    await cluster.waitForReplicas(STREAM);
  });

  // a test that failed half-way must not leave the next one without a quorum
  afterEach(async () => {
    for (const node of cluster.nodes) {
      if (node.frozen) node.thaw();
      if (!node.running) await node.start();
    }
  });

  afterAll(async () => {
    await nc?.close();
    await cluster?.dispose();
  });

  it('names the stream and consumer leaders as nodes of the cluster', async () => {
    const leader = await cluster.waitForLeader(STREAM);
    expect(cluster.nodes).toContain(leader);
    expect(cluster.nodes).toContain(await cluster.consumerLeader(STREAM, 'reader'));
    expect(await cluster.streamLeader('NO_SUCH_STREAM')).toBeUndefined();
  });

  it('elects a new leader when the stream leader is killed; the restarted node catches up', async () => {
    const js = jetstream(nc);
    await publishAll(js, 0, 100);
    const leader = await cluster.waitForLeader(STREAM);
    const pid = leader.pid!;

    await leader.kill();
    expect(leader.running).toBe(false);
    expect(alive(pid)).toBe(false);
    const next = await cluster.waitForLeader(STREAM, { not: leader });
    expect(next.name).not.toBe(leader.name);

    await publishAll(js, 100, 100);
    expect(await storedCount(nc)).toBe(200);

    await leader.start();
    expect(leader.pid).not.toBe(pid);
    await cluster.waitForReplicas(STREAM);
    expect(await storedCount(nc)).toBe(200);
  });

  it('sees a frozen node stop answering, and answer again once thawed', async () => {
    const leader = await cluster.waitForLeader(STREAM);
    // not the node this client talks to: a client notices a frozen server only after missed pings (minutes)
    const follower = cluster.nodes.find(
      (n) => n !== leader && n.name !== nc.info?.server_name,
    ) as ClusterNode;

    await follower.freeze();
    expect(follower.frozen).toBe(true);
    expect(await follower.answers()).toBe(false);
    // two of three still make a quorum
    await publishAll(jetstream(nc), 200, 10);

    follower.thaw();
    expect(await follower.answers()).toBe(true);
    await cluster.waitForReplicas(STREAM);
    expect(await storedCount(nc)).toBe(210);
  });

  it('leaves no process behind after dispose(), frozen ones included', async () => {
    const other = await startCluster({ nodes: 3 });
    const pids = other.nodes.map((n) => n.pid!);
    await other.nodes[0]!.freeze();
    await other.dispose();
    await other.dispose();
    expect(pids.filter(alive)).toEqual([]);
    expect(other.nodes.map((n) => n.running)).toEqual([false, false, false]);
  });
});
