// GET /models and GET /models/{name}: what the caller may use, its task, labels, versions and state.
import type { FastifyInstance } from 'fastify';
import Type from 'typebox';
import { MODEL_STATES, type Registry, type ServedModel } from '../registry/registry.ts';
import { errorResponses } from './errors.ts';
import { viewerOf } from './viewer.ts';
import { type ModelPathRequest, modelNameOf } from './model-path.ts';

const Memory = Type.Object(
  {
    max_loaded_models: Type.Optional(Type.Integer()),
    max_bytes: Type.Optional(Type.Integer()),
    loaded_models: Type.Integer(),
    loaded_bytes: Type.Integer({ description: 'Measured resident bytes of the loaded models.' }),
  },
  { description: 'The memory budget and its use.' },
);

/** How a model's traffic is shared between its versions (GET /models, the management API). */
export const Routing = Type.Object(
  {
    default_version: Type.String({ description: 'Where requests without a version go.' }),
    versions: Type.Array(Type.String()),
    split: Type.Optional(
      Type.Record(Type.String(), Type.Number(), {
        description: 'Relative weights, sticky per user (X-User-Id, else the API key).',
      }),
    ),
  },
  { description: "How the name's traffic is shared between its versions." },
);

export const Model = Type.Object(
  {
    name: Type.String(),
    version: Type.String({ description: 'This version: POST /models/{name}@{version} reaches it.' }),
    tenant: Type.Optional(
      Type.String({ description: 'The tenant whose own model it is (only it sees it).' }),
    ),
    routing: Routing,
    source: Type.String(),
    state: Type.Enum(MODEL_STATES, {
      description: 'unloaded models load on their next request; failed ones say why in error.',
    }),
    load: Type.Enum(['eager', 'on_demand'], { description: 'Loaded at start, or on its first request.' }),
    loads: Type.Integer({ description: 'Times it has been loaded (again after being unloaded).' }),
    resident_bytes: Type.Optional(
      Type.Integer({ description: 'Memory its load added, measured (with a memory budget).' }),
    ),
    task: Type.Optional(Type.String()),
    tasks: Type.Array(Type.String(), { description: 'Tasks requests may ask of it.' }),
    revision: Type.Optional(Type.String()),
    commit: Type.Optional(Type.String()),
    weights: Type.Optional(
      Type.Enum(['onnx', 'checkpoint'], {
        description: "The repo's ONNX files, or its checkpoint converted by hubserve.",
      }),
    ),
    conversion: Type.Optional(
      Type.Object(
        {
          ms: Type.Integer({ description: 'How long the conversion took when it ran' }),
          cached: Type.Boolean({ description: 'Reused from the conversion cache at this load' }),
          model_type: Type.String(),
          checkpoint: Type.Enum(['safetensors', 'pytorch']),
          tokenizer: Type.Enum(['copied', 'converted'], {
            description: "tokenizer.json as the repo has it, or converted from its slow tokenizer's files",
          }),
        },
        { description: 'For a model converted from its checkpoint.' },
      ),
    ),
    dtype: Type.String(),
    device: Type.String(),
    instances: Type.Integer(),
    labels: Type.Optional(Type.Array(Type.String())),
    max_input_tokens: Type.Optional(Type.Integer()),
    model_type: Type.Optional(Type.String()),
    load_ms: Type.Optional(Type.Integer()),
    warmup_ms: Type.Optional(Type.Integer()),
    warnings: Type.Optional(
      Type.Array(Type.String(), { description: 'What the model does less well than it should, and why.' }),
    ),
    error: Type.Optional(Type.Object({ code: Type.String(), message: Type.String() })),
    queue: Type.Optional(
      Type.Object(
        {
          workers: Type.Integer({ description: 'Worker threads running now' }),
          queued: Type.Integer({ description: 'Inputs waiting' }),
          running: Type.Integer({ description: 'Batches running' }),
          batches: Type.Integer({ description: 'Batches run so far' }),
          batched_inputs: Type.Integer({ description: 'Inputs run so far' }),
        },
        { description: 'Dynamic batching at work.' },
      ),
    ),
    workers: Type.Optional(
      Type.Object(
        {
          heap_bytes: Type.Integer({
            description: 'JS heap and buffers of its workers (not native ONNX Runtime)',
          }),
          restarts: Type.Object(
            { crashed: Type.Integer(), hung: Type.Integer(), recycled: Type.Integer() },
            { description: 'Workers replaced so far, by why' },
          ),
        },
        { description: 'Its worker threads.' },
      ),
    ),
  },
  { $id: 'Model' },
);

/** A version as GET /models (and the management API) shows it. */
export const modelView = (m: ServedModel, registry: Registry) => {
  const queue = registry.queue(m.key);
  const workers = registry.workers(m.key);
  return {
    name: m.name,
    version: m.version,
    tenant: m.tenant,
    routing: registry.routing(m.name, m.tenant),
    source: m.source,
    state: m.state,
    load: m.load,
    loads: m.loads,
    resident_bytes: m.residentBytes,
    task: m.task,
    tasks: m.tasks,
    revision: m.revision,
    commit: m.commit,
    weights: m.weights,
    conversion: m.conversion && {
      ms: m.conversion.ms,
      cached: m.conversion.cached,
      model_type: m.conversion.modelType,
      checkpoint: m.conversion.checkpoint,
      tokenizer: m.conversion.tokenizer,
    },
    dtype: m.dtype,
    device: m.device,
    instances: m.instances,
    labels: m.info?.labels.length ? m.info.labels : undefined,
    max_input_tokens: m.info?.maxTokens,
    model_type: m.info?.modelType,
    load_ms: m.info?.loadMs,
    warmup_ms: m.info?.warmupMs,
    warnings: m.info?.warnings.length ? m.info.warnings : undefined,
    error: m.error,
    queue: queue && {
      workers: queue.workers,
      queued: queue.queued,
      running: queue.running,
      batches: queue.batches,
      batched_inputs: queue.batchedInputs,
    },
    workers: workers && { heap_bytes: workers.heapBytes, restarts: workers.restarts },
  };
};

export async function modelRoutes(app: FastifyInstance, { registry }: { registry: Registry }): Promise<void> {
  app.addSchema(Model);
  const tags = ['models'];
  app.get(
    '/models',
    {
      schema: {
        summary: 'The served models',
        tags,
        response: {
          200: Type.Object({ models: Type.Array(Type.Unsafe({ $ref: 'Model#' })), memory: Memory }),
        },
      },
    },
    async (request) => {
      const budget = registry.budget;
      return {
        models: registry.list(viewerOf(request)).map((m) => modelView(m, registry)),
        memory: {
          max_loaded_models: budget.maxLoadedModels,
          max_bytes: budget.maxBytes,
          loaded_models: budget.loadedModels,
          loaded_bytes: budget.loadedBytes,
        },
      };
    },
  );
  const one = { summary: 'One served model', tags, response: { 200: { $ref: 'Model#' }, ...errorResponses } };
  // A name shows the version its caller is routed to; name@version that version.
  const describe = async (request: ModelPathRequest) => {
    const ref = modelNameOf(request.params);
    return modelView(registry.get(registry.route(ref, viewerOf(request))), registry);
  };
  app.get('/models/:name', { schema: one }, describe);
  app.get('/models/:org/:name', { schema: one }, describe);
}
