import { createActor, fromCallback } from 'xstate';
import type { Env } from '../env.js';
import { describeError } from '../errors.js';
import type { Supervision, Supervisor } from '../actors/supervisor/supervisor.js';
import type { SupervisedChild } from '../actors/supervisor/types.js';
import {
  endpointMachine,
  type EndpointActorRef,
  type EndpointEvent,
  type ServerActorInput,
  type ServerCommand,
} from '../machines/endpoint.machine.js';
import type { EndpointSpec, RequestTransport } from '../transport/requests.js';
import { Dispatcher, type DispatchSpec, type EndpointStats } from './dispatch.js';

/** Where an endpoint is in its life. */
export type EndpointStatus = 'starting' | 'serving' | 'draining' | 'failed' | 'stopped';

/** A served endpoint, as `rt.handle` returns it. */
export interface Endpoint {
  /** The endpoint's name (`orders.get`). */
  readonly name: string;
  /** Its supervised actor's id: `endpoint:<name>`. */
  readonly id: string;
  /** Resolves once requests reach it; rejects when its first start failed (it is restarted meanwhile). */
  readonly ready: Promise<void>;
  status(): EndpointStatus;
  /** Counters across restarts: requests, errors, processing time, in flight, waiting. */
  stats(): EndpointStats;
  /** Stops taking requests and waits for the handlers in flight. Idempotent. */
  stop(): Promise<void>;
}

/** What an endpoint host is made of. */
export interface EndpointHostParts extends Env {
  readonly id: string;
  readonly spec: Omit<EndpointSpec, 'counters'>;
  readonly dispatch: DispatchSpec;
  readonly requests: RequestTransport;
}

/**
 * Hosts one endpoint like a subscriber is hosted: an actor of the endpoint machine whose invoked
 * server serves it on the transport and hands requests to one dispatcher (kept across restarts,
 * so its counters and in-flight handlers outlive a failed subscription). Supervised: when serving
 * fails, the supervisor starts a fresh actor with backoff.
 * @example
 * const host = new EndpointHost(parts);
 * host.supervise(supervisor, { maxRestarts: 5 });
 */
export class EndpointHost implements Endpoint, SupervisedChild {
  readonly kind = 'endpoint';
  readonly machine = 'endpoint';
  readonly ready: Promise<void>;
  /** Resolves once the endpoint has stopped for good. */
  readonly halted: Promise<void>;
  private markHalted!: () => void;
  private readonly dispatcher: Dispatcher;
  private actor: EndpointActorRef;
  private supervision: Supervision | undefined;
  private settleReady: ((err?: Error) => void) | undefined;
  private stopping: Promise<void> | undefined;
  /** The status the supervisor last heard of. */
  private reported: EndpointStatus | undefined;

  constructor(private readonly parts: EndpointHostParts) {
    this.dispatcher = new Dispatcher(parts.dispatch);
    this.ready = new Promise<void>((resolve, reject) => {
      this.settleReady = (err) => (err ? reject(err) : resolve());
    });
    this.ready.catch(() => undefined);
    this.halted = new Promise<void>((resolve) => (this.markHalted = resolve));
    this.actor = this.start();
  }

  get id(): string {
    return this.parts.id;
  }
  get name(): string {
    return this.parts.spec.name;
  }

  /** Puts the endpoint under `supervisor`; it reports its own failures. */
  supervise(supervisor: Supervisor, policy: Parameters<Supervisor['add']>[1]): void {
    this.supervision = supervisor.add(this, policy);
  }

  status(): EndpointStatus {
    const v = this.actor.getSnapshot().value;
    if (typeof v === 'string') return v === 'failed' ? 'failed' : 'stopped';
    return v.running;
  }

  state(): string {
    return this.status();
  }

  stats(): EndpointStats {
    return this.dispatcher.stats();
  }

  /** Bound: callers may detach it from the handle. */
  readonly stop = (): Promise<void> =>
    this.supervision ? this.supervision.supervisor.stopChild(this) : this.halt();

  restart(): void {
    const old = this.actor;
    this.actor = this.start();
    old.send({ type: 'stop' });
  }

  halt(): Promise<void> {
    return (this.stopping ??= this.drain());
  }

  private async drain(): Promise<void> {
    const actor = this.actor;
    const stopped = new Promise<void>((resolve) => {
      const sub = actor.subscribe({ complete: resolve, error: () => resolve() });
      if (actor.getSnapshot().status !== 'active') {
        sub.unsubscribe();
        resolve();
      }
    });
    actor.send({ type: 'stop' });
    await stopped;
    await this.dispatcher.drained();
    this.settleReady?.(new Error(`endpoint "${this.name}" stopped before it served`));
    this.markHalted();
  }

  private start(): EndpointActorRef {
    const logic = endpointMachine.provide({
      actors: { server: fromCallback<ServerCommand, ServerActorInput>(this.server) },
    });
    const { clock, inspect } = this.parts;
    const actor = createActor(logic, {
      id: this.parts.id,
      input: { name: this.name },
      clock,
      ...(inspect && { inspect }),
    });
    actor.subscribe((s) => this.observe(actor, s));
    return actor.start();
  }

  private observe(actor: EndpointActorRef, s: ReturnType<EndpointActorRef['getSnapshot']>): void {
    if (actor !== this.actor) return;
    const status = this.status();
    if (status === this.reported) return;
    this.reported = status;
    if (status === 'serving') {
      this.settleReady?.();
      this.settleReady = undefined;
    }
    if (status !== 'failed') return this.supervision?.changed();
    const error = s.context.lastError ?? { name: 'Error', message: 'serving failed' };
    this.settleReady?.(Object.assign(new Error(error.message), { name: error.name }));
    this.settleReady = undefined;
    this.supervision?.failed({ name: error.name, message: `endpoint ${this.name}: ${error.message}` });
  }

  /** The invoked server: serves on the transport, drains on command. */
  private readonly server = ({
    sendBack,
    receive,
  }: {
    sendBack: (e: EndpointEvent) => void;
    receive: (listener: (cmd: ServerCommand) => void) => void;
  }): (() => void) => {
    const failed = (err: unknown): void => sendBack({ type: 'server.failed', error: describeError(err) });
    let handle: ReturnType<RequestTransport['serve']> | undefined;
    try {
      handle = this.parts.requests.serve(
        { ...this.parts.spec, counters: () => this.dispatcher.stats() },
        { request: (r) => this.dispatcher.accept(r), failed },
      );
      handle.ready.then(() => sendBack({ type: 'server.ready' }), failed);
    } catch (err) {
      queueMicrotask(() => failed(err));
    }
    receive(() => {
      const stopped = handle ? handle.stop() : Promise.resolve();
      void stopped.then(() => this.dispatcher.drained()).then(() => sendBack({ type: 'server.drained' }));
    });
    return () => void handle?.stop();
  };
}
