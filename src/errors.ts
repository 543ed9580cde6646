// Errors every layer raises with a stable code. Layers below http know nothing of HTTP: the status
// for each code is chosen in one table in src/http/errors.ts.

export const ERROR_CODES = [
  // request
  'invalid_request', // malformed JSON, wrong types, unknown parameters
  'invalid_input', // well-formed but unusable input (empty text, lone surrogate, no mask token, ...)
  'input_too_long', // more tokens than the model takes and truncate was not asked for
  'payload_too_large', // body over the size limit
  'headers_too_large', // a URL or headers over Node's limit
  'unsupported_media_type',
  'not_found', // no such route
  'model_not_found', // no served model by that name
  'task_not_supported', // the model cannot do what was asked
  'session_not_found', // expired, deleted, or another tenant's
  'model_exists', // registering a version that is already there
  // callers
  'unauthorized', // no API key, or not one of ours
  'forbidden', // a key without the scope the route needs
  'rate_limited', // the tenant's requests per second, over its burst
  'quota_exceeded', // the key's requests for the day
  // model sources
  'repo_not_found',
  'revision_not_found',
  'gated_repo',
  'no_onnx_weights',
  'unsupported_architecture', // a checkpoint whose model_type (or head) the converter does not build
  'unsupported_checkpoint', // a checkpoint format hubserve does not read (pre-1.6 torch.save, ...)
  'unsafe_checkpoint', // a pickle that asks for code outside a state dict's vocabulary
  'bad_checkpoint', // a checkpoint that lies or does not fit its config (header, tensor missing or misshapen)
  'bad_tokenizer', // tokenizer files that are missing, damaged or contradict each other
  'hub_unreachable',
  'not_cached',
  'local_path_not_allowed',
  // models and the engine
  'model_load_failed',
  'model_not_ready',
  'device_unavailable',
  'worker_failed',
  'tokenizer_failed', // the tokenizer threw on an input (not a length problem): a bug or a broken tokenizer
  'timeout',
  'overloaded',
  'shutting_down', // the server is stopping: retry elsewhere
  // configuration
  'invalid_config',
  'internal',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

export class ServeError extends Error {
  override readonly name = 'ServeError';

  constructor(
    readonly code: ErrorCode,
    message: string,
    /** Extra facts for the client (token counts, accepted values, ...); must be JSON. */
    readonly details: Record<string, unknown> = {},
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export const isServeError = (error: unknown): error is ServeError => error instanceof ServeError;

/** A ServeError as it crosses a thread boundary (structured clone keeps no class). */
export interface WireError {
  code: ErrorCode;
  message: string;
  details: Record<string, unknown>;
}

export const toWire = (error: unknown): WireError =>
  isServeError(error)
    ? { code: error.code, message: error.message, details: error.details }
    : { code: 'internal', message: error instanceof Error ? error.message : String(error), details: {} };

export const fromWire = (error: WireError): ServeError =>
  new ServeError(error.code, error.message, error.details);
