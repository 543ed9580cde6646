// token-classification (NER): known person names -> PER, places -> LOC, organisations -> ORG, tagged
// B- at the start of a name and I- when the previous token is of the same type ("Alice Smith").
import {
  bertInputs,
  bertTokenizer,
  encoderFolder,
  labelMaps,
  oneHot,
  shifted,
  tokenTable,
} from '../encoders.ts';
import { ENTITIES } from '../lexicon.ts';
import type { ModelFolder } from '../layout.ts';
import { DType, Graph } from '../../../src/convert/onnx/graph.ts';

const TYPES = ['PER', 'LOC', 'ORG'] as const;
const LABELS = ['O', ...TYPES.flatMap((t) => [`B-${t}`, `I-${t}`])];

/** Weights from [is type k, is type k and so was the previous token] to the label logits. */
function labelWeights(): Float32Array {
  const w = new Float32Array(2 * TYPES.length * LABELS.length);
  TYPES.forEach((_, k) => {
    const begin = 1 + 2 * k;
    const inside = begin + 1;
    w[k * LABELS.length + begin] = 3; // an entity token starts a name...
    w[(TYPES.length + k) * LABELS.length + begin] = -6; // ...unless it continues one,
    w[(TYPES.length + k) * LABELS.length + inside] = 3; // then it is inside it.
  });
  return w;
}

function graph(): Uint8Array {
  const g = new Graph('ner');
  const { ids, mask } = bertInputs(g, false);
  const table = tokenTable(g, 'entity_type', bertTokenizer.vocab, TYPES.length, (token) => {
    const k = TYPES.findIndex((t) => ENTITIES[t].includes(token));
    return k < 0 ? undefined : oneHot(k, TYPES.length);
  });
  const types = g.mul(g.gather(table, ids), g.unsqueeze(mask, [2])); // [b, s, 3]
  const continued = g.mul(types, shifted(g, types, 3, 1));
  const features = g.concat([types, continued], 2); // [b, s, 6]
  const weights = g.weight('classifier', DType.float, [2 * TYPES.length, LABELS.length], labelWeights());
  const bias = g.f32(oneHot(0, LABELS.length), [LABELS.length]); // "O" unless evidence says otherwise
  g.output('logits', g.add(g.matmul(features, weights), bias), DType.float, [
    'batch_size',
    'sequence_length',
    LABELS.length,
  ]);
  return g.toBytes();
}

export function build(): ModelFolder {
  return encoderFolder({
    id: 'hubserve-test/tiny-ner',
    task: 'token-classification',
    description: 'NER: known person names -> PER, places -> LOC, organisations -> ORG (B-/I- tags).',
    config: { architectures: ['BertForTokenClassification'], ...labelMaps(LABELS) },
    onnx: { 'model.onnx': graph() },
  });
}
