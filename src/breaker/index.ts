export { Breaker, type BreakerStateChange } from './breaker.js';
export { createBreaker } from './create-breaker.js';
export { NEVER_ABORTED, type BreakerCall } from './call.js';
export {
  BreakerState,
  type BreakerEnvironment,
  type BreakerOptions,
  type BreakerStats,
  type BreakerWindow,
  type SharedMode,
} from './options.js';
export { BreakerRegistry, type BreakerRegistryOptions } from './registry.js';
export { protect, type ProtectOptions } from './protect.js';
export { SHARED_BREAKER_BUCKET, sharedBreakerBucket } from './shared-format.js';
export { ConsecutiveStrategy, type BreakerStrategy, type RateThresholds } from './strategy.js';
export { CountWindowStrategy } from './count-window.js';
export { TimeWindowStrategy } from './time-window.js';
