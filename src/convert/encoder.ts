// An encoder checkpoint as the ONNX graph Optimum would export for it: int64 input_ids,
// attention_mask (and token_type_ids where the architecture takes them), the head's outputs under
// Optimum's names, and a sentence-transformers folder's `sentence_embedding` beside them.
import {
  type Architecture,
  architectureFor,
  type Config,
  type Head,
  headFor,
} from './architectures/index.ts';
import type { Checkpoint } from './checkpoint/checkpoint.ts';
import { SEQ_DIMS } from './layers.ts';
import { DType, Graph } from './onnx/graph.ts';
import { sentenceEmbedding, type SentencePipeline } from './sentence-transformers.ts';
import { Weights } from './weights.ts';
import { ServeError } from '../errors.ts';

export interface SentenceStages {
  /** The repo folder the pipeline's files are in. */
  dir: string;
  listing: readonly string[];
  pipeline: SentencePipeline;
}

export interface EncoderGraph {
  graph: Graph;
  architecture: Architecture;
  head: Head;
  inputs: string[];
  outputs: string[];
}

/**
 * Builds the graph; the weights are read from the checkpoint only when the graph is written, so the
 * checkpoint stays open until then. Every body tensor must be used (a checkpoint that holds more than
 * its config describes is refused rather than served wrong).
 */
export function buildEncoder(
  checkpoint: Checkpoint,
  config: Config,
  sentence?: SentenceStages,
): EncoderGraph {
  const architecture = architectureFor(config);
  const head = headFor(config);
  const g = new Graph(`hubserve-${String(config['model_type'])}`);
  const w = new Weights(checkpoint, architecture.basePrefix);
  const b = { g, w };
  const inputs = {
    ids: g.input('input_ids', DType.int64, SEQ_DIMS),
    mask: g.input('attention_mask', DType.int64, SEQ_DIMS),
    ...(architecture.tokenTypes ? { tokenTypes: g.input('token_type_ids', DType.int64, SEQ_DIMS) } : {}),
  };
  const hidden = architecture.body(b, config, inputs);
  const outputs = architecture.head(b, config, head, hidden);
  if (!outputs) {
    throw new ServeError(
      'unsupported_architecture',
      `${String(config['model_type'])} has no ${head} head hubserve can convert`,
      { model_type: config['model_type'], head },
    );
  }
  for (const [name, { value, dims }] of Object.entries(outputs)) g.output(name, value, DType.float, dims);
  if (sentence) {
    const pooled = sentenceEmbedding(
      g,
      sentence.dir,
      sentence.listing,
      sentence.pipeline,
      hidden,
      architecture.hiddenSize(config),
      inputs.mask,
    );
    g.output('sentence_embedding', pooled.value, DType.float, ['batch_size', pooled.width]);
  }
  w.checkBodyUsed(architecture.optionalBody);
  return {
    graph: g,
    architecture,
    head,
    inputs: Object.values(inputs),
    outputs: [...Object.keys(outputs), ...(sentence ? ['sentence_embedding'] : [])],
  };
}
