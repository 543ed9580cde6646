// RoBERTa, XLM-RoBERTa and CamemBERT (models/roberta, xlm_roberta, camembert): BERT's body with
// positions counted from padding_idx + 1 over real tokens, no token types in the export, a
// dense-tanh-out_proj classifier on <s>, and lm_head (dense, gelu, layer_norm, tied decoder).
import { activation, type Builder, layerNorm, linear, paddedPositions } from '../layers.ts';
import { type Architecture, num } from './architecture.ts';
import { bert, bertEmbeddings, bertEncoder, bertShape } from './bert.ts';
import { firstTokenClassifier, tiedDecoder } from './heads.ts';

/** `lm_head.dense` -> gelu -> `lm_head.layer_norm` -> tied decoder. */
function robertaLmHead(b: Builder, hidden: string, width: number, vocab: number, eps: number) {
  const x = layerNorm(
    b,
    'lm_head.layer_norm',
    activation(b.g, linear(b, 'lm_head.dense', hidden, width, width), 'gelu'),
    width,
    eps,
  );
  return tiedDecoder(
    b,
    x,
    `${b.w.bodyPrefix}embeddings.word_embeddings.weight`,
    'lm_head.decoder',
    'lm_head.bias',
    vocab,
    width,
  );
}

export const roberta: Architecture = {
  modelTypes: ['roberta', 'xlm-roberta', 'camembert'],
  basePrefix: 'roberta',
  tokenTypes: false,
  hiddenSize: (config) => num(config, 'hidden_size'),
  optionalBody: [/^pooler\./],
  body(b, config, inputs) {
    const positions = paddedPositions(b.g, inputs.ids, num(config, 'pad_token_id', 1));
    const x = bertEmbeddings(b, config, inputs, positions, num(config, 'hidden_size'));
    return bertEncoder(b, config, x, inputs.mask);
  },
  head(b, config, head, hidden) {
    const shape = bertShape(config);
    switch (head) {
      case 'sequence-classification':
        return firstTokenClassifier(b, config, hidden, shape.hidden, (x) => b.g.op('Tanh', [x]));
      case 'masked-lm':
        return robertaLmHead(b, hidden, shape.hidden, shape.vocab, shape.eps);
      default:
        return bert.head(b, config, head, hidden);
    }
  },
};
