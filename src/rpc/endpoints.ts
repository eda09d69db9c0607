import { z } from 'zod';
import { ValidationError } from '../errors.js';
import type { RequestMeta } from './meta.js';

/** The schemas of one endpoint: what it is asked and what it answers. */
export interface EndpointSchema {
  readonly request: z.ZodType;
  readonly response: z.ZodType;
}

/** A map from endpoint name (dotted: `'orders.get'`) to its schemas. */
export type EndpointSchemas = Record<string, EndpointSchema>;

/** The endpoint names of an API. */
export type EndpointNameOf<S extends EndpointSchemas> = keyof S & string;
/** What a caller passes (zod's input type of the request schema). */
export type RequestInput<S extends EndpointSchemas, N extends keyof S> = z.input<S[N]['request']>;
/** What a handler receives (zod's output type of the request schema). */
export type RequestOf<S extends EndpointSchemas, N extends keyof S> = z.output<S[N]['request']>;
/** What a handler returns (zod's input type of the response schema). */
export type ResponseInput<S extends EndpointSchemas, N extends keyof S> = z.input<S[N]['response']>;
/** What a caller receives (zod's output type of the response schema). */
export type ResponseOf<S extends EndpointSchemas, N extends keyof S> = z.output<S[N]['response']>;

/** Serves one endpoint: receives the validated request, returns (or resolves with) the response. */
export type EndpointHandler<S extends EndpointSchemas, N extends keyof S> = (
  request: RequestOf<S, N>,
  meta: RequestMeta,
) => ResponseInput<S, N> | PromiseLike<ResponseInput<S, N>>;

/** The endpoint API made by {@link defineEndpoints}; both the serving and the calling side use it. */
export interface EndpointApi<S extends EndpointSchemas = EndpointSchemas> {
  readonly schemas: S;
  /** Every endpoint name. */
  readonly names: readonly EndpointNameOf<S>[];
  /** @returns the schemas of `name`, or undefined */
  schema(name: string): EndpointSchema | undefined;
  /**
   * The endpoint's description for discovery: its request and response JSON Schemas
   * (`request_schema`, `response_schema`), as strings.
   */
  metadata(name: string): Readonly<Record<string, string>>;
}

/** Any endpoint API, as the untyped layers below `rt.handle` / `rt.request` take it. */
export type AnyEndpointApi = Pick<EndpointApi, 'schema' | 'metadata'>;

const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]*(\.[A-Za-z0-9][A-Za-z0-9_-]*)*$/;
/** The longest endpoint name: it is part of the subject every request travels on. */
export const MAX_ENDPOINT_NAME_LENGTH = 255;

/** A zod schema as JSON Schema text; types JSON Schema cannot express are left open (`{}`). */
function jsonSchemaText(schema: z.ZodType, io: 'input' | 'output'): string {
  try {
    return JSON.stringify(z.toJSONSchema(schema, { io, unrepresentable: 'any' }));
  } catch {
    return '{}';
  }
}

/**
 * Defines request/reply endpoints by name, each with the zod schemas of its request and response.
 * The same definition serves (`rt.handle`) and calls (`rt.request`), typed from the schemas.
 * @throws {ValidationError} when a name is not dot-separated tokens of letters, digits, `-`, `_`
 * @example
 * const api = defineEndpoints({
 *   'orders.get': { request: z.object({ id: z.string() }), response: z.object({ id: z.string(), status: z.string() }) },
 * });
 */
export function defineEndpoints<const S extends EndpointSchemas>(schemas: S): EndpointApi<S> {
  const table = new Map<string, EndpointSchema>();
  for (const [name, schema] of Object.entries(schemas)) {
    if (name.length > MAX_ENDPOINT_NAME_LENGTH || !NAME_PATTERN.test(name))
      throw new ValidationError(
        `endpoint "${name.slice(0, 60)}" must be dot-separated tokens of letters, digits, '-' or '_' (at most ${MAX_ENDPOINT_NAME_LENGTH} characters)`,
      );
    table.set(name, schema);
  }
  const metadata = new Map<string, Readonly<Record<string, string>>>();
  return {
    schemas,
    names: Object.freeze(Object.keys(schemas) as EndpointNameOf<S>[]),
    schema: (name) => table.get(name),
    metadata(name) {
      let m = metadata.get(name);
      const schema = table.get(name);
      if (!m && schema) {
        m = Object.freeze({
          request_schema: jsonSchemaText(schema.request, 'input'),
          response_schema: jsonSchemaText(schema.response, 'output'),
        });
        metadata.set(name, m);
      }
      return m ?? {};
    },
  };
}

/** @returns the ValidationError raised for a name the API does not define. */
export function unknownEndpoint(name: string): ValidationError {
  return new ValidationError(`unknown endpoint "${name}"`);
}
