// DistilBERT (models/distilbert/modeling_distilbert.py): word + position embeddings and LayerNorm, no
// token types; `transformer.layer.{i}` blocks with its own names and a fixed LayerNorm eps of 1e-12;
// config keys dim / hidden_dim / n_heads / n_layers / activation. Sequence classification is
// pre_classifier -> ReLU -> classifier on [CLS]; MaskedLM is vocab_transform -> act -> vocab_layer_norm
// -> vocab_projector (tied).
import {
  activation,
  attentionMask,
  arange,
  embedding,
  firstToken,
  layerNorm,
  linear,
  postNormBlock,
} from '../layers.ts';
import { type Architecture, labelCount, num, str } from './architecture.ts';
import { questionAnswering, tiedDecoder, tokenClassification } from './heads.ts';

const EPS = 1e-12;

export const distilbert: Architecture = {
  modelTypes: ['distilbert'],
  basePrefix: 'distilbert',
  tokenTypes: false,
  hiddenSize: (config) => num(config, 'dim'),
  body(b, config, inputs) {
    const { g } = b;
    const dim = num(config, 'dim');
    const p = b.w.bodyPrefix;
    const words = embedding(b, `${p}embeddings.word_embeddings`, inputs.ids, num(config, 'vocab_size'), dim);
    const positions = embedding(
      b,
      `${p}embeddings.position_embeddings`,
      arange(g, inputs.ids),
      num(config, 'max_position_embeddings'),
      dim,
    );
    let x = layerNorm(b, `${p}embeddings.LayerNorm`, g.add(words, positions), dim, EPS);
    const attending = attentionMask(g, inputs.mask);
    const shape = {
      hidden: dim,
      heads: num(config, 'n_heads'),
      intermediate: num(config, 'hidden_dim'),
      activation: str(config, 'activation', 'gelu'),
      eps: EPS,
    };
    for (let i = 0; i < num(config, 'n_layers'); i++) {
      const l = `${p}transformer.layer.${i}`;
      x = postNormBlock(
        b,
        x,
        attending,
        {
          attention: {
            query: `${l}.attention.q_lin`,
            key: `${l}.attention.k_lin`,
            value: `${l}.attention.v_lin`,
            output: `${l}.attention.out_lin`,
          },
          attentionNorm: `${l}.sa_layer_norm`,
          intermediate: `${l}.ffn.lin1`,
          output: `${l}.ffn.lin2`,
          outputNorm: `${l}.output_layer_norm`,
        },
        shape,
      );
    }
    return x;
  },
  head(b, config, head, hidden) {
    const { g } = b;
    const dim = num(config, 'dim');
    switch (head) {
      case 'feature-extraction':
        return { last_hidden_state: { value: hidden, dims: ['batch_size', 'sequence_length', dim] } };
      case 'sequence-classification': {
        const pre = g.op('Relu', [linear(b, 'pre_classifier', firstToken(g, hidden), dim, dim)]);
        const labels = labelCount(config);
        return { logits: { value: linear(b, 'classifier', pre, dim, labels), dims: ['batch_size', labels] } };
      }
      case 'token-classification':
        return tokenClassification(b, config, hidden, dim);
      case 'question-answering':
        return questionAnswering(b, hidden, dim);
      case 'masked-lm': {
        const act = activation(
          g,
          linear(b, 'vocab_transform', hidden, dim, dim),
          str(config, 'activation', 'gelu'),
        );
        const x = layerNorm(b, 'vocab_layer_norm', act, dim, EPS);
        const p = b.w.bodyPrefix;
        const vocab = num(config, 'vocab_size');
        return tiedDecoder(
          b,
          x,
          `${p}embeddings.word_embeddings.weight`,
          'vocab_projector',
          'vocab_projector.bias',
          vocab,
          dim,
        );
      }
    }
  },
};
