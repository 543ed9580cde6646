// The Llama family (transformers/models/{llama,mistral,qwen2}/modeling_*.py): RMSNorm before
// attention and MLP, rotary position embeddings (rope_theta; rope_scaling `linear` and `llama3`),
// grouped-query attention (num_key_value_heads), the SiLU-gated MLP down(silu(gate(x)) · up(x)),
// Qwen2's q/k/v biases (taken wherever the checkpoint has them), Mistral's sliding window, and an LM
// head of its own or tied to the embeddings (tie_word_embeddings).
import { ServeError } from '../../errors.ts';
import { type Config, num, str } from '../architectures/architecture.ts';
import {
  activation,
  cachedAttention,
  linearAsStored,
  projectOntoRows,
  rmsNorm,
  rotary,
  table,
} from '../layers.ts';
import type { DecoderArchitecture, DecoderCache } from './architecture.ts';

const unsupported = (what: string, details: Record<string, unknown>): ServeError =>
  new ServeError('unsupported_architecture', `${what} is not supported`, details);

function cacheOf(config: Config): DecoderCache {
  const heads = num(config, 'num_attention_heads');
  const headDim =
    typeof config['head_dim'] === 'number' ? config['head_dim'] : num(config, 'hidden_size') / heads;
  return {
    layers: num(config, 'num_hidden_layers'),
    heads,
    kvHeads: num(config, 'num_key_value_heads', heads),
    headDim,
  };
}

/**
 * θ^(−2i/d) for i < d/2, rewritten by rope_scaling as modeling_rope_utils does: `linear` divides by
 * the factor; `llama3` divides the low frequencies by it and blends the middle band smoothly.
 */
export function inverseFrequencies(config: Config, headDim: number): Float32Array {
  const theta = num(config, 'rope_theta', 10000);
  const base = Float32Array.from({ length: headDim / 2 }, (_, i) => 1 / Math.pow(theta, (2 * i) / headDim));
  const scaling = config['rope_scaling'];
  if (scaling === undefined || scaling === null) return base;
  if (typeof scaling !== 'object')
    throw unsupported('rope_scaling that is not an object', { rope_scaling: scaling });
  const s = scaling as Config;
  const type = str(s, 'rope_type', typeof s['type'] === 'string' ? s['type'] : 'default');
  if (type === 'default') return base;
  const factor = num(s, 'factor');
  if (type === 'linear') return base.map((f) => f / factor);
  if (type !== 'llama3')
    throw unsupported(`rope_scaling "${type}" (supported: linear, llama3)`, { rope_type: type });
  const low = num(s, 'low_freq_factor');
  const high = num(s, 'high_freq_factor');
  const original = num(s, 'original_max_position_embeddings');
  return base.map((f) => {
    const wavelength = (2 * Math.PI) / f;
    if (wavelength < original / high) return f;
    if (wavelength > original / low) return f / factor;
    const smooth = (original / wavelength - low) / (high - low);
    return (1 - smooth) * (f / factor) + smooth * f;
  });
}

/** The sliding window a config applies, if any (Mistral's; Qwen2's only with use_sliding_window). */
function slidingWindow(config: Config): number | undefined {
  const window = config['sliding_window'];
  if (typeof window !== 'number') return undefined;
  if (config['model_type'] === 'qwen2') {
    if (config['use_sliding_window'] === true) throw unsupported('Qwen2 with use_sliding_window', {});
    return undefined;
  }
  return window;
}

export const llama: DecoderArchitecture = {
  modelTypes: ['llama', 'mistral', 'qwen2'],
  basePrefix: 'model',
  cache: cacheOf,
  window: slidingWindow,
  build(b, config, io) {
    const partial = config['partial_rotary_factor'];
    if (typeof partial === 'number' && partial !== 1) throw unsupported('partial_rotary_factor', { partial });
    const { g, w } = b;
    const shape = cacheOf(config);
    const { heads, kvHeads, headDim } = shape;
    const hidden = num(config, 'hidden_size');
    const inner = num(config, 'intermediate_size');
    const vocab = num(config, 'vocab_size');
    const eps = num(config, 'rms_norm_eps', 1e-6);
    const act = str(config, 'hidden_act', 'silu');
    const p = w.bodyPrefix;
    const embeddings = table(b, `${p}embed_tokens.weight`, vocab, hidden);
    const rotate = rotary(g, io.positions, inverseFrequencies(config, headDim));
    let x = g.gather(embeddings, io.ids);
    const presents: { key: string; value: string }[] = [];
    for (let i = 0; i < shape.layers; i++) {
      const l = `${p}layers.${i}`;
      const h = rmsNorm(b, `${l}.input_layernorm`, x, hidden, eps);
      const projected = {
        q: linearAsStored(b, `${l}.self_attn.q_proj`, h, hidden, heads * headDim),
        k: linearAsStored(b, `${l}.self_attn.k_proj`, h, hidden, kvHeads * headDim),
        v: linearAsStored(b, `${l}.self_attn.v_proj`, h, hidden, kvHeads * headDim),
      };
      const attention = cachedAttention(
        g,
        projected,
        io.past[i] as (typeof io.past)[number],
        io.bias,
        shape,
        rotate,
      );
      presents.push({ key: attention.key, value: attention.value });
      x = g.add(x, linearAsStored(b, `${l}.self_attn.o_proj`, attention.context, heads * headDim, hidden));
      const n = rmsNorm(b, `${l}.post_attention_layernorm`, x, hidden, eps);
      const gate = activation(g, linearAsStored(b, `${l}.mlp.gate_proj`, n, hidden, inner), act);
      const gated = g.mul(gate, linearAsStored(b, `${l}.mlp.up_proj`, n, hidden, inner));
      x = g.add(x, linearAsStored(b, `${l}.mlp.down_proj`, gated, inner, hidden));
    }
    x = rmsNorm(b, `${p}norm`, x, hidden, eps);
    const tied = config['tie_word_embeddings'] === true && !w.has('lm_head.weight');
    const head = tied ? embeddings : table(b, 'lm_head.weight', vocab, hidden);
    return { logits: projectOntoRows(g, x, head, vocab, hidden), presents };
  },
};
