// A request to a model, whatever carried it (HTTP, the conversation socket): which of the model's
// tasks it asks for, validation against that task's schema, and the answer (whole, by sentence, or
// streamed token by token).
import { Compile } from 'typebox/compile';
import { ServeError } from '../errors.ts';
import type { ReadyModel, Registry, SubmitOptions } from '../registry/registry.ts';
import { splitSentences } from '../tasks/common.ts';
import type { TaskDefinition } from '../tasks/index.ts';

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

/** Sentences one split request may run: each is an input of its own. */
const MAX_SENTENCES = 256;

export interface InferenceBody {
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

interface SchemaShape {
  type?: string;
  anyOf?: SchemaShape[];
  items?: SchemaShape;
  properties?: Record<string, SchemaShape>;
  required?: string[];
  minItems?: number;
  maxItems?: number;
}

/** What a schema takes, in words: "a text or a list of 1 to 256 texts". */
function inWords(schema: SchemaShape, plural = false): string {
  if (schema.anyOf) {
    const flat = (s: SchemaShape): SchemaShape[] => (s.anyOf ? s.anyOf.flatMap(flat) : [s]);
    const ways = flat(schema).map((s) => inWords(s, plural));
    return ways.length > 2 ? `${ways.slice(0, -1).join(', ')}, or ${ways.at(-1)}` : ways.join(' or ');
  }
  const noun = (one: string, many: string): string => (plural ? many : one);
  switch (schema.type) {
    case 'string':
      return noun('a text', 'texts');
    case 'number':
    case 'integer':
      return noun('a number', 'numbers');
    case 'boolean':
      return noun('true or false', 'booleans');
    case 'array': {
      const range =
        schema.minItems !== undefined && schema.maxItems !== undefined
          ? `${schema.minItems} to ${schema.maxItems} `
          : '';
      return (
        noun(`a list of ${range}`, 'lists of ') + (schema.items ? inWords(schema.items, true) : 'values')
      );
    }
    case 'object': {
      const fields = Object.keys(schema.properties ?? {});
      const required = schema.required ?? [];
      const optional = fields.filter((f) => !required.includes(f));
      return (
        noun('an object with ', 'objects with ') +
        required.map((f) => `"${f}"`).join(' and ') +
        (optional.length ? ` (and optionally ${optional.map((f) => `"${f}"`).join(', ')})` : '')
      );
    }
    default:
      return noun('a value', 'values');
  }
}

const whatItIs = (value: unknown): string =>
  value === null
    ? 'null'
    : Array.isArray(value)
      ? 'a list'
      : typeof value === 'object'
        ? 'an object'
        : `a ${typeof value}`;

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
  // Inputs are said once, in words (a union's every branch failing is five messages otherwise).
  const nested = errors.findIndex((e) => e.instancePath !== '');
  const message =
    part === 'inputs'
      ? `inputs must be ${inWords(task.inputs as SchemaShape)}; got ${whatItIs(value)}` +
        (nested >= 0 && nested < problems.length ? ` (${problems[nested]})` : '')
      : problems.join('; ');
  throw new ServeError('invalid_request', `invalid ${task.name} request: ${message}`, {
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
  options: SubmitOptions,
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
  if (all.length > MAX_SENTENCES) {
    throw new ServeError('invalid_input', `${all.length} sentences; at most ${MAX_SENTENCES} per request`, {
      sentences: all.length,
      max_sentences: MAX_SENTENCES,
    });
  }
  const results = all.length
    ? ((await registry.run(
        name,
        task.name,
        all.map((s) => s.text),
        rest,
        options,
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

export interface Prepared {
  name: string;
  task: TaskDefinition;
  inputs: unknown;
  parameters: Record<string, unknown>;
  stream: boolean;
}

/** The task a route asks of the model, whatever the request's shape (an OpenAI or KServe route). */
function namedTask(model: ReadyModel, name: string): TaskDefinition {
  const task = model.definitions.find((d) => d.name === name);
  if (task) return task;
  throw new ServeError(
    'task_not_supported',
    `model "${model.name}" does ${model.tasks.join(', ')}; this route needs ${name}`,
    { tasks: model.tasks },
  );
}

/**
 * Checks a request against the model it names (loading it first if it is not), for `task` or else the
 * task its shape asks for; throws the contract's errors.
 */
export async function prepare(
  registry: Registry,
  name: string,
  body: InferenceBody,
  taskName?: string,
): Promise<Prepared> {
  const model = await registry.acquire(name);
  const task = taskName === undefined ? requestedTask(model, body) : namedTask(model, taskName);
  const parameters = body.parameters ?? {};
  check(task, 'inputs', body.inputs);
  check(task, 'parameters', parameters);
  checkUnicode(body.inputs, 'inputs');
  checkUnicode(parameters, 'parameters');
  const stream = body.stream === true;
  if (stream && !task.streams) {
    throw new ServeError(
      'invalid_request',
      `"stream": true is for text generation; ${task.name} answers at once`,
    );
  }
  return { name, task, inputs: body.inputs, parameters, stream };
}

/** The answer to a prepared request; `options.onToken` receives a streamed generation's tokens. */
export function answer(registry: Registry, request: Prepared, options: SubmitOptions): Promise<unknown> {
  const { name, task, inputs, parameters } = request;
  // A stream's last event carries the details, asked for or not.
  if (request.stream) return registry.run(name, task.name, inputs, { ...parameters, details: true }, options);
  // Only a stream takes tokens one by one; a request without onToken may share a batch.
  const { onToken: _, ...whole } = options;
  if (parameters.split === 'sentence') return bySentence(registry, name, task, inputs, parameters, whole);
  return registry.run(name, task.name, inputs, parameters, whole);
}
