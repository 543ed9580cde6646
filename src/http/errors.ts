// The JSON error contract: {"error": {"code", "message", ...details}} with the status chosen here, in
// one table, for every code the server can raise.
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyError, FastifyInstance } from 'fastify';
import Type from 'typebox';
import { type ErrorCode, isServeError, ServeError } from '../errors.ts';
import { lingerAfter } from './drain.ts';

export const STATUS: Record<ErrorCode, number> = {
  invalid_request: 400,
  invalid_input: 422,
  input_too_long: 422,
  payload_too_large: 413,
  headers_too_large: 431,
  unsupported_media_type: 415,
  not_found: 404,
  model_not_found: 404,
  task_not_supported: 400,
  session_not_found: 404,
  model_exists: 409,
  unauthorized: 401,
  forbidden: 403,
  rate_limited: 429,
  quota_exceeded: 429,
  repo_not_found: 404,
  revision_not_found: 404,
  gated_repo: 401,
  no_onnx_weights: 422,
  unsupported_architecture: 422,
  unsupported_checkpoint: 422,
  unsafe_checkpoint: 422,
  bad_checkpoint: 422,
  bad_tokenizer: 422,
  hub_unreachable: 503,
  not_cached: 503,
  local_path_not_allowed: 403,
  model_load_failed: 503,
  model_not_ready: 503,
  device_unavailable: 503,
  worker_failed: 503,
  timeout: 504,
  overloaded: 503,
  shutting_down: 503,
  invalid_config: 400,
  tokenizer_failed: 500,
  internal: 500,
};

/** Seconds a client should wait before retrying a 503. */
export const RETRY_AFTER_S = 1;

export const ErrorResponse = Type.Object(
  {
    error: Type.Object(
      { code: Type.String({ description: 'Stable, machine-readable' }), message: Type.String() },
      { additionalProperties: true },
    ),
  },
  { $id: 'ErrorResponse', description: 'Every error has this shape.' },
);

/** Route schema `response` entries for errors (ErrorResponse is added to the app once). */
export const errorResponses = { '4xx': { $ref: 'ErrorResponse#' }, '5xx': { $ref: 'ErrorResponse#' } };

/** Fastify's own errors, mapped onto the contract's codes. */
function fromFastify(error: FastifyError): ServeError {
  if (error.validation) {
    const problems = error.validation.map((v) => `${v.instancePath || '(body)'} ${v.message ?? ''}`.trim());
    return new ServeError('invalid_request', `invalid request: ${problems.join('; ')}`, { problems });
  }
  switch (error.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new ServeError('payload_too_large', error.message);
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new ServeError('unsupported_media_type', 'send JSON with Content-Type: application/json');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return new ServeError('invalid_request', error.message);
    default:
      if (error.statusCode && error.statusCode < 500) return new ServeError('invalid_request', error.message);
      return new ServeError('internal', 'internal error');
  }
}

/** What the client is told; an internal error's own message stays in the log, not in the answer. */
export const publicMessage = (error: ServeError, requestId: string): string =>
  error.code === 'internal'
    ? `internal error; the server log has the details (request ${requestId})`
    : error.message;

/** The error body of the server's own contract. */
export function errorBody(error: ServeError, requestId: string): { error: Record<string, unknown> } {
  return { error: { ...error.details, code: error.code, message: publicMessage(error, requestId) } };
}

/** How a group of routes words its errors (hubserve's contract, OpenAI's, KServe's). */
export type ErrorFormat = (error: ServeError, status: number, requestId: string) => unknown;

export const contractFormat: ErrorFormat = (error, _status, requestId) => errorBody(error, requestId);

/** OpenAI's error `type` for an HTTP status. */
function openaiType(status: number): string {
  if (status === 401) return 'authentication_error';
  if (status === 403) return 'permission_error';
  if (status === 429) return 'rate_limit_error';
  return status >= 500 ? 'server_error' : 'invalid_request_error';
}

/** OpenAI's shape, on /v1: what its SDKs turn into NotFoundError, BadRequestError, ... */
export const openaiFormat: ErrorFormat = (error, status, requestId) => ({
  error: {
    message: publicMessage(error, requestId),
    type: openaiType(status),
    param:
      typeof error.details.param === 'string'
        ? error.details.param
        : error.code === 'model_not_found'
          ? 'model'
          : null,
    code: error.code,
  },
});

/** KServe's Open Inference Protocol v2 shape, on /v2. */
export const kserveFormat: ErrorFormat = (error, _status, requestId) => ({
  error: publicMessage(error, requestId),
});

const inGroup = (url: string, prefix: string): boolean => url === prefix || url.startsWith(`${prefix}/`);

/** The format of the route group a URL belongs to, for errors raised before any route is found. */
export const formatFor = (url: string): ErrorFormat =>
  inGroup(url, '/v1') ? openaiFormat : inGroup(url, '/v2') ? kserveFormat : contractFormat;

/** Answers a request Node's HTTP parser refused (bad headers, framing), then closes the connection. */
export function answerMalformedHttp(error: Error & { code?: string }, socket: Duplex): void {
  if (error.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return;
  }
  const tooLarge = error.code === 'HPE_HEADER_OVERFLOW';
  const failure = new ServeError(
    tooLarge ? 'headers_too_large' : 'invalid_request',
    tooLarge ? 'the URL or headers are too large' : `malformed HTTP request (${error.code ?? error.message})`,
  );
  const status = STATUS[failure.code];
  const body = JSON.stringify(errorBody(failure, 'none'));
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

/** Errors the router raises before any handler (a bad URL, a too-long path segment). */
export function frameworkError(error: FastifyError): ServeError {
  const message =
    error.code === 'FST_ERR_MAX_PARAM_LENGTH'
      ? 'a path segment is too long'
      : `malformed URL: ${error.message}`;
  return new ServeError('invalid_request', message);
}

/**
 * Errors of the routes in `app`'s scope: the status from the one table, the body in `format`. The root
 * app uses the contract's format; a plugin for another protocol calls this with its own.
 */
export function handleErrors(app: FastifyInstance, format: ErrorFormat = contractFormat): void {
  app.setErrorHandler((raw: FastifyError | ServeError, request, reply) => {
    const error = isServeError(raw) ? raw : fromFastify(raw);
    const status = STATUS[error.code] ?? 500; // a handler may throw a code of its own
    // A fault is an error with its stack; a 503 (overloaded, not ready, shutting down) is the server
    // working as meant: a warning.
    if (status === 500) request.log.error({ err: raw }, error.message);
    else if (status > 500) request.log.warn({ code: error.code }, error.message);
    const retryAfter = status === 503 ? RETRY_AFTER_S : error.details.retry_after_s;
    if (typeof retryAfter === 'number') void reply.header('Retry-After', String(retryAfter));
    if (error.code === 'unauthorized') void reply.header('WWW-Authenticate', 'Bearer realm="hubserve"');
    // Answered before the body was read: the client may still be writing it, and must read this.
    if (error.code === 'payload_too_large') lingerAfter(request.raw);
    return reply.status(status).send(format(error, status, request.id));
  });
  app.setNotFoundHandler((request, reply) => {
    const error = new ServeError('not_found', `no route ${request.method} ${request.url}`);
    return reply.status(404).send(format(error, 404, request.id));
  });
}

export function registerErrorHandling(app: FastifyInstance): void {
  app.addSchema(ErrorResponse);
  handleErrors(app);
}
