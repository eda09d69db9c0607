// bulwark's public API. Everything a user imports is listed here by name.

export {
  createRuntime,
  defaultTransport,
  transportFromEnv,
  type RuntimeOptions,
} from './runtime/create-runtime.js';
export { Runtime, type ActorDirectory } from './runtime/runtime.js';
export type { BreakerDirectory } from './breaker/registry.js';
export type { PublishItem } from './runtime/publisher.js';
export type { PublishOptions } from './runtime/envelope.js';

export {
  defineEvents,
  type EventRegistry,
  type EventSchemas,
  type EventTypeOf,
  type PayloadInput,
  type PayloadOf,
  type EventDefinition,
  type VersionedEvent,
  type Upcaster,
  type EventScope,
  type ResolvedEvent,
  type SchemaOf,
  type SubscribePattern,
  type TypesMatching,
} from './events/registry.js';
export { decodePayload, type DecodedPayload } from './events/versions.js';
export { isPattern, isValidPattern, matchesPattern, type MatchingTypes } from './events/patterns.js';
export { encodeEvent, decodeEvent, type CloudEvent, CLOUDEVENTS_CONTENT_TYPE } from './events/cloudevent.js';
export { uuidv7 } from './events/ids.js';

export type {
  SubscribeOptions,
  BatchSubscribeOptions,
  Subscription,
  SubscriberStatus,
} from './actors/subscriber/subscriber.actor.js';
export type { EventMeta } from './actors/subscriber/meta.js';
export type { IdempotencyOptions } from './actors/subscriber/idempotency.js';
export type { SubscriberStats } from './actors/subscriber/stats.js';
export { subscriberMachine } from './machines/subscriber.machine.js';

export {
  exponential,
  linear,
  fixed,
  immediate,
  type Backoff,
  type Jitter,
  type ExponentialOptions,
  type LinearOptions,
  type FixedOptions,
} from './retry/backoff.js';
export {
  retry,
  DB_RETRY_POLICY,
  API_RETRY_POLICY,
  type RetryOptions,
  type RetryPolicy,
  RetryingPolicy,
} from './retry/retry.js';

export {
  BulwarkError,
  ValidationError,
  CircuitOpenError,
  TimeoutError,
  BackpressureError,
  ClosedError,
  DecodeError,
  TransportError,
  MissingStreamError,
  PublishTimeoutError,
  PayloadTooLargeError,
  ErrorCode,
  isBulwarkError,
  isValidationError,
  isCircuitOpenError,
  isTimeoutError,
  isBackpressureError,
  isClosedError,
  isPublishTimeoutError,
  isPayloadTooLargeError,
  BulkheadRejectedError,
  RateLimitedError,
  isBulkheadRejectedError,
  isRateLimitedError,
  RemoteError,
  NoRespondersError,
  isRemoteError,
  isNoRespondersError,
  LockLostError,
  isLockLostError,
} from './errors.js';

export {
  memoryTransport,
  type MemoryTransport,
  type MemoryTransportOptions,
  type MemoryUsage,
} from './transport/memory/memory-transport.js';
export { natsTransport } from './transport/nats/nats-transport.js';
export type { NatsTransportOptions, NatsOutboxOptions } from './transport/nats/toolkit/options.js';
export type {
  Transport,
  TransportStatus,
  Delivery,
  DeliveryMode,
  ReplayFrom,
  ReplayRequest,
  ReplayResult,
  ReadRequest,
  StoredEvent,
  PublishReceipt,
  OutboundMessage,
  ConsumerSpec,
} from './transport/transport.js';
export type {
  DeadLetter,
  DeadLetterReason,
  DeadLetterQuery,
  DeadLetterStore,
} from './transport/dead-letters.js';
export type { KeyValueStore, KvEntry } from './transport/key-value.js';
export type {
  RuntimeEvents,
  EventReader,
  ReadOptions,
  HistoryPoint,
  HistoryMeta,
  HistoryEvent,
  EventHistory,
  SkippedEvent,
} from './events/history.js';
export type { Lock } from './lock/lock.js';
export type { LockOptions } from './lock/lease.js';

export { Queue } from './queue/queue.js';
export type { QueueOptions } from './queue/options.js';
export type { QueueLimiterOptions } from './queue/limiter.js';
export type { JobHandler } from './queue/runner-options.js';
export {
  JobPriority,
  type Job,
  type JobInfo,
  type JobState,
  type StoredJobState,
  type JobCounts,
  type JobError,
  type JobOptions,
  type BulkJob,
  type AddedJob,
  type QueueEvents,
  type QueueObserver,
  type JobProgress,
  type CleanOptions,
  type FinishedJobState,
  MAX_JOB_LOG_LINES,
  MAX_JOB_LOG_LINE,
} from './queue/types.js';
export {
  hasQueues,
  type QueueStore,
  type QueueStoreOptions,
  type QueueTransport,
  type QueueBackend,
  type QueueBackendOptions,
  type JobLease,
  type StoredJob,
  type JobNotes,
  type StoreCounts,
  type SettleHook,
} from './queue/store.js';
export {
  MAX_FLOW_CHILDREN,
  MAX_FLOW_DEPTH,
  MAX_FLOW_JOBS,
  type FlowJob,
  type FlowChild,
  type FlowOptions,
  type AddedFlow,
  type AddedFlowChild,
  type ChildrenResults,
  type FlowChildrenInfo,
} from './queue/flow-types.js';
export { deadLetterGroup, MAX_DEAD_LETTER_RESULTS_BYTES } from './queue/dead-letter.js';
export type { RepeatSchedule, RepeatJobOptions, SchedulerInfo } from './queue/schedule.js';
export type { SchedulerActorInfo } from './queue/scheduler.js';
export {
  jobSchedulerMachine,
  type JobSchedulerInput,
  type JobSchedulerContext,
  type JobSchedulerEvent,
} from './machines/job-scheduler.machine.js';
export {
  retryJobMachine,
  timedRetryJobMachine,
  stalledJobSnapshot,
  type RetryJobInput,
  type RetryJobContext,
  type JobOutcome as RetryJobOutcome,
} from './machines/retry-job.machine.js';

export {
  Breaker,
  BreakerState,
  createBreaker,
  protect,
  type BreakerOptions,
  type BreakerStats,
  type BreakerStateChange,
  type BreakerWindow,
  type ProtectOptions,
  type SharedMode,
} from './breaker/index.js';
export {
  BreakerRegistry,
  ConsecutiveStrategy,
  CountWindowStrategy,
  TimeWindowStrategy,
  SHARED_BREAKER_BUCKET,
  sharedBreakerBucket,
  type BreakerEnvironment,
  type BreakerStrategy,
  type RateThresholds,
  type BreakerCall,
  type BreakerRegistryOptions,
} from './breaker/index.js';
export {
  bulkhead,
  Bulkhead,
  rateLimiter,
  RateLimiter,
  SharedRateLimiter,
  timeout,
  Timeout,
  wrap,
  PolicyWrap,
  SHARED_LIMIT_BUCKET,
  type Policy,
  type PolicyCall,
  type BulkheadOptions,
  type BulkheadStats,
  type RateLimiterOptions,
  type RateLimiterStats,
  type RateLimiterEnvironment,
  type SharedRateLimiterOptions,
  type SharedRateLimiterStats,
  type SharedRateLimiterEnvironment,
  type SharedLimitMode,
  type AnyRateLimiterOptions,
  type TimeoutEnvironment,
} from './policy/index.js';
export {
  circuitBreakerMachine,
  type CircuitBreakerContext,
  type CircuitBreakerEvent,
  type CircuitBreakerInput,
} from './machines/circuit-breaker.machine.js';

export type { Clock } from './time/clock.js';
export type { Logger } from './logging.js';
export { activeTrace, runWithTrace, type TraceContext } from './tracing/context.js';
export { withTraceFields } from './tracing/log-fields.js';

export {
  supervisorMachine,
  type ChildHealth,
  type SupervisorContext,
  type SupervisorEvent,
  type SupervisorSnapshot,
} from './machines/supervisor.machine.js';
export {
  restartPolicyMachine,
  type RestartPolicyContext,
  type RestartPolicyEvent,
  type RestartPolicyInput,
} from './machines/restart-policy.machine.js';
export type { SpawnOptions, SupervisedActor } from './actors/supervisor/hosted-actor.js';
export type { Supervisor } from './actors/supervisor/supervisor.js';
export type {
  RestartPolicy,
  ChildStatus,
  ActorReport,
  ActorInfo,
  SupervisorNotice,
} from './actors/supervisor/types.js';
export type { HealthMonitor, ServiceRegistrationWithCheck, CheckListener } from './health/health.js';
export {
  httpCheck,
  envCheck,
  memoryCheck,
  eventLoopCheck,
  type HttpCheckOptions,
  type EnvCheckOptions,
  type MemoryCheckOptions,
  type EventLoopCheckOptions,
} from './health/checks.js';
export {
  HealthStatus,
  type HealthCheck,
  type CheckOutcome,
  type HealthReport,
  type CheckReport,
  type ServiceRegistration,
  type ServiceReport,
  type AlertConfig,
  type BreakerLike,
} from './health/types.js';
export type { RuntimeMetrics } from './metrics/metrics.js';
export type { JobMetrics, BreakerMetrics, JobOutcome } from './metrics/hooks.js';
export type { ListenOptions, HttpServer, HandlerOptions, RequestHandler } from './http/server.js';
export type { GatewayOptions } from './gateway/options.js';
export type { GatewayStats } from './gateway/types.js';
export { DisconnectReason } from './gateway/types.js';
export type { Readiness } from './health/readiness.js';
export { dashboardRoutes, type Dashboard, type DashboardOptions } from './http/dashboard/routes.js';
export type { DashboardSnapshot, DashboardSource } from './http/dashboard/snapshot.js';
export type { RawRoute } from './http/raw-route.js';
export {
  replayEvents,
  openBucket,
  type ReplayOptions,
  type NatsBucket,
  type NatsToolOptions,
} from './nats.js';
export { ShutdownPhase } from './runtime/shutdown.js';
export {
  defineEndpoints,
  type EndpointApi,
  type EndpointSchema,
  type EndpointSchemas,
  type EndpointNameOf,
  type EndpointHandler,
  type RequestInput,
  type RequestOf,
  type ResponseInput,
  type ResponseOf,
} from './rpc/endpoints.js';
export type { Endpoint, EndpointStatus } from './rpc/endpoint.actor.js';
export { EndpointErrorCode, type EndpointStats } from './rpc/dispatch.js';
export type { RequestMeta } from './rpc/meta.js';
export type { HandleOptions, RequestOptions } from './rpc/options.js';
export {
  endpointMachine,
  type EndpointContext,
  type EndpointEvent,
  type EndpointInput,
} from './machines/endpoint.machine.js';
export {
  REQUEST_ID_HEADER,
  type RequestTransport,
  type EndpointSpec,
  type EndpointCounters,
  type EndpointListing,
  type IncomingRequest,
  type OutgoingRequest,
  type RequestSink,
  type EndpointHandle,
} from './transport/requests.js';
export type { ServicePresence, ServiceAdvert, DiscoveredInstance } from './transport/presence.js';
