// feature-extraction: token embeddings whose first dimensions are the word's topic and the rest a small
// word-specific signature, so related words and sentences are close ("cat" ~ "kitten", far from "bank").
import { bertInputs, bertTokenizer, encoderFolder, oneHot, tokenTable } from '../encoders.ts';
import { TOPIC_NAMES, topicOf } from '../lexicon.ts';
import type { ModelFolder } from '../layout.ts';
import { DType, Graph } from '../../../src/convert/onnx/graph.ts';
import { hash, normals } from '../random.ts';

export const HIDDEN_SIZE = 32;
const SIGNATURE_STD = 0.15;
/** Words without a topic carry little meaning: short vectors, as frequent words have in trained models. */
const PLAIN_WORD_SCALE = 0.3;

function embedding(token: string): number[] {
  const topic = topicOf(token);
  const row = topic
    ? oneHot(TOPIC_NAMES.indexOf(topic), HIDDEN_SIZE)
    : new Array<number>(HIDDEN_SIZE).fill(0);
  const scale = topic ? 1 : PLAIN_WORD_SCALE;
  const signature = normals(HIDDEN_SIZE - TOPIC_NAMES.length, SIGNATURE_STD * scale, hash(token));
  signature.forEach((v, i) => (row[TOPIC_NAMES.length + i] = v));
  return row;
}

function graph(): Uint8Array {
  const g = new Graph('embeddings');
  const { ids } = bertInputs(g, false);
  const table = tokenTable(g, 'word_embeddings', bertTokenizer.vocab, HIDDEN_SIZE, embedding);
  g.output('last_hidden_state', g.gather(table, ids), DType.float, [
    'batch_size',
    'sequence_length',
    HIDDEN_SIZE,
  ]);
  return g.toBytes();
}

export function build(): ModelFolder {
  return encoderFolder({
    id: 'hubserve-test/tiny-embeddings',
    task: 'feature-extraction',
    description: 'Sentence embeddings (mean pooling): words of one topic share directions.',
    config: { hidden_size: HIDDEN_SIZE },
    onnx: { 'model.onnx': graph() },
  });
}
