import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from '@nats-io/transport-node';
import { findNatsServer, freePort } from '../setup/nats-server.js';

/** How long a node may take to come up and catch up with the cluster (Raft elections run in seconds). */
const START_MS = 30_000;
/** How long a stopped or killed node may take to exit. */
const EXIT_MS = 10_000;
/** One question to one node (a JetStream API request, a health probe). */
const ASK_MS = 1_000;
/** Between two looks at the cluster: each look is a round trip to processes sharing the same cores. */
const POLL_MS = 100;

/** One nats-server of a {@link Cluster}. */
export interface ClusterNode {
  /** Its `server_name`, as JetStream names leaders and replicas. */
  readonly name: string;
  /** Its client URL. */
  readonly url: string;
  /** The process id while it runs; undefined when it is down. */
  readonly pid: number | undefined;
  /** True while its process is up (frozen or not). */
  readonly running: boolean;
  /** True between `freeze()` and `thaw()`. */
  readonly frozen: boolean;
  /** SIGKILL; resolves once the process is gone. */
  kill(): Promise<void>;
  /** SIGTERM (SIGKILL after a bound); resolves once the process is gone. */
  stop(): Promise<void>;
  /**
   * Starts it again on the same ports, store and config; resolves once it is back in the cluster:
   * up, routed and current with the meta leader. Its stream replicas catch up after that
   * ({@link Cluster.waitForReplicas}).
   */
  start(): Promise<void>;
  /**
   * SIGSTOP: the process stays, its sockets stay open, nothing answers. Resolves once the kernel
   * reports it stopped (where `/proc` says; at once elsewhere).
   */
  freeze(): Promise<void>;
  /** SIGCONT. */
  thaw(): void;
  /** Whether a NATS client can connect to it and hear back within `timeoutMs`. */
  answers(timeoutMs?: number): Promise<boolean>;
}

/** A JetStream cluster of nats-server processes owned by one test file. */
export interface Cluster {
  /** Every node's client URL, for `servers`. */
  readonly urls: string[];
  readonly nodes: readonly ClusterNode[];
  /** The node that leads `stream` now; undefined when none does (or nothing answers). */
  streamLeader(stream: string): Promise<ClusterNode | undefined>;
  /** The node that leads `consumer` of `stream` now; undefined when none does. */
  consumerLeader(stream: string, consumer: string): Promise<ClusterNode | undefined>;
  /** Resolves with the leader of `stream` once it has one (other than `not`, when given). */
  waitForLeader(stream: string, opts?: { not?: ClusterNode; timeoutMs?: number }): Promise<ClusterNode>;
  /** Resolves once every node holds a current replica of `stream` (none lagging, none offline). */
  waitForReplicas(stream: string, timeoutMs?: number): Promise<void>;
  /** Kills every node (thawing frozen ones first) and removes the stores. Idempotent. */
  dispose(): Promise<void>;
}

/** Options of {@link startCluster}. */
export interface ClusterOptions {
  /** @default 3 */
  readonly nodes?: number;
  /** The cluster's name. @default a unique one */
  readonly name?: string;
}

/** The JetStream API's reply to `STREAM.INFO` / `CONSUMER.INFO`: the part about the cluster. */
interface ClusterInfoReply {
  readonly error?: { readonly code: number; readonly description: string };
  readonly cluster?: {
    readonly leader?: string;
    readonly replicas?: readonly { name: string; current: boolean; offline?: boolean; lag?: number }[];
  };
}

/** Polls `look` until it returns a value; the error names `what` and the last thing seen. */
async function until<T>(
  look: () => Promise<T | undefined>,
  what: string,
  timeoutMs: number,
  seen: () => string = () => '',
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await look();
    if (value !== undefined) return value;
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${seen()}`);
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

/** GET `http://127.0.0.1:<port><path>`; resolves with the status (0 when nothing answered). */
function httpGet(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve) => {
    const req = get({ host: '127.0.0.1', port, path, agent: false, timeout: ASK_MS }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', (err) => resolve({ status: 0, body: err.message }));
  });
}

/**
 * Whether every thread of a process is stopped, as `/proc/<pid>/task/<tid>/stat` says ('T');
 * true where there is no `/proc` to ask.
 */
function allThreadsStopped(pid: number): boolean {
  try {
    return readdirSync(`/proc/${pid}/task`).every((tid) => {
      const state = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8').split(') ')[1]?.[0];
      return state === 'T' || state === 't';
    });
  } catch {
    return true;
  }
}

interface NodePorts {
  readonly client: number;
  readonly cluster: number;
  readonly http: number;
}

function nodeConfig(name: string, cluster: string, ports: NodePorts, peers: NodePorts[], store: string) {
  const routes = peers.map((p) => `nats-route://127.0.0.1:${p.cluster}`).join(', ');
  return [
    `server_name: ${name}`,
    `listen: "127.0.0.1:${ports.client}"`,
    `http: "127.0.0.1:${ports.http}"`,
    `jetstream { store_dir: "${store}" }`,
    `cluster { name: "${cluster}", listen: "127.0.0.1:${ports.cluster}", routes: [${routes}] }`,
  ].join('\n');
}

class NodeProcess implements ClusterNode {
  private proc: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private isFrozen = false;
  /** The tail of its stderr, for failures that name why a node did not come up. */
  private log = '';

  constructor(
    readonly name: string,
    readonly ports: NodePorts,
    private readonly bin: string,
    private readonly configFile: string,
  ) {}

  get url(): string {
    return `nats://127.0.0.1:${this.ports.client}`;
  }

  get running(): boolean {
    return this.proc !== undefined && this.proc.exitCode === null && this.proc.signalCode === null;
  }

  get pid(): number | undefined {
    return this.running ? this.proc?.pid : undefined;
  }

  get frozen(): boolean {
    return this.running && this.isFrozen;
  }

  /** Starts the process; resolves at once (the cluster or `start()` waits for what it needs). */
  launch(): void {
    if (this.running) throw new Error(`node ${this.name} is already running (pid ${this.pid})`);
    const child = spawn(this.bin, ['-c', this.configFile], { stdio: ['ignore', 'ignore', 'pipe'] });
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => (this.log = (this.log + chunk).slice(-2_000)));
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    this.proc = child;
    this.isFrozen = false;
  }

  async start(): Promise<void> {
    this.launch();
    await this.waitHealthy(START_MS);
  }

  /**
   * Resolves once `/healthz?js-server-only` says the node is up and current with the meta leader.
   * Not the full `/healthz`: on 2.9.10 a queue's idle count consumer was seen "not current" for
   * over 30 s after a restart, which says nothing about whether the node has rejoined.
   */
  async waitHealthy(timeoutMs: number): Promise<void> {
    let last = '';
    await until(
      async () => {
        if (!this.running) throw new Error(`node ${this.name} exited while starting: ${this.log}`);
        const res = await httpGet(this.ports.http, '/healthz?js-server-only=true');
        last = `${res.status} ${res.body.trim()}`;
        return res.status === 200 ? true : undefined;
      },
      `node ${this.name} (${this.url}) to report healthy on /healthz?js-server-only`,
      timeoutMs,
      () => `: last ${last}`,
    );
  }

  kill(): Promise<void> {
    return this.signalAndWait('SIGKILL');
  }

  async stop(): Promise<void> {
    if (this.frozen) this.thaw();
    const timer = setTimeout(() => this.proc?.kill('SIGKILL'), EXIT_MS);
    try {
      await this.signalAndWait('SIGTERM', EXIT_MS * 2);
    } finally {
      clearTimeout(timer);
    }
  }

  private async signalAndWait(signal: NodeJS.Signals, timeoutMs = EXIT_MS): Promise<void> {
    if (!this.running) return;
    this.proc?.kill(signal);
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`node ${this.name} did not exit within ${timeoutMs} ms of ${signal}`)),
        timeoutMs,
      );
    });
    await Promise.race([this.exited, late]).finally(() => clearTimeout(timer));
    this.isFrozen = false;
  }

  async freeze(): Promise<void> {
    const pid = this.pid;
    if (pid === undefined) throw new Error(`node ${this.name} is not running: nothing to freeze`);
    this.proc?.kill('SIGSTOP');
    this.isFrozen = true;
    // kill(2) only queues the signal: every thread of the server must take it before none answers
    await until(
      async () => (allThreadsStopped(pid) ? true : undefined),
      `node ${this.name} (pid ${pid}) to stop after SIGSTOP`,
      EXIT_MS,
    );
  }

  thaw(): void {
    if (!this.running) return;
    this.proc?.kill('SIGCONT');
    this.isFrozen = false;
  }

  /** SIGCONT and SIGKILL without waiting: for the process's `exit` hook. */
  killNow(): void {
    if (!this.running) return;
    this.proc?.kill('SIGCONT');
    this.proc?.kill('SIGKILL');
  }

  async answers(timeoutMs = ASK_MS): Promise<boolean> {
    const nc = await connect({ servers: this.url, reconnect: false, timeout: timeoutMs }).catch(
      () => undefined,
    );
    if (!nc) return false;
    try {
      // a round trip: a frozen server may still accept the socket, but it never answers the ping
      return await Promise.race([
        nc.flush().then(() => true),
        new Promise<boolean>((r) => setTimeout(() => r(false), timeoutMs).unref()),
      ]);
    } finally {
      await nc.close();
    }
  }

  /** One JetStream API request through this node; undefined when it does not answer in time. */
  async ask<T>(subject: string): Promise<T | undefined> {
    if (!this.running || this.isFrozen) return undefined;
    const nc = await connect({ servers: this.url, reconnect: false, timeout: ASK_MS }).catch(() => undefined);
    if (!nc) return undefined;
    try {
      return (await nc.request(subject, undefined, { timeout: ASK_MS })).json<T>();
    } catch {
      return undefined;
    } finally {
      await nc.close();
    }
  }
}

class NatsCluster implements Cluster {
  private disposing: Promise<void> | undefined;
  private readonly onExit = (): void => this.nodeList.forEach((n) => n.killNow());

  constructor(
    private readonly nodeList: NodeProcess[],
    private readonly root: string,
  ) {
    // A test run that dies without dispose() must not leave servers behind.
    process.once('exit', this.onExit);
  }

  get urls(): string[] {
    return this.nodeList.map((n) => n.url);
  }

  get nodes(): readonly ClusterNode[] {
    return this.nodeList;
  }

  /** Every node healthy, then the JetStream API answering (it has a meta leader). */
  async ready(): Promise<void> {
    await Promise.all(this.nodeList.map((n) => n.waitHealthy(START_MS)));
    await until(() => this.ask('$JS.API.INFO'), 'JetStream to elect a meta leader ($JS.API.INFO)', START_MS);
  }

  /** A JetStream API request through the first live node that answers it without an error. */
  private async ask<T extends { error?: unknown }>(subject: string): Promise<T | undefined> {
    for (const node of this.nodeList) {
      const reply = await node.ask<T>(subject);
      if (reply && !reply.error) return reply;
    }
    return undefined;
  }

  private byName(name: string | undefined): NodeProcess | undefined {
    return this.nodeList.find((n) => n.name === name);
  }

  async streamLeader(stream: string): Promise<ClusterNode | undefined> {
    const info = await this.ask<ClusterInfoReply>(`$JS.API.STREAM.INFO.${stream}`);
    return this.byName(info?.cluster?.leader);
  }

  async consumerLeader(stream: string, consumer: string): Promise<ClusterNode | undefined> {
    const info = await this.ask<ClusterInfoReply>(`$JS.API.CONSUMER.INFO.${stream}.${consumer}`);
    return this.byName(info?.cluster?.leader);
  }

  waitForLeader(stream: string, opts: { not?: ClusterNode; timeoutMs?: number } = {}): Promise<ClusterNode> {
    const other = opts.not ? ` other than ${opts.not.name}` : '';
    return until(
      async () => {
        const leader = await this.streamLeader(stream);
        return leader && leader !== opts.not && leader.running && !leader.frozen ? leader : undefined;
      },
      `stream ${stream} to have a leader${other}`,
      opts.timeoutMs ?? START_MS,
    );
  }

  async waitForReplicas(stream: string, timeoutMs = START_MS): Promise<void> {
    let last: ClusterInfoReply['cluster'];
    await until(
      async () => {
        last = (await this.ask<ClusterInfoReply>(`$JS.API.STREAM.INFO.${stream}`))?.cluster;
        const followers = (last?.replicas ?? []).filter((r) => r.current && !r.offline && !r.lag);
        return last?.leader && followers.length === this.nodeList.length - 1 ? true : undefined;
      },
      `every node to hold a current replica of ${stream}`,
      timeoutMs,
      () => `: last ${JSON.stringify(last)}`,
    );
  }

  dispose(): Promise<void> {
    return (this.disposing ??= this.shutdown());
  }

  private async shutdown(): Promise<void> {
    try {
      await Promise.all(
        this.nodeList.map((n) => {
          n.thaw();
          return n.kill();
        }),
      );
    } finally {
      process.removeListener('exit', this.onExit);
      rmSync(this.root, { recursive: true, force: true });
    }
  }
}

/** Three ports per node, all distinct: `freePort()` closes its probe, so the kernel may hand a port out twice. */
async function allocatePorts(n: number): Promise<NodePorts[]> {
  const ports = new Set<number>();
  for (let tries = 0; ports.size < n * 3; tries++) {
    if (tries > n * 30) throw new Error(`could not find ${n * 3} distinct free ports in ${tries} tries`);
    ports.add(await freePort());
  }
  const all = [...ports];
  return Array.from({ length: n }, (_, i) => ({
    client: all[i * 3]!,
    cluster: all[i * 3 + 1]!,
    http: all[i * 3 + 2]!,
  }));
}

/**
 * Starts a JetStream cluster of `nodes` nats-servers on loopback, each with its own store and
 * config file; resolves once every node is healthy and JetStream has a meta leader.
 * @throws when a node does not come up within its bound (the error carries its stderr)
 * @example
 * const cluster = await startCluster();
 * afterAll(() => cluster.dispose());
 * const rt = await createRuntime({ service, events, transport: natsTransport({ servers: cluster.urls, replicas: 3 }) });
 */
export async function startCluster(opts: ClusterOptions = {}): Promise<Cluster> {
  const count = opts.nodes ?? 3;
  const name = opts.name ?? `c${process.pid}_${Date.now().toString(36)}`;
  const bin = findNatsServer();
  const root = mkdtempSync(join(tmpdir(), 'bulwark-cluster-'));
  const ports = await allocatePorts(count);
  const nodes = ports.map((p, i) => {
    const nodeName = `n${i + 1}`;
    const store = join(root, nodeName);
    mkdirSync(store);
    const file = join(root, `${nodeName}.conf`);
    const peers = ports.filter((q) => q !== p);
    writeFileSync(file, nodeConfig(nodeName, name, p, peers, store));
    return new NodeProcess(nodeName, p, bin, file);
  });
  const cluster = new NatsCluster(nodes, root);
  try {
    nodes.forEach((n) => n.launch());
    await cluster.ready();
    return cluster;
  } catch (err) {
    await cluster.dispose();
    throw err;
  }
}
