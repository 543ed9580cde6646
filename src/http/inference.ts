// POST /models/{name}: the Hugging Face Inference API's request and response shapes for every task.
// The model decides the task; the task's schema validates the request.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import Type, { type TSchema } from 'typebox';
import { Compile } from 'typebox/compile';
import { ServeError } from '../errors.ts';
import type { ReadyModel, Registry } from '../registry/registry.ts';
import { splitSentences } from '../tasks/common.ts';
import { TASK_NAMES, TASKS, type TaskDefinition } from '../tasks/index.ts';
import { errorResponses } from './errors.ts';
import { streamGeneration } from './stream.ts';

interface Validators {
  inputs: ReturnType<typeof Compile>;
  parameters: ReturnType<typeof Compile>;
}

/** Compiled once per task (built-in or handler). */
const compiled = new WeakMap<TaskDefinition, Validators>();
const validatorsOf = (task: TaskDefinition): Validators => {
  let v = compiled.get(task);
  if (!v) compiled.set(task, (v = { inputs: Compile(task.inputs), parameters: Compile(task.parameters) }));
  return v;
};

interface InferenceBody {
  inputs: unknown;
  parameters?: Record<string, unknown>;
  /** Text generation as Server-Sent Events (TGI's format). */
  stream?: boolean;
}

/** Which of the model's tasks a request asks for, from its shape (as the HF Inference API does). */
function requestedTask(model: ReadyModel, body: InferenceBody): TaskDefinition {
  const inputs = body.inputs as Record<string, unknown> | undefined;
  const [deployed] = model.definitions as [TaskDefinition];
  const find = (name: string): TaskDefinition | undefined => model.definitions.find((d) => d.name === name);
  const labelled = body.parameters?.candidate_labels !== undefined;
  if (labelled) return find('zero-shot-classification') ?? deployed;
  if (inputs && typeof inputs === 'object' && !Array.isArray(inputs)) {
    if ('source_sentence' in inputs) return find('sentence-similarity') ?? deployed;
    if ('query' in inputs) return find('text-ranking') ?? deployed;
  }
  // An NLI model asked without labels classifies the pair.
  return deployed.name === 'zero-shot-classification' ? (find('text-classification') ?? deployed) : deployed;
}

function check(task: TaskDefinition, part: 'inputs' | 'parameters', value: unknown): void {
  const validator = validatorsOf(task)[part];
  if (validator.Check(value)) return;
  // An unknown parameter shows up twice (as "schema is false" on it, and as an additional property).
  const errors = [...validator.Errors(value)].filter((e) => e.message !== 'schema is false');
  const problems = errors.slice(0, 5).map((e) => {
    const extra = (e.params as { additionalProperties?: string[] }).additionalProperties;
    const where = `${part}${e.instancePath.replaceAll('/', '.')}`;
    return extra ? `${where}: unknown parameter(s) ${extra.join(', ')}` : `${where}: ${e.message}`;
  });
  throw new ServeError('invalid_request', `invalid ${task.name} request: ${problems.join('; ')}`, {
    task: task.name,
    problems,
  });
}

/** Refuses text that is not well-formed Unicode (a lone surrogate), which tokenizers mangle. */
function checkUnicode(value: unknown, path: string): void {
  if (typeof value === 'string') {
    if (!(value as string & { isWellFormed(): boolean }).isWellFormed()) {
      throw new ServeError(
        'invalid_input',
        `${path} contains a lone UTF-16 surrogate; send well-formed Unicode`,
        {
          path,
        },
      );
    }
  } else if (Array.isArray(value)) value.forEach((v, i) => checkUnicode(v, `${path}[${i}]`));
  else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) checkUnicode(v, `${path}.${k}`);
  }
}

/** Offsets of results inside a sentence, moved to offsets inside the whole input. */
function shift(result: unknown, by: number): unknown {
  if (Array.isArray(result)) return result.map((r) => shift(r, by));
  if (result && typeof result === 'object') {
    const r = result as Record<string, unknown>;
    return typeof r.start === 'number' && typeof r.end === 'number'
      ? { ...r, start: r.start + by, end: r.end + by }
      : r;
  }
  return result;
}

/** Runs the task on each sentence of each input: [{text, start, end, result}] per input. */
async function bySentence(
  registry: Registry,
  name: string,
  task: TaskDefinition,
  inputs: unknown,
  parameters: Record<string, unknown>,
  signal: AbortSignal,
): Promise<unknown> {
  if (!task.splittable)
    throw new ServeError('invalid_request', `${task.name} does not take split: "sentence"`);
  const texts = Array.isArray(inputs) ? inputs : [inputs];
  if (!texts.every((t): t is string => typeof t === 'string')) {
    throw new ServeError('invalid_request', 'split: "sentence" needs text inputs');
  }
  const { split, language, ...rest } = parameters;
  const perInput = texts.map((text) =>
    splitSentences(text, typeof language === 'string' ? language : undefined),
  );
  const all = perInput.flat();
  const results = all.length
    ? ((await registry.run(
        name,
        task.name,
        all.map((s) => s.text),
        rest,
        { signal },
      )) as unknown[])
    : [];
  let next = 0;
  const answer = perInput.map((list) =>
    list.map((s) => {
      const result = results[next++];
      return { ...s, result: task.offsets ? shift(result, s.start) : result };
    }),
  );
  return Array.isArray(inputs) ? answer : answer[0];
}

/** Each task's request and response as OpenAPI components, with a request that works on the demo model. */
function taskSchemas(task: TaskDefinition): { request: TSchema & { $id: string }; response: TSchema } {
  const request = Type.Object(
    { inputs: task.inputs, parameters: Type.Optional(task.parameters) },
    { title: task.name, description: task.summary, examples: [task.example] },
  );
  return {
    request: { ...request, $id: `${task.name}-request` },
    response: { ...task.output, $id: `${task.name}-response`, title: `${task.name} response` },
  };
}

export interface InferenceRoutesOptions {
  registry: Registry;
}

export async function inferenceRoutes(
  app: FastifyInstance,
  { registry }: InferenceRoutesOptions,
): Promise<void> {
  const handler = async (request: FastifyRequest, reply: FastifyReply): Promise<unknown> => {
    const params = request.params as { org?: string; name: string };
    const name = params.org ? `${params.org}/${params.name}` : params.name;
    const body = request.body as InferenceBody;
    const model = registry.ready(name);
    const task = requestedTask(model, body);
    const parameters = body.parameters ?? {};
    check(task, 'inputs', body.inputs);
    check(task, 'parameters', parameters);
    checkUnicode(body.inputs, 'inputs');
    checkUnicode(parameters, 'parameters');
    void reply.header('X-Hubserve-Task', task.name);
    // A client that leaves before its answer takes its queued work with it.
    const gone = new AbortController();
    reply.raw.once('close', () => {
      if (!reply.raw.writableFinished) gone.abort();
    });
    if (body.stream === true) {
      if (task.name !== 'text-generation') {
        throw new ServeError(
          'invalid_request',
          `"stream": true is for text-generation; ${task.name} answers at once`,
        );
      }
      const streamed = { ...parameters, details: true };
      return streamGeneration(reply, (onToken) =>
        registry.run(name, task.name, body.inputs, streamed, { signal: gone.signal, onToken }),
      );
    }
    if (parameters.split === 'sentence') {
      return bySentence(registry, name, task, body.inputs, parameters, gone.signal);
    }
    return registry.run(name, task.name, body.inputs, parameters, { signal: gone.signal });
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
