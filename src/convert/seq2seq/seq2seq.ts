// An encoder-decoder checkpoint as the two ONNX graphs Optimum's text2text-generation-with-past
// export makes, which transformers.js generates with unchanged:
//   encoder_model: input_ids, attention_mask [b, t] -> last_hidden_state [b, t, d_model];
//   decoder_model_merged: encoder_attention_mask [b, t], input_ids [b, s], encoder_hidden_states and
//     past_key_values.{i}.{decoder,encoder}.{key,value} -> logits [b, s, vocab] and
//     present.{i}.{decoder,encoder}.{key,value} ([b, heads, tokens, d_kv], heads and d_kv static:
//     transformers.js sizes the first, empty caches from them).
// Optimum's merged decoder switches between two subgraphs on use_cache_branch; this one needs no
// switch (see crossKeyValue), so it has no such input and transformers.js feeds none.
import { ServeError } from '../../errors.ts';
import type { Config } from '../architectures/architecture.ts';
import type { Checkpoint } from '../checkpoint/checkpoint.ts';
import { causalBias, paddingBias } from '../layers.ts';
import { DType, Graph, type GraphPart } from '../onnx/graph.ts';
import { Weights } from '../weights.ts';
import type { LayerCache, Seq2SeqArchitecture } from './architecture.ts';
import { bart } from './bart.ts';
import { t5 } from './t5.ts';

const SEQ2SEQ: readonly Seq2SeqArchitecture[] = [t5, bart];

export const SEQ2SEQ_MODEL_TYPES: readonly string[] = SEQ2SEQ.flatMap((a) => a.modelTypes);

/** The seq2seq architecture of this config, or undefined when it is not one hubserve converts. */
export function seq2seqFor(config: Config): Seq2SeqArchitecture | undefined {
  const modelType = config['model_type'];
  return SEQ2SEQ.find((a) => typeof modelType === 'string' && a.modelTypes.includes(modelType));
}

/** A conditional-generation head is what the converter builds: *ForConditionalGeneration, *MTModel. */
function checkGenerationHead(config: Config): void {
  const named = Array.isArray(config['architectures']) ? String(config['architectures'][0]) : undefined;
  if (named !== undefined && !/(ForConditionalGeneration|MTModel)$/.test(named)) {
    throw new ServeError(
      'unsupported_architecture',
      `architecture "${named}" has a head hubserve cannot convert for an encoder-decoder (supported: ` +
        '*ForConditionalGeneration, MarianMTModel)',
      { architecture: named },
    );
  }
}

const CACHE_KINDS = ['decoder', 'encoder'] as const;
const PARTS = ['key', 'value'] as const;

export function buildSeq2Seq(
  checkpoint: Checkpoint,
  config: Config,
  architecture: Seq2SeqArchitecture,
): GraphPart[] {
  checkGenerationHead(config);
  const shape = architecture.shape(config);
  if (!Number.isInteger(shape.headDim) || shape.headDim <= 0) {
    throw new ServeError('bad_checkpoint', `attention heads of width ${shape.headDim} are not possible`, {
      ...shape,
    });
  }
  const w = new Weights(checkpoint, architecture.basePrefix);
  const name = `hubserve-${String(config['model_type'])}`;

  const encoder = new Graph(`${name}-encoder`);
  const encoderDims = ['batch_size', 'encoder_sequence_length'];
  const hidden = architecture.encoder({ g: encoder, w }, config, {
    ids: encoder.input('input_ids', DType.int64, encoderDims),
    mask: encoder.input('attention_mask', DType.int64, encoderDims),
  });
  encoder.output('last_hidden_state', hidden, DType.float, [...encoderDims, shape.hidden]);

  const g = new Graph(`${name}-decoder`);
  const encoderMask = g.input('encoder_attention_mask', DType.int64, encoderDims);
  const ids = g.input('input_ids', DType.int64, ['batch_size', 'decoder_sequence_length']);
  const encoderHidden = g.input('encoder_hidden_states', DType.float, [...encoderDims, shape.hidden]);
  const cacheDims = (tokens: string) => ['batch_size', shape.heads, tokens, shape.headDim];
  const pastTokens = { decoder: 'past_decoder_sequence_length', encoder: 'encoder_sequence_length_out' };
  const pastNames: string[] = [];
  const past: LayerCache[] = Array.from({ length: shape.decoderLayers }, (_, i) => {
    const [self, cross] = CACHE_KINDS.map((kind) => {
      const [key, value] = PARTS.map((part) => {
        const input = `past_key_values.${i}.${kind}.${part}`;
        pastNames.push(input);
        return g.input(input, DType.float, cacheDims(pastTokens[kind]));
      }) as [string, string];
      return { key, value };
    }) as [LayerCache['self'], LayerCache['cross']];
    return { self, cross };
  });
  const first = past[0];
  if (!first) throw new ServeError('invalid_config', 'the decoder has no layers', {});
  const pastLength = g.dimOf(first.self.key, 2);
  // The decoder attends every token so far: a mask of ones over past + new tokens.
  const total = g.add(pastLength, g.dimOf(ids, 1));
  const ones = g.op('Expand', [g.i64([1], []), g.concat([g.dimOf(ids, 0), total], 0)]);
  const { logits, presents } = architecture.decoder({ g, w }, config, {
    ids,
    pastLength,
    selfBias: causalBias(g, ids, ones),
    encoderHidden,
    encoderBias: paddingBias(g, encoderMask),
    past,
  });
  g.output('logits', logits, DType.float, ['batch_size', 'decoder_sequence_length', shape.vocab]);
  const outputs = ['logits'];
  const presentTokens = { decoder: 'total_decoder_sequence_length', encoder: 'encoder_sequence_length_out' };
  presents.forEach((layer, i) => {
    for (const kind of CACHE_KINDS) {
      const cache = kind === 'decoder' ? layer.self : layer.cross;
      for (const part of PARTS) {
        const output = `present.${i}.${kind}.${part}`;
        g.output(output, cache[part], DType.float, cacheDims(presentTokens[kind]));
        outputs.push(output);
      }
    }
  });
  w.checkAllUsed(architecture.ignored);
  return [
    {
      name: 'encoder_model',
      graph: encoder,
      inputs: ['input_ids', 'attention_mask'],
      outputs: ['last_hidden_state'],
    },
    {
      name: 'decoder_model_merged',
      graph: g,
      inputs: ['encoder_attention_mask', 'input_ids', 'encoder_hidden_states', ...pastNames],
      outputs,
    },
  ];
}
