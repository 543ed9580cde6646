// Tensors <-> Hugging Face requests and answers, per task: which BYTES input tensors a task takes and
// the `inputs` they become, and which output tensors its answers give.
import { ServeError } from '../../errors.ts';
import { TASK_NAMES, type TaskName } from '../../tasks/index.ts';
import type { InferenceRequest, TensorMetadata } from './schemas.ts';

/** Input tensors by name, each as its row-major strings. */
export type InputTensors = Map<string, string[]>;

export interface OutputTensor {
  name: string;
  datatype: 'BYTES' | 'FP32';
  shape: number[];
  data: (string | number)[];
}

/**
 * What the input tensors become: one request whose `inputs` array answers one result per element
 * (`batch`), or one request per element (`each`) for tasks whose `inputs` is a single object.
 */
export type Requests = { batch: unknown[] } | { each: unknown[] };

interface InputLayout {
  required: readonly string[];
  optional: readonly string[];
  requests(tensors: InputTensors): Requests;
}

interface OutputSpec extends TensorMetadata {
  /** The tensor from every input's answer; undefined when these answers do not have it. */
  from(answers: unknown[]): OutputTensor | undefined;
}

export interface TaskTensors {
  inputs: InputLayout;
  outputs: OutputSpec[];
}

/** Inputs a per-element request may hold: as many as a task's own input arrays take. */
const MAX_ELEMENTS = 256;

const invalid = (message: string): ServeError => new ServeError('invalid_request', message);

/** Checks each input tensor (BYTES, shape matching its data) and flattens its data. */
export function readInputs(inputs: InferenceRequest['inputs']): InputTensors {
  const tensors: InputTensors = new Map();
  for (const { name, shape, datatype, data } of inputs) {
    if (tensors.has(name)) throw invalid(`input tensor "${name}" is given twice`);
    if (datatype !== 'BYTES') {
      throw invalid(`input tensor "${name}" is ${datatype}; hubserve takes text as BYTES tensors`);
    }
    // Nested data is never deeper than the shape's rank: flatten that far and no further.
    const elements = data.flat(Math.max(shape.length - 1, 0)) as unknown[];
    const expected = shape.reduce((product, size) => product * size, 1);
    if (elements.length !== expected) {
      throw invalid(
        `input tensor "${name}" has shape [${shape.join(', ')}] (${expected} elements) but ${elements.length} data elements`,
      );
    }
    if (!elements.every((e): e is string => typeof e === 'string')) {
      throw invalid(`input tensor "${name}": BYTES elements must be JSON strings`);
    }
    if (elements.length === 0) throw invalid(`input tensor "${name}" has no elements`);
    tensors.set(name, elements);
  }
  return tensors;
}

/** A tensor the layout requires (present once `fits` passed). */
function tensor(tensors: InputTensors, name: string): string[] {
  const values = tensors.get(name);
  if (!values) throw invalid(`missing input tensor "${name}"`);
  return values;
}

function sameCount(tensors: InputTensors, a: string, b: string): [string[], string[]] {
  const first = tensor(tensors, a);
  const second = tensor(tensors, b);
  if (first.length !== second.length) {
    throw invalid(
      `input tensors "${a}" and "${b}" must have as many elements (${first.length} and ${second.length})`,
    );
  }
  return [first, second];
}

function each(inputs: unknown[]): Requests {
  if (inputs.length > MAX_ELEMENTS) {
    throw invalid(`${inputs.length} inputs; at most ${MAX_ELEMENTS} per request`);
  }
  return { each: inputs };
}

const texts: InputLayout = {
  required: ['text'],
  optional: [],
  requests: (tensors) => ({ batch: tensor(tensors, 'text') }),
};

const textPairs: InputLayout = {
  required: ['text'],
  optional: ['text_pair'],
  requests(tensors) {
    if (!tensors.has('text_pair')) return { batch: tensor(tensors, 'text') };
    const [text, pairs] = sameCount(tensors, 'text', 'text_pair');
    return { batch: text.map((t, i) => ({ text: t, text_pair: pairs[i] })) };
  },
};

/** One request per text: a custom handler's `inputs` may not be an array. */
const eachText: InputLayout = {
  required: ['text'],
  optional: [],
  requests: (tensors) => each(tensor(tensors, 'text')),
};

const questions: InputLayout = {
  required: ['question', 'context'],
  optional: [],
  requests(tensors) {
    const [question, context] = sameCount(tensors, 'question', 'context');
    return each(question.map((q, i) => ({ question: q, context: context[i] })));
  },
};

/** Each of the first tensor's elements against all of the second's (a source and its sentences). */
const against = (one: string, all: string): InputLayout => ({
  required: [one, all],
  optional: [],
  requests: (tensors) => each(tensor(tensors, one).map((o) => ({ [one]: o, [all]: tensor(tensors, all) }))),
});

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);
const field = (value: unknown, key: string): unknown => (isRecord(value) ? value[key] : undefined);
/** The best of a list of results (the HF answers sort them), or the one result. */
const best = (value: unknown): unknown => (Array.isArray(value) ? value[0] : value);

/** Every answer's value, or undefined if one answer lacks it (e.g. split by sentence). */
function every<T>(answers: unknown[], read: (answer: unknown) => unknown, is: (v: unknown) => v is T) {
  const values = answers.map(read);
  return values.every(is) ? values : undefined;
}

const isString = (v: unknown): v is string => typeof v === 'string';
const isNumber = (v: unknown): v is number => typeof v === 'number';
const isVector = (v: unknown): v is number[] => Array.isArray(v) && v.every(isNumber);

/** One element per input. */
const perInput = (
  name: string,
  datatype: 'BYTES' | 'FP32',
  read: (answer: unknown) => unknown,
): OutputSpec => ({
  name,
  datatype,
  shape: [-1],
  from(answers) {
    const data = every<string | number>(answers, read, datatype === 'BYTES' ? isString : isNumber);
    return data && { name, datatype, shape: [data.length], data };
  },
});

/** One vector per input, all of one length: [n, dims]. */
const vectors = (name: string): OutputSpec => ({
  name,
  datatype: 'FP32',
  shape: [-1, -1],
  from(answers) {
    const rows = every(answers, (a) => a, isVector);
    const width = rows?.[0]?.length ?? 0;
    if (!rows || rows.some((row) => row.length !== width)) return undefined;
    return { name, datatype: 'FP32', shape: [rows.length, width], data: rows.flat() };
  },
});

/** Every task answers `output`: each input's answer as JSON, in the HF API's shape. */
const json: OutputSpec = perInput('output', 'BYTES', (answer) => JSON.stringify(answer));

const topLabel = [
  perInput('label', 'BYTES', (a) => field(best(a), 'label')),
  perInput('score', 'FP32', (a) => field(best(a), 'score')),
];
const generated = (key: string): OutputSpec[] => [
  json,
  perInput('generated_text', 'BYTES', (a) => field(best(a), key)),
];

const TASK_TENSORS: Record<TaskName, TaskTensors> = {
  'text-classification': { inputs: textPairs, outputs: [json, ...topLabel] },
  'zero-shot-classification': {
    inputs: texts,
    outputs: [
      json,
      perInput('label', 'BYTES', (a) => best(field(a, 'labels'))),
      perInput('score', 'FP32', (a) => best(field(a, 'scores'))),
    ],
  },
  'token-classification': { inputs: texts, outputs: [json] },
  'question-answering': {
    inputs: questions,
    outputs: [json, perInput('answer', 'BYTES', (a) => field(best(a), 'answer'))],
  },
  'fill-mask': { inputs: texts, outputs: [json] },
  'feature-extraction': { inputs: texts, outputs: [json, vectors('embedding')] },
  'sentence-similarity': {
    inputs: against('source_sentence', 'sentences'),
    outputs: [json, vectors('similarity')],
  },
  'text-ranking': { inputs: against('query', 'texts'), outputs: [json] },
  summarization: { inputs: texts, outputs: generated('summary_text') },
  translation: { inputs: texts, outputs: generated('translation_text') },
  'text2text-generation': { inputs: texts, outputs: generated('generated_text') },
  'text-generation': { inputs: texts, outputs: generated('generated_text') },
};

const CUSTOM: TaskTensors = { inputs: eachText, outputs: [json] };

const isTaskName = (name: string): name is TaskName => (TASK_NAMES as readonly string[]).includes(name);

/** A task's tensors; a custom handler's task takes one text per request and answers JSON. */
export function tensorsOf(task: string, handler: boolean): TaskTensors {
  return !handler && isTaskName(task) ? TASK_TENSORS[task] : CUSTOM;
}

/** Tensor metadata of a task, for GET /v2/models/{name}. */
export function metadataOf(tensors: TaskTensors): { inputs: TensorMetadata[]; outputs: TensorMetadata[] } {
  const { required, optional } = tensors.inputs;
  return {
    inputs: [...required, ...optional].map((name) => ({ name, datatype: 'BYTES', shape: [-1] })),
    outputs: tensors.outputs.map(({ name, datatype, shape }) => ({ name, datatype, shape })),
  };
}

/**
 * The first of the model's tasks (the deployed one first) that takes exactly these input tensors;
 * else 400 naming what the deployed task takes.
 */
export function layoutFor(tasks: TaskTensors[], given: InputTensors): InputLayout {
  const names = [...given.keys()];
  const fits = ({ required, optional }: InputLayout): boolean =>
    required.every((n) => given.has(n)) && names.every((n) => required.includes(n) || optional.includes(n));
  const layout = tasks.map((t) => t.inputs).find(fits);
  if (layout) return layout;
  const [deployed] = tasks as [TaskTensors];
  const { required, optional } = deployed.inputs;
  const missing = required.filter((n) => !given.has(n));
  const unknown = names.filter((n) => !required.includes(n) && !optional.includes(n));
  const problems = [
    ...(missing.length ? [`missing input tensor(s) ${missing.join(', ')}`] : []),
    ...(unknown.length ? [`unknown input tensor(s) ${unknown.join(', ')}`] : []),
  ];
  const takes = [...required, ...optional.map((n) => `${n} (optional)`)].join(', ');
  throw invalid(`${problems.join('; ')}: this model takes ${takes}`);
}

/** The output tensors asked for (all the answers give, by default), in the order asked. */
export function outputTensors(
  tensors: TaskTensors,
  answers: unknown[],
  asked: InferenceRequest['outputs'],
): OutputTensor[] {
  if (!asked) {
    return tensors.outputs.flatMap((spec) => spec.from(answers) ?? []);
  }
  return asked.map(({ name }) => {
    const spec = tensors.outputs.find((s) => s.name === name);
    if (!spec) {
      const known = tensors.outputs.map((s) => s.name).join(', ');
      throw invalid(`unknown output tensor "${name}": this model gives ${known}`);
    }
    const tensor = spec.from(answers);
    if (!tensor)
      throw invalid(`output tensor "${name}" is not available for these answers; "output" has them as JSON`);
    return tensor;
  });
}
