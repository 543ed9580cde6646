// What summarization, translation and text2text-generation share: encoder-decoder generation.
import Type from 'typebox';
import { asArray, checkLength, Texts, textParameters } from './common.ts';
import { generate, generationParameters } from './generation.ts';
import type { ModelContext } from './types.ts';

export const seq2seqInputs = Texts;

export const seq2seqParameters = {
  ...generationParameters,
  truncate: textParameters.truncate,
};

export const outputOf = <K extends string>(key: K) =>
  Type.Array(Type.Object({ [key]: Type.String() } as Record<K, ReturnType<typeof Type.String>>));

/** Generates for each input and answers [{key: text}, ...], the HF shape for these tasks. */
export async function runSeq2Seq<K extends string>(
  model: ModelContext,
  key: K,
  inputs: string | string[],
  parameters: Parameters<typeof generate>[3] & { truncate?: boolean },
): Promise<Record<K, string>[]> {
  const texts = asArray(inputs);
  texts.forEach((text) => checkLength(model, parameters.truncate, text));
  const encoded = model.tokenizer(texts, { padding: true, truncation: true, max_length: model.maxTokens });
  // The decoder starts from its start token, which is not part of the answer.
  const generated = await generate(model, encoded, 1, parameters);
  return generated.texts.map((text) => ({ [key]: text }) as Record<K, string>);
}
