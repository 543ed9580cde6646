// Generation shared by text-generation and the text2text tasks: sampling parameters, seeds, stop
// sequences, and why generation ended.
import type { PreTrainedTokenizer, Tensor } from '@huggingface/transformers';
import Type, { type Static } from 'typebox';
import type { ModelContext, TokenStream } from './types.ts';

export const generationParameters = {
  max_new_tokens: Type.Optional(Type.Integer({ minimum: 1, maximum: 4096, description: 'Default 64.' })),
  do_sample: Type.Optional(
    Type.Boolean({
      description: 'Sample instead of greedy decoding (implied by temperature, top_k, top_p).',
    }),
  ),
  // Below 0.01, logits divided by the temperature overflow: use greedy decoding (do_sample false).
  temperature: Type.Optional(Type.Number({ minimum: 0.01, maximum: 100 })),
  top_k: Type.Optional(Type.Integer({ minimum: 1 })),
  top_p: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 1 })),
  repetition_penalty: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 100 })),
  stop: Type.Optional(
    Type.Array(Type.String({ minLength: 1, maxLength: 200 }), {
      maxItems: 8,
      description: 'Stop at any of these texts.',
    }),
  ),
  seed: Type.Optional(Type.Integer({ minimum: 0, description: 'Makes sampling reproducible.' })),
};

export const GenerationParametersSchema = Type.Object(generationParameters);
export type GenerationParameters = Static<typeof GenerationParametersSchema>;

export const DEFAULT_MAX_NEW_TOKENS = 64;

export type FinishReason = 'length' | 'eos_token' | 'stop_sequence';

export interface Generated {
  /** Generated token ids, per input, without the prompt. */
  tokens: number[][];
  /** Generated text per input, cut before a stop sequence. */
  texts: string[];
  finishReasons: FinishReason[];
}

/**
 * Runs model.generate on encoded inputs. `promptLength` is how many leading ids of each output row
 * are the prompt (decoder-only models echo it; seq2seq decoders start from one start token).
 */
export async function generate(
  model: ModelContext,
  encoded: Record<string, unknown>,
  promptLength: number,
  parameters: GenerationParameters,
  stream?: TokenStream,
): Promise<Generated> {
  const { runtime, tokenizer } = model;
  const maxNew = parameters.max_new_tokens ?? DEFAULT_MAX_NEW_TOKENS;
  const sampling =
    parameters.do_sample ??
    [parameters.temperature, parameters.top_k, parameters.top_p].some((p) => p !== undefined);
  if (parameters.seed !== undefined) runtime.random.seed(parameters.seed);
  const stops = parameters.stop ?? [];
  const decodeNew = (t: PreTrainedTokenizer, row: readonly (number | bigint)[]): string =>
    t.decode(row.slice(promptLength).map(Number), { skip_special_tokens: true });

  class StopSequences extends runtime.StoppingCriteria {
    override _call(inputIds: (number | bigint)[][]): boolean[] {
      return inputIds.map((row) => {
        const text = decodeNew(tokenizer, row);
        return stops.some((s) => text.includes(s));
      });
    }
  }

  /** Ends generation once nobody listens to the stream. */
  class ClientGone extends runtime.StoppingCriteria {
    override _call(inputIds: unknown[]): boolean[] {
      return inputIds.map(() => stream?.cancelled() ?? false);
    }
  }

  /** Sends each new token with the text it adds. */
  class TokenSink extends runtime.BaseStreamer {
    private prompt = true; // generate() first puts the prompt (or the decoder's start token)
    private readonly ids: number[] = [];
    private text = '';

    override put(value: bigint[][]): void {
      if (this.prompt) {
        this.prompt = false;
        return;
      }
      const id = Number(value[0]?.[0]);
      this.ids.push(id);
      const full = tokenizer.decode(this.ids, { skip_special_tokens: true });
      // A character split across byte tokens decodes as U+FFFD until its last byte arrives.
      const ready = !full.endsWith('\uFFFD');
      stream?.token?.({ id, text: ready ? full.slice(this.text.length) : '', special: specials.has(id) });
      if (ready) this.text = full;
    }

    override end(): void {}
  }

  const specials = new Set(tokenizer.all_special_ids);
  const criteria = [...(stops.length ? [new StopSequences()] : []), ...(stream ? [new ClientGone()] : [])];
  const output = (await model.model.generate({
    ...encoded,
    max_new_tokens: maxNew,
    do_sample: sampling,
    ...(parameters.temperature !== undefined ? { temperature: parameters.temperature } : {}),
    ...(parameters.top_k !== undefined ? { top_k: parameters.top_k } : {}),
    ...(parameters.top_p !== undefined ? { top_p: parameters.top_p } : {}),
    ...(parameters.repetition_penalty !== undefined
      ? { repetition_penalty: parameters.repetition_penalty }
      : {}),
    ...(criteria.length ? { stopping_criteria: criteria } : {}),
    // Typed as TextStreamer, but generate() only calls put() and end(), which any BaseStreamer has.
    ...(stream?.token
      ? { streamer: new TokenSink() as unknown as InstanceType<typeof runtime.TextStreamer> }
      : {}),
  })) as Tensor;
  const rows = (output.tolist() as bigint[][]).map((row) => row.map(Number));
  const eos = new Set(
    [tokenizer.eos_token_id, model.config.eos_token_id].flat().filter((x) => typeof x === 'number'),
  );
  const pad = tokenizer.pad_token_id;
  const result: Generated = { tokens: [], texts: [], finishReasons: [] };
  for (const row of rows) {
    let tokens = row.slice(promptLength);
    // Finished rows of a batch are padded to the longest one.
    while (tokens.length && tokens.at(-1) === pad && !eos.has(pad)) tokens = tokens.slice(0, -1);
    let text = tokenizer.decode(tokens, { skip_special_tokens: true });
    const stopAt = Math.min(...stops.map((s) => text.indexOf(s)).filter((i) => i >= 0));
    let reason: FinishReason = tokens.some((t) => eos.has(t)) ? 'eos_token' : 'length';
    if (Number.isFinite(stopAt)) {
      text = text.slice(0, stopAt);
      reason = 'stop_sequence';
    }
    result.tokens.push(tokens.filter((t) => !eos.has(t)));
    model.meter.output.push(tokens.length);
    result.texts.push(text);
    result.finishReasons.push(reason);
  }
  return result;
}
