// BART and Marian (transformers/models/{bart,marian}/modeling_*.py): one `shared` table scaled by
// √d_model when scale_embedding, positions learned with an offset of 2 (BART) or Marian's fixed
// sinusoids (computed here, as transformers does: checkpoints need not hold them), BART's
// layernorm_embedding, post-LayerNorm layers whose attention scales q by head_dim^-0.5, and the LM
// head tied to `shared` plus final_logits_bias.
import { ServeError } from '../../errors.ts';
import { type Config, num, str } from '../architectures/architecture.ts';
import {
  activation,
  type Builder,
  cachedAttention,
  crossKeyValue,
  layerNorm,
  linear,
  paddingBias,
  projectOntoRows,
  scaledAttention,
  table,
  toHeads,
} from '../layers.ts';
import { DType } from '../onnx/graph.ts';
import type { LayerCache, Seq2SeqArchitecture, Seq2SeqShape } from './architecture.ts';

/** MarianSinusoidalPositionalEmbedding: sin(pos / 10000^(2j/d)) in the first half, cos in the second. */
export function marianSinusoids(positions: number, dim: number): Float32Array {
  const out = new Float32Array(positions * dim);
  const sentinel = Math.ceil(dim / 2);
  for (let pos = 0; pos < positions; pos++) {
    for (let j = 0; j < dim; j++) {
      const angle = pos / Math.pow(10000, (2 * Math.floor(j / 2)) / dim);
      // Even j fill the sines from the left, odd j the cosines after the sentinel.
      const column = j % 2 === 0 ? j / 2 : sentinel + (j - 1) / 2;
      out[pos * dim + column] = j % 2 === 0 ? Math.sin(angle) : Math.cos(angle);
    }
  }
  return out;
}

function shapeOf(config: Config): Seq2SeqShape {
  const hidden = num(config, 'd_model');
  const heads = num(config, 'decoder_attention_heads');
  if (num(config, 'encoder_attention_heads') !== heads) {
    throw new ServeError('unsupported_architecture', 'encoder and decoder with different head counts', {});
  }
  return {
    hidden,
    heads,
    kvHeads: heads,
    headDim: hidden / heads,
    decoderLayers: num(config, 'decoder_layers'),
    vocab: num(config, 'vocab_size'),
  };
}

function checkSupported(config: Config): void {
  for (const flag of ['normalize_before', 'add_final_layer_norm', 'normalize_embedding']) {
    if (config[flag] === true) {
      throw new ServeError(
        'unsupported_architecture',
        `${String(config['model_type'])} with ${flag} is not supported`,
        {
          [flag]: true,
        },
      );
    }
  }
  const decoderVocab = config['decoder_vocab_size'];
  if (decoderVocab !== undefined && decoderVocab !== null && decoderVocab !== config['vocab_size']) {
    throw new ServeError(
      'unsupported_architecture',
      'a decoder vocabulary of its own (decoder_vocab_size) is not supported',
      {
        decoder_vocab_size: decoderVocab,
      },
    );
  }
  if (config['share_encoder_decoder_embeddings'] === false) {
    throw new ServeError(
      'unsupported_architecture',
      'separate encoder and decoder embeddings are not supported',
      {},
    );
  }
}

/** What both stacks read from the config and the layers they are built from. */
function bartContext(b: Builder, config: Config, stack: 'encoder' | 'decoder') {
  checkSupported(config);
  const { g, w } = b;
  const shape = shapeOf(config);
  const { hidden } = shape;
  const p = w.bodyPrefix;
  const marian = config['model_type'] === 'marian';
  const maxPositions = num(config, 'max_position_embeddings');
  const shared = table(b, `${p}shared.weight`, shape.vocab, hidden);
  const positionTable = marian
    ? g.weight(
        `${p}${stack}.embed_positions.weight`,
        DType.float,
        [maxPositions, hidden],
        marianSinusoids(maxPositions, hidden),
      )
    : table(b, `${p}${stack}.embed_positions.weight`, maxPositions + 2, hidden);
  const scale = config['scale_embedding'] === true ? Math.sqrt(hidden) : 1;
  const act = str(config, 'activation_function', 'gelu');
  const ffn = num(config, `${stack}_ffn_dim`);
  return {
    shape,
    shared,
    prefix: `${p}${stack}`,
    /** Token embeddings (scaled) plus the positions from `start` [1] on, through layernorm_embedding. */
    embed(ids: string, start: string): string {
      const s = g.squeeze(g.dimOf(ids, 1), [0]);
      const from = g.squeeze(start, [0]);
      let positions = g.op('Range', [from, g.add(from, s), g.i64([1], [])]);
      if (!marian) positions = g.add(positions, g.i64([2], []));
      const tokens = g.gather(shared, ids);
      const x = g.add(
        scale === 1 ? tokens : g.mul(tokens, g.f32([scale], [])),
        g.gather(positionTable, positions),
      );
      return marian ? x : layerNorm(b, `${p}${stack}.layernorm_embedding`, x, hidden, 1e-5);
    },
    project: (name: string, x: string) => linear(b, name, x, hidden, hidden),
    /** x + sublayer(x), then the LayerNorm `norm`. */
    residual: (norm: string, x: string, y: string) => layerNorm(b, norm, g.add(x, y), hidden, 1e-5),
    feedForward(l: string, x: string): string {
      const inner = activation(g, linear(b, `${l}.fc1`, x, hidden, ffn), act);
      return layerNorm(
        b,
        `${l}.final_layer_norm`,
        g.add(x, linear(b, `${l}.fc2`, inner, ffn, hidden)),
        hidden,
        1e-5,
      );
    },
  };
}

export const bart: Seq2SeqArchitecture = {
  modelTypes: ['bart', 'marian'],
  basePrefix: 'model',
  // Tied copies of `shared` (the stacks' embed_tokens, lm_head) and Marian's stored sinusoids.
  ignored: [
    /^(model\.)?(encoder|decoder)\.embed_tokens\.weight$/,
    /^lm_head\.weight$/,
    /^(model\.)?(encoder|decoder)\.embed_positions\.weight$/,
  ],
  shape: shapeOf,
  encoder(b, config, io) {
    const { g } = b;
    const ctx = bartContext(b, config, 'encoder');
    const { shape } = ctx;
    const bias = paddingBias(g, io.mask);
    let x = ctx.embed(io.ids, g.i64([0]));
    for (let i = 0; i < num(config, 'encoder_layers'); i++) {
      const l = `${ctx.prefix}.layers.${i}`;
      const [q, k, v] = ['q_proj', 'k_proj', 'v_proj'].map((n) =>
        toHeads(g, ctx.project(`${l}.self_attn.${n}`, x), shape.heads, shape.headDim),
      ) as [string, string, string];
      const context = scaledAttention(g, q, k, v, bias, shape);
      x = ctx.residual(`${l}.self_attn_layer_norm`, x, ctx.project(`${l}.self_attn.out_proj`, context));
      x = ctx.feedForward(l, x);
    }
    return x;
  },
  decoder(b, config, io) {
    const { g, w } = b;
    const ctx = bartContext(b, config, 'decoder');
    const { shape } = ctx;
    let x = ctx.embed(io.ids, io.pastLength);
    const presents: LayerCache[] = [];
    for (let i = 0; i < shape.decoderLayers; i++) {
      const l = `${ctx.prefix}.layers.${i}`;
      const past = io.past[i] as LayerCache;
      const [q, k, v] = ['q_proj', 'k_proj', 'v_proj'].map((n) => ctx.project(`${l}.self_attn.${n}`, x)) as [
        string,
        string,
        string,
      ];
      const attention = cachedAttention(g, { q, k, v }, past.self, io.selfBias, shape);
      x = ctx.residual(
        `${l}.self_attn_layer_norm`,
        x,
        ctx.project(`${l}.self_attn.out_proj`, attention.context),
      );
      const c = `${l}.encoder_attn`;
      const cross = crossKeyValue(
        g,
        io.encoderHidden,
        past.cross,
        (rows) => ({ k: ctx.project(`${c}.k_proj`, rows), v: ctx.project(`${c}.v_proj`, rows) }),
        shape,
      );
      const query = toHeads(g, ctx.project(`${c}.q_proj`, x), shape.heads, shape.headDim);
      const context = scaledAttention(g, query, cross.key, cross.value, io.encoderBias, shape);
      x = ctx.residual(`${l}.encoder_attn_layer_norm`, x, ctx.project(`${c}.out_proj`, context));
      x = ctx.feedForward(l, x);
      presents.push({ self: { key: attention.key, value: attention.value }, cross });
    }
    const logitsBias = g.weight(
      'final_logits_bias',
      DType.float,
      [1, shape.vocab],
      w.tensor('final_logits_bias', [1, shape.vocab]),
    );
    // An untied head of its own (tie_word_embeddings: false) wins over `shared`.
    const own = config['tie_word_embeddings'] === false && w.has('lm_head.weight');
    const head = own ? table(b, 'lm_head.weight', shape.vocab, shape.hidden) : ctx.shared;
    return { logits: g.add(projectOntoRows(g, x, head, shape.vocab, shape.hidden), logitsBias), presents };
  },
};
