// KServe's Open Inference Protocol v2 (REST) under /v2, so hubserve runs as a KServe custom predictor:
// health, server and model metadata, readiness, and infer with text in BYTES tensors. Inference goes
// the same way as POST /models/{name} (task schemas, dynamic batching). Errors here are the
// protocol's {"error": "<message>"}, with the statuses of the server's one table.
import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import Type from 'typebox';
import { Compile } from 'typebox/compile';
import { isServeError, ServeError } from '../errors.ts';
import type { ReadyModel, Registry, SubmitOptions, ServedModel } from '../registry/registry.ts';
import { handleErrors, kserveFormat, RETRY_AFTER_S } from './errors.ts';
import { answer, prepare } from './task-request.ts';
import { clientGone } from './inference.ts';
import { recordInference } from './observe.ts';
import { servedKey } from './viewer.ts';
import {
  InferenceRequest,
  InferenceResponse,
  ModelMetadata,
  ModelReady,
  ServerMetadata,
  V2Error,
  v2Errors,
} from './kserve/schemas.ts';
import {
  layoutFor,
  metadataOf,
  outputTensors,
  readInputs,
  type Requests,
  type TaskTensors,
  tensorsOf,
} from './kserve/tensors.ts';
import { type ModelPathParams, type ModelPathRequest, modelNameOf } from './model-path.ts';

export interface KserveRoutesOptions {
  registry: Registry;
  /** hubserve's version, for the server metadata. */
  version: string;
}

/** Parameters KServe and Triton clients send for the transport, not for the task. */
const RESERVED_PARAMETERS = new Set(['content_type', 'headers', 'binary_data_output']);

/**
 * Version labels a model answers to: its versions (name@version), and the Hub revision and commit the
 * routed one came from.
 */
function versionsOf(registry: Registry, model: ServedModel): string[] {
  const versions = registry.routing(model.name, model.tenant).versions;
  return [
    ...new Set([...versions, model.revision, model.commit].filter((v): v is string => v !== undefined)),
  ];
}

/** The key of the version a URL names (a version, or the routed one's revision or commit). */
function servedVersion(
  request: FastifyRequest,
  registry: Registry,
  name: string,
  version: string | undefined,
): string {
  if (version === undefined) return servedKey(request, registry, name);
  try {
    return servedKey(request, registry, `${name}@${version}`);
  } catch (error) {
    if (!isServeError(error) || error.code !== 'model_not_found') throw error;
    const key = servedKey(request, registry, name);
    const model = registry.get(key);
    if (version === model.revision || version === model.commit) return key;
    throw new ServeError(
      'model_not_found',
      `model "${name}" has no version "${version}"; it has ${versionsOf(registry, model).join(', ')}`,
    );
  }
}

/** A model URL, with or without `/versions/{version}`. */
interface ModelParams extends ModelPathParams {
  version?: string;
}
type ModelRequest<Body = unknown> = ModelPathRequest<ModelParams, Body>;

const modelOf = (params: ModelParams): { name: string; version: string | undefined } => ({
  name: modelNameOf(params),
  version: params.version,
});

/** Every task of a model with its tensors, the deployed task first. */
const tasksOf = (model: ReadyModel): TaskTensors[] =>
  model.definitions.map((d) => tensorsOf(d.name, model.handler !== undefined));

/** The answer for each input, and the task that gave them. */
async function run(
  registry: Registry,
  name: string,
  requests: Requests,
  parameters: Record<string, unknown>,
  options: SubmitOptions,
): Promise<{ task: string; answers: unknown[] }> {
  if ('batch' in requests) {
    const prepared = await prepare(registry, name, { inputs: requests.batch, parameters });
    const answers = await answer(registry, prepared, options);
    if (!Array.isArray(answers)) throw new Error(`${prepared.task.name} answered a batch with no array`);
    return { task: prepared.task.name, answers };
  }
  // Every request is checked before any runs, and the whole against the limits.
  registry.withinLimits(requests.each, parameters);
  const prepared = await Promise.all(
    requests.each.map((inputs) => prepare(registry, name, { inputs, parameters })),
  );
  const answers = await Promise.all(prepared.map((p) => answer(registry, p, options)));
  return { task: prepared[0]?.task.name ?? '', answers };
}

const checkRequest = Compile(InferenceRequest);

/** The infer body against the protocol's schema, strictly (no type coercion). */
function validateRequest(body: unknown): { value: unknown } | { error: Error } {
  if (checkRequest.Check(body)) return { value: body };
  const problems = [...checkRequest.Errors(body)]
    .slice(0, 5)
    .map((e) => `${e.instancePath || '(body)'} ${e.message}`);
  return { error: new ServeError('invalid_request', `invalid inference request: ${problems.join('; ')}`) };
}

async function v2Routes(app: FastifyInstance, { registry, version }: KserveRoutesOptions): Promise<void> {
  // The server's statuses and Fastify's own errors (413, 415, invalid JSON), in the protocol's words.
  handleErrors(app, kserveFormat);
  // The schemas document the bodies; outputs of numbers and strings serialize faster as plain JSON.
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));
  for (const schema of [
    InferenceRequest,
    InferenceResponse,
    ModelMetadata,
    ModelReady,
    ServerMetadata,
    V2Error,
  ]) {
    app.addSchema(schema);
  }
  const tags = ['kserve'];

  // '' is /v2 itself (the protocol's path); '/' would be documented as /v2/.
  app.get(
    '',
    { schema: { summary: 'Server metadata', tags, response: { 200: { $ref: 'V2ServerMetadata#' } } } },
    async () => ({ name: 'hubserve', version, extensions: [] }),
  );
  const probe = { scope: 'public' as const }; // probes carry no key
  app.get(
    '/health/live',
    {
      config: probe,
      schema: { summary: 'Liveness', tags, response: { 200: Type.Object({ live: Type.Boolean() }) } },
    },
    async () => ({ live: true }),
  );
  const Ready = Type.Object({ ready: Type.Boolean() });
  app.get(
    '/health/ready',
    {
      config: probe,
      schema: { summary: 'Readiness: every model ready', tags, response: { 200: Ready, 503: Ready } },
    },
    async (_request, reply) => {
      if (registry.allReady) return { ready: true };
      void reply.header('Retry-After', String(RETRY_AFTER_S));
      return reply.status(503).send({ ready: false });
    },
  );

  const metadata = async (request: ModelRequest) => {
    const { name, version: asked } = modelOf(request.params);
    const model = registry.get(servedVersion(request, registry, name, asked));
    if (!model.task) {
      throw new ServeError('model_not_ready', `model "${name}" is ${model.state}; its task is not known yet`);
    }
    return {
      name,
      versions: versionsOf(registry, model),
      platform: `hubserve/${model.task}`,
      ...metadataOf(tensorsOf(model.task, model.handler !== undefined)),
    };
  };
  const ready = async (request: ModelRequest, reply: FastifyReply) => {
    const { name, version: asked } = modelOf(request.params);
    const model = registry.get(servedVersion(request, registry, name, asked));
    if (model.state === 'ready') return { name, ready: true };
    void reply.header('Retry-After', String(RETRY_AFTER_S));
    return reply.status(503).send({ name, ready: false });
  };
  const infer = async (request: ModelRequest<InferenceRequest>, reply: FastifyReply) => {
    const { name, version: asked } = modelOf(request.params);
    const { body } = request;
    const served = servedVersion(request, registry, name, asked);
    const record = recordInference(request, registry, served);
    const model = await registry.acquire(served);
    const inputs = readInputs(body.inputs);
    const requests = layoutFor(tasksOf(model), inputs).requests(inputs);
    const parameters = Object.fromEntries(
      Object.entries(body.parameters ?? {}).filter(([key]) => !RESERVED_PARAMETERS.has(key)),
    );
    // One failed request of several: the others' queued work is not wanted.
    const failed = new AbortController();
    const signal = AbortSignal.any([clientGone(reply), failed.signal]);
    const options = { signal, onReport: record.onReport };
    const { task, answers } = await run(registry, served, requests, parameters, options).catch(
      (error: unknown) => {
        failed.abort();
        throw error;
      },
    );
    record.task = task;
    void reply.header('X-Hubserve-Task', task);
    return {
      model_name: name,
      ...(asked === undefined ? {} : { model_version: asked }),
      id: body.id ?? randomUUID(),
      outputs: outputTensors(tensorsOf(task, model.handler !== undefined), answers, body.outputs),
    };
  };

  // A model name may be a Hub id with its slash; a version is optional in every model URL.
  for (const named of [':name', ':org/:name']) {
    for (const versioned of ['', '/versions/:version']) {
      const path = `/models/${named}${versioned}`;
      const params = Type.Object({
        ...(named.startsWith(':org') ? { org: Type.String() } : {}),
        name: Type.String(),
        ...(versioned ? { version: Type.String() } : {}),
      });
      app.get(
        path,
        {
          schema: {
            summary: 'Model metadata: its input and output tensors',
            tags,
            params,
            response: { 200: { $ref: 'V2ModelMetadata#' }, ...v2Errors },
          },
        },
        metadata,
      );
      app.get(
        `${path}/ready`,
        {
          schema: {
            summary: 'Model readiness',
            tags,
            params,
            response: { 200: { $ref: 'V2ModelReady#' }, ...v2Errors },
          },
        },
        ready,
      );
      app.post(
        `${path}/infer`,
        {
          schema: {
            summary: 'Inference with text in BYTES tensors',
            description:
              "Input tensors depend on the model's task (GET its metadata); request parameters are the " +
              "task's parameters (top_k, candidate_labels, max_new_tokens, ...).",
            tags,
            params,
            body: { $ref: 'V2InferenceRequest#' },
            response: { 200: { $ref: 'V2InferenceResponse#' }, ...v2Errors },
          },
          // Path parameters are plain strings; the body is checked against the protocol's schema.
          validatorCompiler: ({ httpPart }) =>
            httpPart === 'body' ? validateRequest : (data: unknown) => ({ value: data }),
        },
        infer,
      );
    }
  }
}

export async function kserveRoutes(app: FastifyInstance, options: KserveRoutesOptions): Promise<void> {
  // Under a prefix of their own, the /v2 routes can have their own error and not-found handlers.
  await app.register(v2Routes, { ...options, prefix: '/v2' });
}
