export { NEVER_ABORTED, forwardsSignal, type Policy, type PolicyCall } from './policy.js';
export { Bulkhead, bulkhead, type BulkheadOptions, type BulkheadStats } from './bulkhead.js';
export {
  RateLimiter,
  rateLimiter,
  type RateLimiterEnvironment,
  type RateLimiterOptions,
  type RateLimiterStats,
} from './rate-limiter.js';
export {
  SharedRateLimiter,
  createRateLimiter,
  type AnyRateLimiterOptions,
  type SharedLimitMode,
  type SharedRateLimiterEnvironment,
  type SharedRateLimiterOptions,
  type SharedRateLimiterStats,
} from './shared-rate-limiter.js';
export { SHARED_LIMIT_BUCKET } from './shared-limit-format.js';
export { TokenBucket } from './token-bucket.js';
export { Timeout, timeout, type TimeoutEnvironment } from './timeout.js';
export { PolicyWrap, wrap } from './wrap.js';
