// Lambda events as requests to the one Fastify app, through app.inject, so that routes, validation,
// auth and errors are those of the server: Function URLs and API Gateway HTTP APIs (payload 2.0),
// API Gateway REST APIs (payload 1.0), and direct Invoke payloads (the SDK's path, without the
// gateway's 29-second limit). Answers are whole: a streamed request gets its events all at once.
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';

type Headers = Record<string, string | undefined>;

/** Function URL and HTTP API request (payload format 2.0). */
export interface HttpEventV2 {
  version: '2.0';
  rawPath: string;
  rawQueryString?: string;
  headers?: Headers;
  cookies?: string[];
  body?: string;
  isBase64Encoded?: boolean;
  requestContext: { http: { method: string; sourceIp?: string } };
}

/** REST API request (payload format 1.0; HTTP APIs can send it too). */
export interface HttpEventV1 {
  version?: '1.0';
  httpMethod: string;
  path: string;
  headers?: Headers | null;
  multiValueHeaders?: Record<string, string[] | undefined> | null;
  queryStringParameters?: Headers | null;
  multiValueQueryStringParameters?: Record<string, string[] | undefined> | null;
  body?: string | null;
  isBase64Encoded?: boolean;
  requestContext?: { identity?: { sourceIp?: string } };
}

/** Direct Invoke of a model: the body of POST /models/{model}, with the model's name. */
export interface ModelInvoke {
  model: string;
  inputs: unknown;
  parameters?: unknown;
  stream?: boolean;
  /** `authorization` when API keys are configured, `x-session-id`, ... */
  headers?: Headers;
}

/** Direct Invoke of any route: `{"method": "GET", "path": "/models"}`. */
export interface RouteInvoke {
  path: string;
  method?: string;
  /** Sent as JSON. */
  body?: unknown;
  headers?: Headers;
}

export type InvokePayload = ModelInvoke | RouteInvoke;

export type LambdaEvent = HttpEventV2 | HttpEventV1 | InvokePayload;

export interface LambdaContext {
  awsRequestId?: string;
}

export interface HttpResultV2 {
  statusCode: number;
  headers: Record<string, string>;
  cookies?: string[];
  body: string;
  isBase64Encoded: boolean;
}

/** REST answers carry every header value (Set-Cookie included) in multiValueHeaders. */
export interface HttpResultV1 {
  statusCode: number;
  multiValueHeaders: Record<string, string[]>;
  body: string;
  isBase64Encoded: boolean;
}

/** What a direct Invoke returns: the status, headers and the body (parsed when JSON). */
export interface InvokeResult {
  statusCode: number;
  headers: Record<string, string>;
  body: unknown;
}

const isV2 = (event: LambdaEvent): event is HttpEventV2 =>
  (event as HttpEventV2).version === '2.0' && typeof (event as HttpEventV2).rawPath === 'string';
const isV1 = (event: LambdaEvent): event is HttpEventV1 =>
  typeof (event as HttpEventV1).httpMethod === 'string';

/** Answers one event: the shape of the answer follows the shape of the event. */
export async function dispatch(
  app: FastifyInstance,
  event: LambdaEvent,
  context: LambdaContext = {},
): Promise<HttpResultV2 | HttpResultV1 | InvokeResult> {
  if (event && isV2(event)) return toV2(await app.inject(fromV2(event, context)));
  if (event && isV1(event)) return toV1(await app.inject(fromV1(event, context)));
  const request = fromInvoke(event, context);
  if (!request) {
    return {
      statusCode: 400,
      headers: { 'content-type': 'application/json; charset=utf-8' },
      body: {
        error: {
          code: 'invalid_request',
          message:
            'a direct Invoke payload is {"model", "inputs", "parameters"} or {"method", "path", "body"}',
        },
      },
    };
  }
  return toInvokeResult(await app.inject(request));
}

function fromV2(event: HttpEventV2, context: LambdaContext): InjectOptions {
  const headers = withRequestId({ ...event.headers }, context);
  if (event.cookies?.length) headers.cookie = event.cookies.join('; ');
  const query = event.rawQueryString ? `?${event.rawQueryString}` : '';
  return {
    method: event.requestContext.http.method as InjectOptions['method'],
    url: `${event.rawPath}${query}`,
    headers,
    remoteAddress: event.requestContext.http.sourceIp,
    ...body(event.body, event.isBase64Encoded),
  };
}

function fromV1(event: HttpEventV1, context: LambdaContext): InjectOptions {
  // The multi-value forms hold every value; the single-value forms only the last one of each.
  const headers: Headers = { ...event.headers };
  for (const [name, values] of Object.entries(event.multiValueHeaders ?? {}))
    if (values) headers[name] = values.join(', ');
  const query = new URLSearchParams();
  const multi = event.multiValueQueryStringParameters;
  if (multi) {
    for (const [name, values] of Object.entries(multi))
      for (const value of values ?? []) query.append(name, value);
  } else {
    for (const [name, value] of Object.entries(event.queryStringParameters ?? {}))
      if (value !== undefined) query.append(name, value);
  }
  const search = query.size ? `?${query}` : '';
  return {
    method: event.httpMethod as InjectOptions['method'],
    url: `${event.path}${search}`,
    headers: withRequestId(headers, context),
    remoteAddress: event.requestContext?.identity?.sourceIp,
    ...body(event.body, event.isBase64Encoded),
  };
}

function fromInvoke(event: InvokePayload, context: LambdaContext): InjectOptions | undefined {
  // Payloads are whatever the invoker sent: checked, not trusted to match the types.
  if (typeof event !== 'object' || event === null) return undefined;
  const headers = withRequestId({ 'content-type': 'application/json', ...event.headers }, context);
  if ('model' in event && typeof event.model === 'string') {
    const { model, headers: _, ...request } = event;
    // Hub ids keep their slash: /models/org/name.
    const path = model.split('/').map(encodeURIComponent).join('/');
    return { method: 'POST', url: `/models/${path}`, headers, payload: JSON.stringify(request) };
  }
  if ('path' in event && typeof event.path === 'string' && event.path.startsWith('/')) {
    const method = (event.method ?? (event.body === undefined ? 'GET' : 'POST')).toUpperCase();
    const payload = event.body === undefined ? {} : { payload: JSON.stringify(event.body) };
    return { method: method as InjectOptions['method'], url: event.path, headers, ...payload };
  }
  return undefined;
}

/** A request keeps its own X-Request-Id; else it gets the invocation's, the id Lambda's logs show. */
function withRequestId(headers: Headers, context: LambdaContext): Record<string, string> {
  const out = Object.fromEntries(
    Object.entries(headers).filter((entry): entry is [string, string] => entry[1] !== undefined),
  );
  const id = context.awsRequestId;
  if (id && !Object.keys(out).some((name) => name.toLowerCase() === 'x-request-id')) out['x-request-id'] = id;
  return out;
}

function body(text: string | null | undefined, base64: boolean | undefined): { payload?: Buffer | string } {
  if (text === undefined || text === null) return {};
  return { payload: base64 ? Buffer.from(text, 'base64') : text };
}

// Everything hubserve answers is text but for the playground's assets, which go base64 when binary.
const TEXT = /^(text\/|application\/(json|javascript|xml)|image\/svg\+xml|[^;]*\+json)/i;

function payloadOf(response: LightMyRequestResponse): { body: string; isBase64Encoded: boolean } {
  const type = String(response.headers['content-type'] ?? '');
  if (response.rawPayload.length === 0 || TEXT.test(type)) {
    return { body: response.rawPayload.toString('utf8'), isBase64Encoded: false };
  }
  return { body: response.rawPayload.toString('base64'), isBase64Encoded: true };
}

/** Response headers as lists of strings; hop-by-hop ones are the gateway's business. */
function headerLists(response: LightMyRequestResponse): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [name, value] of Object.entries(response.headers)) {
    if (value === undefined || name === 'connection' || name === 'transfer-encoding') continue;
    out[name] = Array.isArray(value) ? value.map(String) : [String(value)];
  }
  return out;
}

const joined = (lists: Record<string, string[]>): Record<string, string> =>
  Object.fromEntries(Object.entries(lists).map(([name, values]) => [name, values.join(', ')]));

function toV2(response: LightMyRequestResponse): HttpResultV2 {
  const { 'set-cookie': cookies, ...lists } = headerLists(response);
  return {
    statusCode: response.statusCode,
    headers: joined(lists),
    ...(cookies ? { cookies } : {}),
    ...payloadOf(response),
  };
}

function toV1(response: LightMyRequestResponse): HttpResultV1 {
  return {
    statusCode: response.statusCode,
    multiValueHeaders: headerLists(response),
    ...payloadOf(response),
  };
}

function toInvokeResult(response: LightMyRequestResponse): InvokeResult {
  const headers = joined(headerLists(response));
  let parsed: unknown = response.body;
  if (/json/.test(headers['content-type'] ?? '')) parsed = JSON.parse(response.body);
  return { statusCode: response.statusCode, headers, body: parsed };
}
