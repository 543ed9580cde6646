// GPT-2 (transformers/models/gpt2/modeling_gpt2.py): token + position embeddings, pre-LayerNorm blocks
// whose projections are Conv1D ([in, out] weights; q, k, v side by side in c_attn), gelu_new, the
// final ln_f and an LM head tied to the token embeddings unless the checkpoint has one of its own.
import { ServeError } from '../../errors.ts';
import { num, str } from '../architectures/architecture.ts';
import { activation, cachedAttention, conv1d, layerNorm, projectOntoRows, table } from '../layers.ts';
import type { DecoderArchitecture } from './architecture.ts';

export const gpt2: DecoderArchitecture = {
  modelTypes: ['gpt2'],
  basePrefix: 'transformer',
  cache(config) {
    const hidden = num(config, 'n_embd');
    const heads = num(config, 'n_head');
    return { layers: num(config, 'n_layer'), heads, kvHeads: heads, headDim: hidden / heads };
  },
  build(b, config, io) {
    for (const unsupported of ['scale_attn_by_inverse_layer_idx', 'reorder_and_upcast_attn']) {
      if (config[unsupported] === true) {
        throw new ServeError('unsupported_architecture', `GPT-2 with ${unsupported} is not supported`, {
          [unsupported]: true,
        });
      }
    }
    if (config['scale_attn_weights'] === false) {
      throw new ServeError(
        'unsupported_architecture',
        'GPT-2 with scale_attn_weights false is not supported',
        {},
      );
    }
    const { g, w } = b;
    const shape = this.cache(config);
    const hidden = num(config, 'n_embd');
    const inner = typeof config['n_inner'] === 'number' ? config['n_inner'] : 4 * hidden;
    const vocab = num(config, 'vocab_size');
    const eps = num(config, 'layer_norm_epsilon', 1e-5);
    const act = str(config, 'activation_function', 'gelu_new');
    const p = w.bodyPrefix;
    const wte = table(b, `${p}wte.weight`, vocab, hidden);
    const positions = num(config, 'n_positions');
    const wpe = table(b, `${p}wpe.weight`, positions, hidden);
    let x = g.add(g.gather(wte, io.ids), g.gather(wpe, io.positions));
    const presents: { key: string; value: string }[] = [];
    for (let i = 0; i < shape.layers; i++) {
      const l = `${p}h.${i}`;
      const qkv = conv1d(
        b,
        `${l}.attn.c_attn`,
        layerNorm(b, `${l}.ln_1`, x, hidden, eps),
        hidden,
        3 * hidden,
      );
      const [q, k, v] = g.node('Split', [qkv, g.i64([hidden, hidden, hidden])], { axis: { i: 2 } }, [
        `${l}.q`,
        `${l}.k`,
        `${l}.v`,
      ]) as [string, string, string];
      const attention = cachedAttention(
        g,
        { q, k, v },
        io.past[i] as { key: string; value: string },
        io.bias,
        shape,
      );
      presents.push({ key: attention.key, value: attention.value });
      x = g.add(x, conv1d(b, `${l}.attn.c_proj`, attention.context, hidden, hidden));
      const up = conv1d(b, `${l}.mlp.c_fc`, layerNorm(b, `${l}.ln_2`, x, hidden, eps), hidden, inner);
      x = g.add(x, conv1d(b, `${l}.mlp.c_proj`, activation(g, up, act), inner, hidden));
    }
    x = layerNorm(b, `${p}ln_f`, x, hidden, eps);
    // An untied head of its own (tie_word_embeddings: false) wins over the token embeddings.
    const own = config['tie_word_embeddings'] === false && w.has('lm_head.weight');
    const head = own ? table(b, 'lm_head.weight', vocab, hidden) : wte;
    return { logits: projectOntoRows(g, x, head, vocab, hidden), presents };
  },
};
