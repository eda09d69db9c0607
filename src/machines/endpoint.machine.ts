import { assign, fromCallback, sendTo, setup, type ActorRefFrom } from 'xstate';

/**
 * A request/reply endpoint's life: it starts serving, serves, drains its in-flight requests on
 * stop, and fails when serving stops under it (the supervisor then starts a fresh one).
 *
 * Requests never reach this machine: the invoked `server` actor owns the transport's endpoint and
 * runs the handlers, so a busy endpoint costs the machine no events per request.
 */

/** What the host gives the machine. */
export interface EndpointInput {
  /** The endpoint's name, for people and the inspector. */
  readonly name: string;
}

/** The machine's context: its input and the error serving last failed with. */
export interface EndpointContext extends EndpointInput {
  readonly lastError: { readonly name: string; readonly message: string } | undefined;
}

/** Events the server actor sends back, and the host's `stop`. */
export type EndpointEvent =
  | { type: 'server.ready' }
  | { type: 'server.failed'; error: { name: string; message: string } }
  | { type: 'server.drained' }
  | { type: 'stop' };

/** Commands the machine sends to its server actor. */
export type ServerCommand = { type: 'drain' };

/** Input of the invoked server actor. */
export interface ServerActorInput {
  readonly name: string;
}

/** The endpoint machine; the host supplies its `server` actor with `.provide()`. */
export const endpointMachine = setup({
  types: {
    context: {} as EndpointContext,
    events: {} as EndpointEvent,
    input: {} as EndpointInput,
  },
  actors: {
    // Supplied by the host with `.provide()`: it serves the endpoint on the transport.
    server: fromCallback<ServerCommand, ServerActorInput>(() => undefined),
  },
  actions: {
    recordFailure: assign({
      lastError: ({ event }) => (event.type === 'server.failed' ? event.error : undefined),
    }),
  },
}).createMachine({
  id: 'endpoint',
  context: ({ input }) => ({ ...input, lastError: undefined }),
  initial: 'running',
  states: {
    running: {
      invoke: { id: 'server', src: 'server', input: ({ context }) => ({ name: context.name }) },
      initial: 'starting',
      states: {
        starting: { on: { 'server.ready': 'serving' } },
        serving: {},
        draining: {
          entry: sendTo('server', { type: 'drain' }),
          on: {
            stop: {},
            'server.drained': '#endpoint.stopped',
            'server.failed': '#endpoint.stopped',
          },
        },
      },
      on: {
        stop: '.draining',
        'server.failed': { target: 'failed', actions: 'recordFailure' },
      },
    },
    failed: { on: { stop: 'stopped' } },
    stopped: { type: 'final' },
  },
});

/** A running endpoint actor. */
export type EndpointActorRef = ActorRefFrom<typeof endpointMachine>;
