// fill-mask: the most likely tokens for the mask, and the completed texts.
import type { Tensor } from '@huggingface/transformers';
import Type from 'typebox';
import { ServeError } from '../errors.ts';
import { asArray, encode, round, softmax, Texts, textParameters, topK } from './common.ts';
import { defineTask } from './types.ts';

const Fill = Type.Object({
  score: Type.Number(),
  token: Type.Integer(),
  token_str: Type.String(),
  sequence: Type.String(),
});

export default defineTask({
  name: 'fill-mask',
  summary: "Predict the model's mask token ([MASK] or <mask>) in a text.",
  modelClass: 'masked-lm',
  inputs: Texts,
  parameters: Type.Object(
    {
      top_k: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, description: 'Default 5.' })),
      targets: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { minItems: 1, maxItems: 100 })),
      truncate: textParameters.truncate,
    },
    { additionalProperties: false },
  ),
  output: Type.Union([Type.Array(Fill), Type.Array(Type.Array(Fill))]),
  example: { inputs: 'I drink [MASK] every morning.' },
  warmup: (model) => ({ inputs: `I drink ${model.tokenizer.mask_token} every morning.` }),
  splittable: false,
  batching: 'unwrapped',
  async run(model, inputs, parameters) {
    const t = model.tokenizer;
    const texts = asArray(inputs);
    const targets = parameters.targets?.map((w) => t.encode(w, { add_special_tokens: false })[0]);
    const results = [];
    for (const text of texts) {
      if (!text.includes(t.mask_token)) {
        throw new ServeError('invalid_input', `the input must contain the mask token ${t.mask_token}`, {
          mask_token: t.mask_token,
        });
      }
      const encoded = encode(model, text, { truncate: parameters.truncate });
      const ids = ((encoded.input_ids as Tensor).tolist()[0] as bigint[]).map(Number);
      const at = ids.indexOf(t.mask_token_id);
      if (at < 0) {
        throw new ServeError(
          'invalid_input',
          `truncating the input cut off its ${t.mask_token}; shorten it instead`,
        );
      }
      const { logits } = (await model.model(encoded)) as { logits: Tensor };
      const vocab = logits.dims.at(-1) ?? 0;
      const row = [...(logits.data as Float32Array).subarray(at * vocab, (at + 1) * vocab)];
      const probabilities = softmax(row);
      const k = parameters.top_k ?? 5;
      const best = targets
        ? targets
            .filter((i): i is number => i !== undefined)
            .sort((a, b) => (probabilities[b] ?? 0) - (probabilities[a] ?? 0))
            .slice(0, k)
        : topK(probabilities, k);
      results.push(
        best.map((token) => {
          const filled = [...ids];
          filled[at] = token;
          return {
            score: round(probabilities[token] ?? 0),
            token,
            token_str: t.decode([token]),
            sequence: t.decode(filled, { skip_special_tokens: true }),
          };
        }),
      );
    }
    return Array.isArray(inputs) ? results : (results[0] ?? []);
  },
});
