// POST /models/{name}: the Hugging Face Inference API's request and response shapes for every task.
// The model decides the task; the task's schema validates the request.
import type { FastifyInstance, FastifyReply } from 'fastify';
import Type, { type TSchema } from 'typebox';
import type { Registry } from '../registry/registry.ts';
import { TASK_NAMES, TASKS, type TaskDefinition } from '../tasks/index.ts';
import { errorResponses } from './errors.ts';
import { answer, type InferenceBody, prepare } from './task-request.ts';
import { recordInference } from './observe.ts';
import { servedKey } from './viewer.ts';
import { streamGeneration } from './stream.ts';
import { type ModelPathParams, type ModelPathRequest, modelNameOf } from './model-path.ts';

/** Each task's request and response as OpenAPI components, with a request that works on the demo model. */
function taskSchemas(task: TaskDefinition): { request: TSchema & { $id: string }; response: TSchema } {
  const request = Type.Object(
    {
      inputs: task.inputs,
      parameters: Type.Optional(task.parameters),
      ...(task.streams
        ? {
            stream: Type.Optional(
              Type.Boolean({ description: "Server-Sent Events, one per token (TGI's format)." }),
            ),
          }
        : {}),
    },
    { title: task.name, description: task.summary, examples: [task.example] },
  );
  return {
    request: { ...request, $id: `${task.name}-request` },
    response: { ...task.output, $id: `${task.name}-response`, title: `${task.name} response` },
  };
}

/** Aborted when the client leaves before its answer is sent: its queued or running work is dropped. */
export function clientGone(reply: FastifyReply): AbortSignal {
  const gone = new AbortController();
  reply.raw.once('close', () => {
    if (!reply.raw.writableFinished) gone.abort();
  });
  return gone.signal;
}

export interface InferenceRoutesOptions {
  registry: Registry;
}

export async function inferenceRoutes(
  app: FastifyInstance,
  { registry }: InferenceRoutesOptions,
): Promise<void> {
  // The body is an object with inputs (the validator below); its task's schema checks the rest.
  const handler = async (
    request: ModelPathRequest<ModelPathParams, InferenceBody>,
    reply: FastifyReply,
  ): Promise<unknown> => {
    const key = servedKey(request, registry, modelNameOf(request.params));
    const record = recordInference(request, registry, key);
    const prepared = await prepare(registry, key, request.body);
    record.task = prepared.task.name;
    void reply.header('X-Hubserve-Task', prepared.task.name);
    void reply.header('X-Hubserve-Version', registry.get(key).version);
    const options = { signal: clientGone(reply), onReport: record.onReport };
    if (prepared.stream) {
      return streamGeneration(reply, (onToken) => answer(registry, prepared, { ...options, onToken }));
    }
    return answer(registry, prepared, options);
  };
  const tasks = TASK_NAMES.map((name) => taskSchemas(TASKS[name]));
  for (const { request, response } of tasks) {
    app.addSchema(request);
    app.addSchema(response);
  }
  const schema = {
    summary: 'Run a model (Hugging Face Inference API shapes)',
    description:
      "The request's shape depends on the model's task (GET /models/{name} says which); each task's " +
      'request is a schema below, with an example that works on the demo models.',
    tags: ['inference'],
    body: { oneOf: tasks.map(({ request }) => ({ $ref: `${request.$id}#` })) },
    response: errorResponses,
  };
  // The body's shape depends on the model, so it is checked against the task's schema in the handler;
  // here only that it is an object with inputs. Path parameters are plain strings.
  const validatorCompiler = ({ httpPart }: { httpPart?: string }) =>
    httpPart === 'body'
      ? (data: unknown) =>
          data && typeof data === 'object' && !Array.isArray(data) && 'inputs' in data
            ? { value: data }
            : { error: new Error('the body must be a JSON object with "inputs"') }
      : (data: unknown) => ({ value: data });
  app.post(
    '/models/:name',
    { schema: { ...schema, params: Type.Object({ name: Type.String() }) }, validatorCompiler },
    handler,
  );
  app.post(
    '/models/:org/:name',
    {
      schema: { ...schema, params: Type.Object({ org: Type.String(), name: Type.String() }) },
      validatorCompiler,
    },
    handler,
  );
}
