// What an encoder-decoder architecture tells the converter: the shape of its caches, its encoder
// (ids -> hidden states) and its decoder step (ids, the encoder's states and both caches -> logits
// and the caches grown); ./seq2seq.ts builds the two graphs around them.
import type { Config } from '../architectures/architecture.ts';
import type { AttentionHeads, Builder } from '../layers.ts';

export interface Seq2SeqShape extends AttentionHeads {
  /** d_model: the width of the encoder's hidden states. */
  hidden: number;
  decoderLayers: number;
  vocab: number;
}

export interface KeyValue {
  key: string;
  value: string;
}

/** One decoder layer's caches: its own keys and values, and those of the encoder it attends. */
export interface LayerCache {
  self: KeyValue;
  cross: KeyValue;
}

export interface DecoderStepInputs {
  /** input_ids [b, s] of this step. */
  ids: string;
  /** How many tokens the self-attention cache holds, int64 [1]. */
  pastLength: string;
  /** The causal bias [b, 1, s, past + s]. */
  selfBias: string;
  /** encoder_hidden_states [b, t, hidden]. */
  encoderHidden: string;
  /** The padding bias [b, 1, 1, t] of encoder_attention_mask. */
  encoderBias: string;
  past: readonly LayerCache[];
}

export interface Seq2SeqArchitecture {
  /** config.json `model_type` values built by this architecture. */
  modelTypes: readonly string[];
  /** `base_model_prefix` of the transformers class ('' when the stacks are at the top). */
  basePrefix: string;
  shape(config: Config): Seq2SeqShape;
  /** last_hidden_state [b, t, hidden] for input_ids and attention_mask [b, t]. */
  encoder(b: Builder, config: Config, io: { ids: string; mask: string }): string;
  decoder(b: Builder, config: Config, io: DecoderStepInputs): { logits: string; presents: LayerCache[] };
  /** Checkpoint tensors the graphs do not read and the checkpoint may hold (tied copies, buffers). */
  ignored?: readonly RegExp[];
}
