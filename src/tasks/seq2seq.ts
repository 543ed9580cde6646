// What summarization, translation and text2text-generation share: encoder-decoder generation. The
// three differ only in name, answer key and wording.
import Type, { type TString } from 'typebox';
import { asArray, encode, Texts, textParameters } from './common.ts';
import { generate, generationParameters } from './generation.ts';
import { defineTask, type ModelContext } from './types.ts';

const parameters = Type.Object(
  { ...generationParameters, truncate: textParameters.truncate },
  { additionalProperties: false },
);

/** Generates for each input and answers [{key: text}, ...], the HF shape for these tasks. */
async function runSeq2Seq(
  model: ModelContext,
  key: string,
  inputs: string | string[],
  options: Parameters<typeof generate>[3] & { truncate?: boolean },
): Promise<Record<string, string>[]> {
  const texts = asArray(inputs);
  const encoded = encode(model, texts, { truncate: options.truncate });
  // The decoder starts from its start token, which is not part of the answer.
  const generated = await generate(model, encoded, 1, options);
  return generated.texts.map((text) => ({ [key]: text }));
}

export function seq2seqTask(spec: { name: string; key: string; summary: string; example: string }) {
  return defineTask({
    name: spec.name,
    summary: spec.summary,
    modelClass: 'seq2seq-lm',
    inputs: Texts,
    parameters,
    output: Type.Array(Type.Object({ [spec.key]: Type.String() } as Record<string, TString>)),
    example: { inputs: spec.example },
    splittable: true,
    batching: 'wrapped',
    run: (model, inputs, options) => runSeq2Seq(model, spec.key, inputs, options),
  });
}
