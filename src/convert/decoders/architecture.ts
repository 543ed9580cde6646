// What a decoder architecture tells the converter: its cache's shape, its sliding window if any, and
// its layers from the token embeddings to the logits (./decoder.ts builds the graph around them).
import type { Config } from '../architectures/architecture.ts';
import type { AttentionHeads, Builder } from '../layers.ts';

export interface DecoderCache extends AttentionHeads {
  layers: number;
}

export interface DecoderInputs {
  ids: string;
  positions: string;
  /** The additive attention bias [b, 1, s, past + s] (causal and padding). */
  bias: string;
  /** Per layer, the cache so far. */
  past: readonly { key: string; value: string }[];
}

export interface DecoderArchitecture {
  /** config.json `model_type` values built by this architecture. */
  modelTypes: readonly string[];
  /** `base_model_prefix` of the transformers class. */
  basePrefix: string;
  cache(config: Config): DecoderCache;
  /** Tokens a query may look back, when attention has a sliding window. */
  window?(config: Config): number | undefined;
  /** The logits [b, s, vocab] and each layer's present key and value. */
  build(
    b: Builder,
    config: Config,
    inputs: DecoderInputs,
  ): { logits: string; presents: { key: string; value: string }[] };
}
