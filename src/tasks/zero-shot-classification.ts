// zero-shot-classification: an NLI model scores "This example is {label}." against the text for each
// candidate label, all labels of all texts in one batch.
import Type from 'typebox';
import { ServeError } from '../errors.ts';
import { asArray, round, softmax, Texts, textParameters } from './common.ts';
import { classifyLogits } from './text-classification.ts';
import { defineTask, type ModelContext } from './types.ts';

/** Each label costs a model pass per input: bounded. */
const MAX_LABELS = 64;

const Result = Type.Object({
  sequence: Type.String(),
  labels: Type.Array(Type.String()),
  scores: Type.Array(Type.Number()),
});

/** Indices of the entailment and contradiction labels of an NLI model. */
function nliLabels(model: ModelContext): { entailment: number; contradiction: number } {
  const find = (prefix: string): number => model.labels.findIndex((l) => l.toLowerCase().startsWith(prefix));
  const entailment = find('entail');
  const contradiction = find('contra');
  if (entailment < 0 || contradiction < 0) {
    throw new ServeError(
      'task_not_supported',
      `zero-shot classification needs an NLI model with entailment and contradiction labels; this one has: ${model.labels.join(', ')}`,
    );
  }
  return { entailment, contradiction };
}

export default defineTask({
  name: 'zero-shot-classification',
  summary: 'Classify texts into labels chosen at request time, with an NLI model.',
  modelClass: 'sequence-classification',
  inputs: Texts,
  parameters: Type.Object(
    {
      candidate_labels: Type.Union([
        Type.Array(Type.String({ minLength: 1, maxLength: 200 }), { minItems: 1, maxItems: MAX_LABELS }),
        Type.String({ minLength: 1, description: 'Comma-separated labels' }),
      ]),
      multi_label: Type.Optional(
        Type.Boolean({ description: 'Score each label on its own (several can be true).' }),
      ),
      hypothesis_template: Type.Optional(
        Type.String({
          pattern: '\\{\\}',
          description: 'Default "This example is {}."; {} is replaced by each label.',
        }),
      ),
      ...textParameters,
    },
    { additionalProperties: false },
  ),
  output: Type.Union([Result, Type.Array(Result)]),
  example: {
    inputs: 'The team won the football match yesterday',
    parameters: { candidate_labels: ['sports', 'politics', 'food'] },
  },
  splittable: true,
  batching: 'unwrapped',
  async run(model, inputs, parameters, stream) {
    const { entailment, contradiction } = nliLabels(model);
    const labels = (
      typeof parameters.candidate_labels === 'string'
        ? parameters.candidate_labels.split(',')
        : parameters.candidate_labels
    )
      .map((l) => l.trim())
      .filter(Boolean);
    if (labels.length === 0 || labels.length > MAX_LABELS) {
      throw new ServeError('invalid_request', `parameters.candidate_labels: give 1 to ${MAX_LABELS} labels`, {
        labels: labels.length,
      });
    }
    const template = parameters.hypothesis_template ?? 'This example is {}.';
    const texts = asArray(inputs);
    const premises = texts.flatMap((text) => labels.map(() => text));
    const hypotheses = texts.flatMap(() => labels.map((l) => template.replace('{}', () => l)));
    const logits = await classifyLogits(model, premises, hypotheses, parameters.truncate, stream?.cancelled);
    const results = texts.map((sequence, t) => {
      const own = logits.slice(t * labels.length, (t + 1) * labels.length);
      const scores = parameters.multi_label
        ? own.map((row) => softmax([row[contradiction] ?? 0, row[entailment] ?? 0])[1] ?? 0)
        : softmax(own.map((row) => row[entailment] ?? 0));
      const order = labels.map((_, i) => i).sort((a, b) => (scores[b] ?? 0) - (scores[a] ?? 0));
      return {
        sequence,
        labels: order.map((i) => labels[i] as string),
        scores: order.map((i) => round(scores[i] ?? 0)),
      };
    });
    return Array.isArray(inputs) ? results : (results[0] as (typeof results)[number]);
  },
});
