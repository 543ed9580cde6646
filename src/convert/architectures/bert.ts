// BERT (transformers/models/bert/modeling_bert.py): word + position + token-type embeddings, LayerNorm,
// post-LayerNorm blocks; the pooler (dense + tanh on [CLS]) under sequence classification, and the
// MaskedLM transform (dense, act, LayerNorm) before the tied decoder.
import { ServeError } from '../../errors.ts';
import {
  activation,
  attentionMask,
  arange,
  type Builder,
  embedding,
  firstToken,
  layerNorm,
  linear,
  postNormBlock,
} from '../layers.ts';
import { type Architecture, type Config, type EncoderInputs, labelCount, num, str } from './architecture.ts';
import { questionAnswering, tiedDecoder, tokenClassification } from './heads.ts';

export interface BertShape {
  hidden: number;
  heads: number;
  layers: number;
  intermediate: number;
  activation: string;
  eps: number;
  vocab: number;
}

export function bertShape(config: Config): BertShape {
  const embedding = config['position_embedding_type'];
  if (embedding !== undefined && embedding !== 'absolute') {
    throw new ServeError(
      'unsupported_architecture',
      `position_embedding_type "${String(embedding)}" is not supported (only "absolute")`,
      { position_embedding_type: embedding },
    );
  }
  return {
    hidden: num(config, 'hidden_size'),
    heads: num(config, 'num_attention_heads'),
    layers: num(config, 'num_hidden_layers'),
    intermediate: num(config, 'intermediate_size'),
    activation: str(config, 'hidden_act', 'gelu'),
    eps: num(config, 'layer_norm_eps', 1e-12),
    vocab: num(config, 'vocab_size'),
  };
}

/**
 * Word + position + token-type embeddings and their LayerNorm, `width` wide (ELECTRA's embedding_size).
 * `positions` are int64 ids; token types default to type 0 where the export has no such input.
 */
export function bertEmbeddings(
  b: Builder,
  config: Config,
  inputs: EncoderInputs,
  positions: string,
  width: number,
): string {
  const { g } = b;
  const p = b.w.bodyPrefix;
  const types = num(config, 'type_vocab_size', 2);
  const words = embedding(b, `${p}embeddings.word_embeddings`, inputs.ids, num(config, 'vocab_size'), width);
  const where = embedding(
    b,
    `${p}embeddings.position_embeddings`,
    positions,
    num(config, 'max_position_embeddings'),
    width,
  );
  const typeIds = inputs.tokenTypes ?? g.mul(inputs.ids, g.i64([0], []));
  const kinds = embedding(b, `${p}embeddings.token_type_embeddings`, typeIds, types, width);
  return layerNorm(
    b,
    `${p}embeddings.LayerNorm`,
    g.add(g.add(words, kinds), where),
    width,
    num(config, 'layer_norm_eps', 1e-12),
  );
}

/** BERT's encoder: `encoder.layer.{i}` blocks over the embeddings. */
export function bertEncoder(b: Builder, config: Config, x: string, mask: string): string {
  const shape = bertShape(config);
  const attending = attentionMask(b.g, mask);
  const p = `${b.w.bodyPrefix}encoder.layer`;
  for (let i = 0; i < shape.layers; i++) {
    const l = `${p}.${i}`;
    x = postNormBlock(
      b,
      x,
      attending,
      {
        attention: {
          query: `${l}.attention.self.query`,
          key: `${l}.attention.self.key`,
          value: `${l}.attention.self.value`,
          output: `${l}.attention.output.dense`,
        },
        attentionNorm: `${l}.attention.output.LayerNorm`,
        intermediate: `${l}.intermediate.dense`,
        output: `${l}.output.dense`,
        outputNorm: `${l}.output.LayerNorm`,
      },
      shape,
    );
  }
  return x;
}

export const bert: Architecture = {
  modelTypes: ['bert'],
  basePrefix: 'bert',
  tokenTypes: true,
  hiddenSize: (config) => num(config, 'hidden_size'),
  optionalBody: [/^pooler\./],
  body(b, config, inputs) {
    const x = bertEmbeddings(b, config, inputs, arange(b.g, inputs.ids), num(config, 'hidden_size'));
    return bertEncoder(b, config, x, inputs.mask);
  },
  head(b, config, head, hidden) {
    const { g } = b;
    const shape = bertShape(config);
    const p = b.w.bodyPrefix;
    switch (head) {
      case 'feature-extraction':
        return {
          last_hidden_state: { value: hidden, dims: ['batch_size', 'sequence_length', shape.hidden] },
        };
      case 'sequence-classification': {
        const pooled = g.op('Tanh', [
          linear(b, `${p}pooler.dense`, firstToken(g, hidden), shape.hidden, shape.hidden),
        ]);
        const labels = labelCount(config);
        return {
          logits: {
            value: linear(b, 'classifier', pooled, shape.hidden, labels),
            dims: ['batch_size', labels],
          },
        };
      }
      case 'token-classification':
        return tokenClassification(b, config, hidden, shape.hidden);
      case 'question-answering':
        return questionAnswering(b, hidden, shape.hidden);
      case 'masked-lm': {
        const t = 'cls.predictions.transform';
        const x = layerNorm(
          b,
          `${t}.LayerNorm`,
          activation(g, linear(b, `${t}.dense`, hidden, shape.hidden, shape.hidden), shape.activation),
          shape.hidden,
          shape.eps,
        );
        return tiedDecoder(
          b,
          x,
          `${p}embeddings.word_embeddings.weight`,
          'cls.predictions.decoder',
          'cls.predictions.bias',
          shape.vocab,
          shape.hidden,
        );
      }
    }
  },
};
