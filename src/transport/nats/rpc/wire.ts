/**
 * The NATS micro protocol's wire names for request/reply (ADR-32), and bulwark's own: one place
 * spells them. An endpoint `orders.get` of prefix `shop` listens on `shop.rpc.orders.get`.
 */
export const RpcWire = {
  /** The micro protocol's default queue group: every instance of a service shares the load. */
  queueGroup: 'q',
  /** Set on an error reply: the error's description. */
  errorHeader: 'Nats-Service-Error',
  /** Set on an error reply: the error's code (400, 500, …). */
  errorCodeHeader: 'Nats-Service-Error-Code',
  /** The time the caller had left when it sent the request, in ms. */
  deadlineHeader: 'Bulwark-Deadline-Ms',
  /** The subject token between the prefix and the endpoint name. */
  subjectToken: 'rpc',
} as const;

/** @returns the subject an endpoint listens on */
export function rpcSubject(prefix: string, endpoint: string): string {
  return `${prefix}.${RpcWire.subjectToken}.${endpoint}`;
}

/** @returns the endpoint name of a subject of `prefix`, or undefined for any other subject */
export function endpointOfSubject(prefix: string, subject: string): string | undefined {
  const head = `${prefix}.${RpcWire.subjectToken}.`;
  return subject.startsWith(head) ? subject.slice(head.length) : undefined;
}

/**
 * The micro protocol's name of an endpoint: letters, digits, `-` and `_` only (`orders.get` is
 * listed as `orders_get`; its subject keeps the dots).
 */
export function microName(endpoint: string): string {
  return endpoint.replace(/[^A-Za-z0-9_-]/g, '_');
}
