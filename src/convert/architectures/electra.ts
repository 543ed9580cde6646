// ELECTRA (models/electra/modeling_electra.py): BERT's embeddings at embedding_size, projected to
// hidden_size by `embeddings_project` when the two differ; BERT's encoder; a dense-gelu-out_proj
// classifier on [CLS]; the generator's MaskedLM head (dense to embedding_size, gelu, LayerNorm, tied).
import { activation, arange, layerNorm, linear } from '../layers.ts';
import { type Architecture, num } from './architecture.ts';
import { bert, bertEmbeddings, bertEncoder, bertShape } from './bert.ts';
import { firstTokenClassifier, tiedDecoder } from './heads.ts';

export const electra: Architecture = {
  modelTypes: ['electra'],
  basePrefix: 'electra',
  tokenTypes: true,
  hiddenSize: (config) => num(config, 'hidden_size'),
  body(b, config, inputs) {
    const hidden = num(config, 'hidden_size');
    const width = num(config, 'embedding_size', hidden);
    let x = bertEmbeddings(b, config, inputs, arange(b.g, inputs.ids), width);
    if (width !== hidden) x = linear(b, `${b.w.bodyPrefix}embeddings_project`, x, width, hidden);
    return bertEncoder(b, config, x, inputs.mask);
  },
  head(b, config, head, hidden) {
    const shape = bertShape(config);
    switch (head) {
      case 'sequence-classification':
        return firstTokenClassifier(b, config, hidden, shape.hidden, (x) => activation(b.g, x, 'gelu'));
      case 'masked-lm': {
        const width = num(config, 'embedding_size', shape.hidden);
        const dense = linear(b, 'generator_predictions.dense', hidden, shape.hidden, width);
        const x = layerNorm(
          b,
          'generator_predictions.LayerNorm',
          activation(b.g, dense, 'gelu'),
          width,
          shape.eps,
        );
        return tiedDecoder(
          b,
          x,
          `${b.w.bodyPrefix}embeddings.word_embeddings.weight`,
          'generator_lm_head',
          'generator_lm_head.bias',
          shape.vocab,
          width,
        );
      }
      default:
        return bert.head(b, config, head, hidden);
    }
  },
};
