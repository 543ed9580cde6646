// The configuration's one schema: the YAML file, HUBSERVE_* environment variables and CLI flags are
// all read into this shape and validated by it.
import Type, { type Static, type TSchema } from 'typebox';
import { SCOPES } from '../auth/keys.ts';
import { DEVICES } from '../engine/protocol.ts';
import { DTYPES, WEIGHTS_MODES } from '../hub/index.ts';
import { TASK_NAMES } from '../tasks/types.ts';
import { DEFAULT_BATCHING } from '../scheduler/scheduler.ts';
import { NAME_PATTERN, VERSION_PATTERN } from './references.ts';

export const TENANT_PATTERN = '^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$';
const SIZE_PATTERN = '^(\\d+(?:\\.\\d+)?)\\s*(B|KB|MB|GB|KiB|MiB|GiB)?$';

export const ModelSchema = Type.Object(
  {
    name: Type.String({
      pattern: NAME_PATTERN,
      maxLength: 200,
      description: 'Name in URLs (POST /models/{name}); may be a Hub id with its slash.',
    }),
    version: Type.Optional(
      Type.String({
        pattern: VERSION_PATTERN,
        description: 'Version of the model under its name ("1" when absent); requests may ask name@version.',
      }),
    ),
    default: Type.Optional(
      Type.Boolean({ description: 'Requests without a version go to this one (else the latest version).' }),
    ),
    weight: Type.Optional(
      Type.Number({
        minimum: 0,
        description:
          "Share of the name's traffic (relative to its other versions' weights), sticky per user: A/B tests, canaries.",
      }),
    ),
    source: Type.String({
      minLength: 1,
      description: 'Hub id[@revision], or a local folder (./path or /path).',
    }),
    task: Type.Optional(
      Type.Enum(TASK_NAMES, { description: 'What the model does; read from its config.json when absent.' }),
    ),
    dtype: Type.Optional(
      Type.Enum(DTYPES, { description: 'Weights to load: onnx/model{suffix}.onnx (default fp32).' }),
    ),
    weights: Type.Optional(
      Type.Enum(WEIGHTS_MODES, {
        description:
          "onnx: the repo's ONNX files; checkpoint: its model.safetensors / pytorch_model.bin, converted " +
          '(fp32, fp16, q8); auto (default): ONNX where the repo has it for the dtype, else convert.',
      }),
    ),
    device: Type.Optional(
      Type.Enum(DEVICES, {
        description: 'Where it runs (default cpu). An unavailable device fails the start.',
      }),
    ),
    instances: Type.Optional(
      Type.Integer({ minimum: 1, maximum: 64, description: 'Worker threads (default 1).' }),
    ),
    load: Type.Optional(
      Type.Enum(['eager', 'on_demand'], {
        description: 'Load at start (eager, the default) or on its first request (on_demand).',
      }),
    ),
    handler: Type.Optional(
      Type.String({
        description: 'Path of a handler module (defineHandler: preprocess, infer, postprocess, warm-up).',
      }),
    ),
    batching: Type.Optional(
      Type.Object(
        {
          max_batch_size: Type.Optional(
            Type.Integer({
              minimum: 1,
              maximum: 1024,
              description: `Inputs per batch (default ${DEFAULT_BATCHING.max_batch_size}).`,
            }),
          ),
          max_delay_ms: Type.Optional(
            Type.Number({
              minimum: 0,
              maximum: 1000,
              description: `Wait of an idle model for more requests (default ${DEFAULT_BATCHING.max_delay_ms}).`,
            }),
          ),
          max_batch_tokens: Type.Optional(
            Type.Integer({
              minimum: 1,
              description: `Padded tokens per batch (default ${DEFAULT_BATCHING.max_batch_tokens}).`,
            }),
          ),
          max_queue: Type.Optional(
            Type.Integer({
              minimum: 1,
              description: `Waiting inputs before 503 (default ${DEFAULT_BATCHING.max_queue}).`,
            }),
          ),
          max_length_ratio: Type.Optional(
            Type.Number({
              minimum: 1,
              maximum: 100,
              description: `Length spread allowed in a batch (default ${DEFAULT_BATCHING.max_length_ratio}).`,
            }),
          ),
          timeout_ms: Type.Optional(
            Type.Integer({
              minimum: 1,
              description: `Deadline of a request (default ${DEFAULT_BATCHING.timeout_ms}).`,
            }),
          ),
        },
        { additionalProperties: false, description: 'Dynamic batching and queueing.' },
      ),
    ),
    threads: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: 256,
        description: 'ONNX Runtime threads per instance (default: cores / instances).',
      }),
    ),
    hang_timeout_s: Type.Optional(
      Type.Number({
        minimum: 1,
        maximum: 3600,
        description:
          'A worker whose event loop is stuck this long outside model runs is replaced, its requests 503 (default 10).',
      }),
    ),
    max_worker_growth_mb: Type.Optional(
      Type.Number({
        minimum: 16,
        description:
          'A worker whose JS heap and buffers grew this much since it was ready is replaced without failing requests.',
      }),
    ),
  },
  { additionalProperties: false },
);

const RateLimitSchema = Type.Object(
  {
    requests_per_s: Type.Number({ exclusiveMinimum: 0, description: 'Sustained requests per second.' }),
    burst: Type.Integer({ minimum: 1, description: 'Requests allowed at once above the rate.' }),
  },
  { additionalProperties: false, description: 'Token bucket of a tenant (429 + Retry-After past it).' },
);

export const ApiKeySchema = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 100, description: 'Who holds it (shown in logs).' }),
    hash: Type.String({
      pattern: '^sha256:[0-9a-f]{64}$',
      description: 'sha256 of the key, never the key: `hubserve key NAME` prints both.',
    }),
    scopes: Type.Array(Type.Enum(SCOPES), {
      minItems: 1,
      description: 'infer (run models), metrics (read /metrics), admin (all).',
    }),
    tenant: Type.Optional(
      Type.String({ pattern: TENANT_PATTERN, description: 'Whom it acts for (default its name).' }),
    ),
    rate_limit: Type.Optional(RateLimitSchema),
    daily_quota: Type.Optional(Type.Integer({ minimum: 1, description: 'Requests per UTC day.' })),
  },
  { additionalProperties: false },
);

export const TenantSchema = Type.Object(
  {
    id: Type.String({
      pattern: TENANT_PATTERN,
      description: 'The tenant, as API keys name it (api_keys[].tenant).',
    }),
    models: Type.Optional(
      Type.Array(ModelSchema, {
        description:
          'Its own models: only it reaches them, and one named like a shared model replaces it for it.',
      }),
    ),
    allow: Type.Optional(
      Type.Array(Type.String({ pattern: NAME_PATTERN }), {
        description: 'Shared models it may use; absent: all. Others answer 404 as if they did not exist.',
      }),
    ),
  },
  { additionalProperties: false },
);

export const ConfigSchema = Type.Object(
  {
    host: Type.String({ description: 'Interface to listen on (default 127.0.0.1).' }),
    port: Type.Integer({ minimum: 0, maximum: 65535, description: 'Inference port (default 8080).' }),
    models: Type.Array(ModelSchema, { description: 'Models to serve.' }),
    offline: Type.Boolean({ description: 'Use the Hugging Face cache only (also HF_HUB_OFFLINE=1).' }),
    log_level: Type.Enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const, {
      description: 'Log level (default info).',
    }),
    max_body_bytes: Type.Integer({ minimum: 1024, description: 'Largest request body (default 1 MiB).' }),
    max_in_flight_per_connection: Type.Integer({
      minimum: 1,
      maximum: 10_000,
      description: 'Messages a conversation socket may have in flight (default 64).',
    }),
    tenants: Type.Optional(Type.Array(TenantSchema, { description: "Tenants' own models and allow-lists." })),
    management: Type.Optional(
      Type.Object(
        {
          enabled: Type.Optional(Type.Boolean({ description: 'Serve the management API (default true).' })),
          host: Type.Optional(
            Type.String({
              description: 'Its interface (default 127.0.0.1; beyond loopback it needs admin keys).',
            }),
          ),
          port: Type.Optional(
            Type.Integer({ minimum: 0, maximum: 65535, description: 'Its port (default 8081).' }),
          ),
        },
        {
          additionalProperties: false,
          description: 'The management API: register, remove, scale and route models while serving.',
        },
      ),
    ),
    model_repository: Type.Optional(
      Type.Object(
        {
          path: Type.String({ minLength: 1, description: 'Folder of <name>/<version>/ model folders.' }),
          poll_s: Type.Optional(
            Type.Number({
              exclusiveMinimum: 0,
              description: 'How often it is looked at for added and removed versions (default 5).',
            }),
          ),
        },
        {
          additionalProperties: false,
          description: 'A Triton-style model repository, picked up while serving.',
        },
      ),
    ),
    api_keys: Type.Array(ApiKeySchema, {
      description: 'Bearer keys; with none, only a loopback (or --insecure) server starts.',
    }),
    rate_limit: Type.Optional(RateLimitSchema),
    insecure: Type.Boolean({ description: 'Listen beyond loopback without API keys (default false).' }),
    limits: Type.Optional(
      Type.Object(
        {
          max_inputs: Type.Optional(
            Type.Integer({ minimum: 1, description: 'Inputs per request (tasks: 256).' }),
          ),
          max_input_chars: Type.Optional(
            Type.Integer({ minimum: 1, description: 'Characters per input text (tasks: 100,000).' }),
          ),
          max_new_tokens: Type.Optional(
            Type.Integer({ minimum: 1, description: 'Tokens a generation may ask for (tasks: 4,096).' }),
          ),
        },
        { additionalProperties: false, description: 'What one request may ask: 422 invalid_input past it.' },
      ),
    ),
    memory: Type.Optional(
      Type.Object(
        {
          max_loaded_models: Type.Optional(
            Type.Integer({ minimum: 1, description: 'Models loaded at once.' }),
          ),
          max_bytes: Type.Optional(
            Type.Union([Type.Integer({ minimum: 1 }), Type.String({ pattern: SIZE_PATTERN })], {
              description: 'Measured resident memory of the loaded models: bytes, or 512MiB, 8GiB, ...',
            }),
          ),
          idle_unload_after_s: Type.Optional(
            Type.Number({ exclusiveMinimum: 0, description: 'Unload a model unused this long.' }),
          ),
          load_wait_s: Type.Optional(
            Type.Number({
              exclusiveMinimum: 0,
              description: 'How long a request waits for its model to load before 503 (default 30).',
            }),
          ),
        },
        {
          additionalProperties: false,
          description: 'Past the budget, the least recently used idle model is unloaded first.',
        },
      ),
    ),
    log_inputs: Type.Boolean({
      description: "Put each request's body in its log line (debugging only: logs then hold user text).",
    }),
    cors_origins: Type.Array(Type.String({ pattern: '^(\\*|https?://[^/\\s]+)$' }), {
      description: 'Origins browsers may call from (https://app.example, or * for any); none: CORS off.',
    }),
    model_dirs: Type.Optional(
      Type.Array(Type.String({ minLength: 1 }), {
        description: 'Folders local model sources must be inside (links and .. resolved); absent: any.',
      }),
    ),
    shutdown_timeout_s: Type.Number({
      minimum: 0,
      maximum: 3600,
      description:
        'On SIGTERM, how long until requests still in flight get 503, the drain delay included (default 25).',
    }),
    drain_delay_s: Type.Number({
      minimum: 0,
      maximum: 3600,
      description:
        'On SIGTERM, how long the server keeps accepting and serving (every answer with Connection: close) ' +
        'while balancers stop routing to it, before it closes its listener (default 3).',
    }),
  },
  { additionalProperties: false },
);

export type ModelConfigEntry = Static<typeof ModelSchema>;

const UNITS: Record<string, number> = {
  '': 1,
  B: 1,
  KB: 1e3,
  MB: 1e6,
  GB: 1e9,
  KiB: 2 ** 10,
  MiB: 2 ** 20,
  GiB: 2 ** 30,
};

/** A size as bytes: a number, or 512MiB, 8GiB, 2GB, ... */
export function parseBytes(size: number | string): number {
  if (typeof size === 'number') return size;
  const [, value = '0', unit = ''] = new RegExp(SIZE_PATTERN).exec(size) ?? [];
  return Math.round(Number(value) * (UNITS[unit] ?? 1));
}
export type Config = Static<typeof ConfigSchema>;

export const DEFAULTS: Config = {
  host: '127.0.0.1',
  port: 8080,
  models: [],
  offline: false,
  log_level: 'info',
  max_body_bytes: 1024 * 1024,
  max_in_flight_per_connection: 64,
  api_keys: [],
  insecure: false,
  cors_origins: [],
  log_inputs: false,
  shutdown_timeout_s: 25,
  drain_delay_s: 3,
};

/** The schema's scalar keys, as paths (env vars and flags exist for these). */
export function scalarKeys(
  schema: TSchema = ConfigSchema,
  prefix: string[] = [],
): { path: string[]; schema: TSchema }[] {
  const properties = (schema as { properties?: Record<string, TSchema> }).properties ?? {};
  return Object.entries(properties).flatMap(([key, value]) => {
    const type = (value as { type?: string }).type;
    if (type === 'object') return scalarKeys(value, [...prefix, key]);
    return type === 'array' ? [] : [{ path: [...prefix, key], schema: value }];
  });
}
