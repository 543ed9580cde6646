// Aspect-based sentiment: for each sentence of a text and each aspect, ask a sentence-pair classifier
// "what do you think of the <aspect>?" and keep the aspects the sentence talks about.
//   {"inputs": "The food was great but the service was slow."}
//   -> [{"text": "...", "start": 0, "end": 46, "aspects": {"food": {"sentiment": "positive", ...}, "service": ...}}]
import Type, { type Static } from 'typebox';
import {
  classifyLogits,
  defineHandler,
  type Sentence,
  softmax,
  splitSentences,
  Texts,
} from '../../src/handler.ts';

interface Item extends Sentence {
  input: number;
  aspect: string;
}

const AspectSentiment = Type.Object({ sentiment: Type.String(), score: Type.Number() });
const Result = Type.Array(
  Type.Object({
    text: Type.String(),
    start: Type.Integer(),
    end: Type.Integer(),
    aspects: Type.Record(Type.String(), AspectSentiment),
  }),
);

export default defineHandler({
  name: 'aspect-sentiment',
  summary: 'Sentiment per aspect (food, service, price, ...), sentence by sentence.',
  modelClass: 'sequence-classification',
  inputs: Texts,
  parameters: Type.Object(
    {
      aspects: Type.Optional(
        Type.Array(Type.String({ minLength: 1, maxLength: 50 }), {
          minItems: 1,
          maxItems: 16,
          uniqueItems: true,
        }),
      ),
      question_template: Type.Optional(Type.String({ pattern: '\\{\\}', maxLength: 200 })),
      language: Type.Optional(Type.String({ pattern: '^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$' })),
    },
    { additionalProperties: false },
  ),
  output: Type.Union([Result, Type.Array(Result)]),
  example: { inputs: 'The food was great but the service was slow.' },

  preprocess(inputs, parameters): Item[] {
    const aspects = parameters.aspects ?? ['food', 'service', 'price'];
    const texts = Array.isArray(inputs) ? inputs : [inputs];
    return texts.flatMap((text, input) =>
      splitSentences(text, parameters.language).flatMap((sentence) =>
        aspects.map((aspect) => ({ ...sentence, input, aspect })),
      ),
    );
  },

  async infer(model, items, parameters) {
    const template = parameters.question_template ?? 'what do you think of the {}?';
    const questions = items.map((item) => template.replace('{}', () => item.aspect));
    const rows = await classifyLogits(
      model,
      items.map((item) => item.text),
      questions,
      false,
    );
    return rows.map((row) => ({ probabilities: softmax(row), labels: model.labels }));
  },

  postprocess(raw, items, inputs) {
    const results = (Array.isArray(inputs) ? inputs : [inputs]).map(
      () => new Map<number, Static<typeof Result>[number]>(),
    );
    items.forEach((item, i) => {
      const sentences = results[item.input];
      const { probabilities, labels } = raw[i] ?? { probabilities: [], labels: [] };
      if (!sentences) return;
      const sentence = sentences.get(item.start) ?? {
        text: item.text,
        start: item.start,
        end: item.end,
        aspects: {},
      };
      sentences.set(item.start, sentence);
      const best = probabilities.indexOf(Math.max(...probabilities));
      const label = labels[best] ?? 'none';
      if (label !== 'none') {
        sentence.aspects[item.aspect] = {
          sentiment: label,
          score: Math.round((probabilities[best] ?? 0) * 1e6) / 1e6,
        };
      }
    });
    const answer = results.map((sentences) => [...sentences.values()]);
    return Array.isArray(inputs) ? answer : (answer[0] ?? []);
  },
});
