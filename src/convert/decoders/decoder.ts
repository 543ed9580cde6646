// A decoder-only checkpoint as the ONNX graph Optimum's text-generation-with-past export makes, which
// transformers.js generates with unchanged: int64 input_ids and position_ids [b, s], attention_mask
// over past + new tokens, past_key_values.{i}.key/value in and present.{i}.key/value out ([b, heads,
// tokens, head_dim], heads and head_dim static: transformers.js sizes the first, empty cache from
// them), and logits [b, s, vocab].
import { ServeError } from '../../errors.ts';
import type { Config } from '../architectures/architecture.ts';
import type { Checkpoint } from '../checkpoint/checkpoint.ts';
import { causalBias } from '../layers.ts';
import { DType, Graph } from '../onnx/graph.ts';
import { Weights } from '../weights.ts';
import type { DecoderArchitecture } from './architecture.ts';
import { gpt2 } from './gpt2.ts';
import { llama } from './llama.ts';

const DECODERS: readonly DecoderArchitecture[] = [gpt2, llama];

export const DECODER_MODEL_TYPES: readonly string[] = DECODERS.flatMap((a) => a.modelTypes);

/** The decoder architecture of this config, or undefined when it is not a decoder hubserve converts. */
export function decoderFor(config: Config): DecoderArchitecture | undefined {
  const modelType = config['model_type'];
  return DECODERS.find((a) => typeof modelType === 'string' && a.modelTypes.includes(modelType));
}

export interface DecoderGraph {
  graph: Graph;
  inputs: string[];
  outputs: string[];
}

/** A causal LM head is what the converter builds for a decoder: *LMHeadModel, *ForCausalLM. */
function checkCausalLm(config: Config): void {
  const named = Array.isArray(config['architectures']) ? String(config['architectures'][0]) : undefined;
  if (named !== undefined && !/(LMHeadModel|ForCausalLM)$/.test(named)) {
    throw new ServeError(
      'unsupported_architecture',
      `architecture "${named}" has a head hubserve cannot convert for a decoder (supported: *LMHeadModel, *ForCausalLM)`,
      { architecture: named },
    );
  }
}

export function buildDecoder(
  checkpoint: Checkpoint,
  config: Config,
  architecture: DecoderArchitecture,
): DecoderGraph {
  checkCausalLm(config);
  const g = new Graph(`hubserve-${String(config['model_type'])}`);
  const w = new Weights(checkpoint, architecture.basePrefix);
  const cache = architecture.cache(config);
  if (!Number.isInteger(cache.headDim) || !Number.isInteger(cache.heads / cache.kvHeads)) {
    throw new ServeError(
      'bad_checkpoint',
      `${cache.heads} attention heads of width ${cache.headDim} cannot share ${cache.kvHeads} key-value heads`,
      { ...cache },
    );
  }
  const ids = g.input('input_ids', DType.int64, ['batch_size', 'sequence_length']);
  const mask = g.input('attention_mask', DType.int64, ['batch_size', 'total_sequence_length']);
  const positions = g.input('position_ids', DType.int64, ['batch_size', 'sequence_length']);
  const cacheDims = (tokens: string) => ['batch_size', cache.kvHeads, tokens, cache.headDim];
  const past = Array.from({ length: cache.layers }, (_, i) => ({
    key: g.input(`past_key_values.${i}.key`, DType.float, cacheDims('past_sequence_length')),
    value: g.input(`past_key_values.${i}.value`, DType.float, cacheDims('past_sequence_length')),
  }));
  const { logits, presents } = architecture.build({ g, w }, config, {
    ids,
    positions,
    bias: causalBias(g, ids, mask, architecture.window?.(config)),
    past,
  });
  const vocab = config['vocab_size'];
  g.output('logits', logits, DType.float, [
    'batch_size',
    'sequence_length',
    typeof vocab === 'number' ? vocab : 'vocab',
  ]);
  const outputs = ['logits'];
  presents.forEach(({ key, value }, i) => {
    g.output(`present.${i}.key`, key, DType.float, cacheDims('total_sequence_length'));
    g.output(`present.${i}.value`, value, DType.float, cacheDims('total_sequence_length'));
    outputs.push(`present.${i}.key`, `present.${i}.value`);
  });
  w.checkBodyUsed();
  return {
    graph: g,
    inputs: [
      'input_ids',
      'attention_mask',
      'position_ids',
      ...past.flatMap((_, i) => [`past_key_values.${i}.key`, `past_key_values.${i}.value`]),
    ],
    outputs,
  };
}
