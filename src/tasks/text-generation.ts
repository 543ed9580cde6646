// text-generation: continue a prompt (or answer chat messages through the model's chat template).
import Type from 'typebox';
import { ServeError } from '../errors.ts';
import type { Tensor } from '@huggingface/transformers';
import { asArray, rowLengths, Text, textParameters } from './common.ts';
import { DEFAULT_MAX_NEW_TOKENS, generate, generationParameters } from './generation.ts';
import { defineTask, type ModelContext } from './types.ts';

const Message = Type.Object(
  { role: Type.Enum(['system', 'user', 'assistant']), content: Type.String({ minLength: 1 }) },
  { additionalProperties: false },
);
const Generated = Type.Object({
  generated_text: Type.String(),
  details: Type.Optional(
    Type.Object({
      finish_reason: Type.String(),
      generated_tokens: Type.Integer(),
      seed: Type.Optional(Type.Integer()),
    }),
  ),
});

/**
 * The prompt, if it and the tokens to generate fit in the model (TGI's rule); else 422, or with
 * truncate its end (what generation continues), cut at a token boundary.
 */
function fit(model: ModelContext, text: string, maxNew: number, truncate: boolean | undefined): string {
  const room = model.maxTokens - maxNew;
  const ids = model.tokenizer.encode(text, { add_special_tokens: model.tokenizer.add_bos_token ?? false });
  if (ids.length <= room) return text;
  if (!truncate || room < 1) {
    throw new ServeError(
      'input_too_long',
      `the prompt has ${ids.length} tokens and ${maxNew} are to be generated; the model takes ${model.maxTokens} ` +
        'in all. Shorten the prompt, lower max_new_tokens, or send "truncate": true.',
      { tokens: ids.length, max_new_tokens: maxNew, max_tokens: model.maxTokens },
    );
  }
  return model.tokenizer.decode(ids.slice(-room), { skip_special_tokens: true });
}

const isChat = (inputs: unknown): boolean => Array.isArray(inputs) && typeof inputs[0] === 'object';

/** The prompt text: as given, or chat messages rendered by the model's chat template. */
export function prompt(model: ModelContext, input: string | { role: string; content: string }[]): string {
  if (typeof input === 'string') return input;
  if (!model.tokenizer.chat_template) {
    throw new ServeError(
      'task_not_supported',
      'this model has no chat template; send a prompt string instead',
    );
  }
  return model.tokenizer.apply_chat_template(input, {
    tokenize: false,
    add_generation_prompt: true,
  }) as string;
}

export default defineTask({
  name: 'text-generation',
  summary: 'Continue a text, or answer chat messages with the chat template.',
  modelClass: 'causal-lm',
  inputs: Type.Union([
    Text,
    Type.Array(Message, { minItems: 1, maxItems: 256 }),
    Type.Array(Text, { minItems: 1, maxItems: 64 }),
  ]),
  parameters: Type.Object(
    {
      ...generationParameters,
      return_full_text: Type.Optional(
        Type.Boolean({ description: 'Prepend the prompt to the answer (default false).' }),
      ),
      details: Type.Optional(Type.Boolean({ description: 'Add finish_reason and token counts.' })),
      truncate: textParameters.truncate,
    },
    { additionalProperties: false },
  ),
  output: Type.Union([Type.Array(Generated), Type.Array(Type.Array(Generated))]),
  example: { inputs: 'Once upon a', parameters: { max_new_tokens: 20 } },
  splittable: false,
  streams: true,
  // Prompts generate together, left-padded, as long as their parameters are the same; a chat (one
  // array of messages) runs alone.
  batching: 'unwrapped',
  batchable: (inputs) => !isChat(inputs),
  async run(model, inputs, parameters, stream) {
    const started = performance.now();
    const t = model.tokenizer;
    const chat = isChat(inputs);
    const prompts = (
      chat
        ? [prompt(model, inputs as { role: string; content: string }[])]
        : asArray(inputs as string | string[]).map((p) => prompt(model, p))
    ).map((p) => fit(model, p, parameters.max_new_tokens ?? DEFAULT_MAX_NEW_TOKENS, parameters.truncate));
    if (stream?.token && prompts.length > 1) {
      throw new ServeError('invalid_request', 'stream one prompt at a time');
    }
    t.padding_side = 'left'; // decoder-only batches pad on the left so every prompt ends where generation starts
    const encoded = t(prompts, {
      padding: true,
      truncation: true,
      max_length: model.maxTokens,
      add_special_tokens: t.add_bos_token ?? false,
    });
    const promptLength = (encoded.input_ids as { dims: number[] }).dims[1] ?? 0;
    model.meter.input.push(...rowLengths(encoded.attention_mask as Tensor));
    model.meter.tokenizeMs += performance.now() - started; // the chat template and length checks too
    if (promptLength === 0) throw new ServeError('invalid_input', 'the prompt is empty once tokenized');
    const generated = await generate(model, encoded, promptLength, parameters, stream);
    const answers = generated.texts.map((text, i) => ({
      generated_text: parameters.return_full_text ? `${prompts[i]}${text}` : text,
      ...(parameters.details
        ? {
            details: {
              finish_reason: generated.finishReasons[i] ?? 'length',
              generated_tokens: generated.tokens[i]?.length ?? 0,
              ...(parameters.seed !== undefined ? { seed: parameters.seed } : {}),
            },
          }
        : {}),
    }));
    return Array.isArray(inputs) && !chat ? answers.map((a) => [a]) : answers;
  },
});
