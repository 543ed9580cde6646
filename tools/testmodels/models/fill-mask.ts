// fill-mask: the word before and the word after the mask vote for what fits ("I drink [MASK] every
// morning" -> coffee, "The [MASK] barked" -> dog); special tokens and word pieces are never proposed.
import { bertInputs, bertTokenizer, encoderFolder, shifted } from '../encoders.ts';
import { FILL_MASK_LEFT, FILL_MASK_RIGHT } from '../lexicon.ts';
import type { ModelFolder } from '../layout.ts';
import { DType, Graph } from '../../../src/convert/onnx/graph.ts';

const { vocab } = bertTokenizer;
const V = vocab.size;

/** [V, V]: row = neighbour token, column = candidate for the masked slot. */
function neighbourVotes(facts: Record<string, string>): Float32Array {
  const votes = new Float32Array(V * V);
  for (const [neighbour, word] of Object.entries(facts)) {
    votes[(vocab.get(neighbour) as number) * V + (vocab.get(word) as number)] = 8;
  }
  return votes;
}

/** Whole words are candidates; special tokens, punctuation and single letters/pieces are not. */
function prior(): Float32Array {
  const p = new Float32Array(V);
  for (const [token, id] of vocab)
    p[id] = /^[a-z0-9]{2,}$/.test(token) || token === 'a' || token === 'i' ? 0 : -10;
  return p;
}

function graph(): Uint8Array {
  const g = new Graph('fill_mask');
  const { ids } = bertInputs(g, false);
  const left = g.gather(
    g.weight('left_votes', DType.float, [V, V], neighbourVotes(FILL_MASK_LEFT)),
    shifted(g, ids, 2, 1),
  );
  const right = g.gather(
    g.weight('right_votes', DType.float, [V, V], neighbourVotes(FILL_MASK_RIGHT)),
    shifted(g, ids, 2, -1),
  );
  const logits = g.add(g.add(left, right), g.weight('prior', DType.float, [V], prior()));
  g.output('logits', logits, DType.float, ['batch_size', 'sequence_length', V]);
  return g.toBytes();
}

export function build(): ModelFolder {
  return encoderFolder({
    id: 'hubserve-test/tiny-fill-mask',
    task: 'fill-mask',
    description: 'Fill-mask from neighbour words: "I drink [MASK] every morning" -> coffee.',
    config: { architectures: ['BertForMaskedLM'] },
    onnx: { 'model.onnx': graph() },
  });
}
