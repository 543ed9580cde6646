// token-classification (NER): entities with character offsets into the input, grouped by the HF
// aggregation strategies.
import type { Tensor } from '@huggingface/transformers';
import Type, { type Static } from 'typebox';
import { asArray, encode, rows, round, softmax, Texts, textParameters } from './common.ts';
import { tokenSpans, type TokenSpan } from './offsets.ts';
import { defineTask, type ModelContext } from './types.ts';

const Strategy = Type.Enum(['none', 'simple', 'first', 'average', 'max'], {
  description: 'How tokens become entities (default simple: grouped, like the HF Inference API).',
});
type Strategy = Static<typeof Strategy>;

export const Entity = Type.Object({
  entity_group: Type.String(),
  score: Type.Number(),
  word: Type.String(),
  start: Type.Integer(),
  end: Type.Integer(),
});

interface Scored {
  spans: TokenSpan[];
  scores: number[];
}

/** A word's label scores from its tokens' (HF's first / max / average strategies). */
function wordScores(group: Scored[], strategy: Strategy): number[] {
  const first = group[0]?.scores ?? [];
  if (strategy === 'first') return first;
  if (strategy === 'max') {
    return group.reduce((a, b) => (Math.max(...b.scores) > Math.max(...a.scores) ? b : a)).scores;
  }
  return first.map((_, l) => group.reduce((sum, t) => sum + (t.scores[l] ?? 0), 0) / group.length);
}

/** Collapses sub-word tokens into words (simple and none keep tokens as they are). */
function words(tokens: Scored[], strategy: Strategy): Scored[] {
  if (strategy === 'none' || strategy === 'simple') return tokens;
  const groups: Scored[][] = [];
  for (const token of tokens) {
    const last = groups.at(-1);
    if (last && token.spans[0]?.continuesWord) last.push(token);
    else groups.push([token]);
  }
  return groups.map((group) => ({
    spans: group.flatMap((t) => t.spans),
    scores: wordScores(group, strategy),
  }));
}

const typeOf = (label: string): string => label.replace(/^[BIES]-/, '');

function entities(
  model: ModelContext,
  text: string,
  tokens: Scored[],
  strategy: Strategy,
  ignore: Set<string>,
) {
  const labelled = words(tokens, strategy).map((w) => {
    const best = w.scores.indexOf(Math.max(...w.scores));
    return { ...w, label: model.labels[best] ?? `LABEL_${best}`, score: w.scores[best] ?? 0 };
  });
  const groups: { label: string; scores: number[]; start: number; end: number }[] = [];
  for (const w of labelled) {
    if (ignore.has(w.label)) continue;
    const start = w.spans[0]?.start ?? 0;
    const end = w.spans.at(-1)?.end ?? start;
    const last = groups.at(-1);
    const continues =
      strategy !== 'none' &&
      last &&
      typeOf(last.label) === typeOf(w.label) &&
      !w.label.startsWith('B-') &&
      !w.label.startsWith('S-');
    if (continues && last) {
      last.scores.push(w.score);
      last.end = end;
    } else groups.push({ label: w.label, scores: [w.score], start, end });
  }
  return groups.map((g) => ({
    entity_group: strategy === 'none' ? g.label : typeOf(g.label),
    score: round(g.scores.reduce((a, b) => a + b, 0) / g.scores.length),
    word: text.slice(g.start, g.end),
    start: g.start,
    end: g.end,
  }));
}

export default defineTask({
  name: 'token-classification',
  summary: 'Find entities (names, places, ...) with their character offsets.',
  modelClass: 'token-classification',
  inputs: Texts,
  parameters: Type.Object(
    {
      aggregation_strategy: Type.Optional(Strategy),
      ignore_labels: Type.Optional(Type.Array(Type.String())),
      ...textParameters,
    },
    { additionalProperties: false },
  ),
  output: Type.Union([Type.Array(Entity), Type.Array(Type.Array(Entity))]),
  example: { inputs: 'Alice Smith moved to Paris to work for Google' },
  splittable: true,
  batching: 'unwrapped',
  offsets: true,
  async run(model, inputs, parameters) {
    const strategy = parameters.aggregation_strategy ?? 'simple';
    const ignore = new Set(parameters.ignore_labels ?? ['O']);
    const texts = asArray(inputs);
    const results = [];
    for (const text of texts) {
      const encoded = encode(model, text, { truncate: parameters.truncate });
      const { logits } = (await model.model(encoded)) as { logits: Tensor };
      const perToken = rows<number[][]>(logits)[0] ?? [];
      const ids = (encoded.input_ids as Tensor).tolist()[0] as bigint[];
      const spans = tokenSpans(model.tokenizer, text, ids.map(Number));
      const tokens = spans.map((span) => ({ spans: [span], scores: softmax(perToken[span.index] ?? []) }));
      results.push(entities(model, text, tokens, strategy, ignore));
    }
    return Array.isArray(inputs) ? results : (results[0] ?? []);
  },
});
