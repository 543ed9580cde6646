// text-generation: a GPT-2-shaped decoder with a real KV cache (past_key_values.0.* in, present.0.* out).
// Its one attention head reads the previous token back from the cache; a small MLP then knows, for
// each (previous, current) pair of its corpus, the next token. Greedy decoding therefore continues the
// corpus exactly ("Once upon a" -> " time there was a little fox ..."), and only with a working cache:
// fed the last token alone without it, the model loses the previous token and drifts.
import { attend, positionKeys, positionQuery } from '../attention.ts';
import { oneHot } from '../encoders.ts';
import { GENERATION_CORPUS } from '../lexicon.ts';
import type { ModelFolder } from '../layout.ts';
import { DType, Graph } from '../../../src/convert/onnx/graph.ts';
import { byteLevelBpe, byteLevelForm, type Vocab } from '../tokenizers.ts';

const EOS = '<|endoftext|>';
export const MAX_POSITIONS = 256;

/** GPT-2's pre-tokenizer split (words with their leading space, numbers, punctuation runs). */
const pieces = (text: string): string[] => text.match(/ ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+/gu) ?? [];

const words = GENERATION_CORPUS.flatMap(pieces).flatMap((p) => [p, p.startsWith(' ') ? p.slice(1) : ` ${p}`]);
export const gpt2Tokenizer = byteLevelBpe({ words, specials: [EOS], addPrefixSpace: false });

interface Transitions {
  /** (previous, current) -> next, for every position of the corpus; previous = current at a start. */
  trigrams: Map<string, { prev: number; cur: number; next: number }>;
  /** current -> next, the first one seen: the fallback when the pair is unknown. */
  bigrams: Map<number, number>;
}

function transitions(vocab: Vocab): Transitions {
  const trigrams: Transitions['trigrams'] = new Map();
  const bigrams: Transitions['bigrams'] = new Map();
  const eos = vocab.get(EOS) as number;
  for (const sentence of GENERATION_CORPUS) {
    const ids = pieces(sentence).map((p) => vocab.get(byteLevelForm(p)) as number);
    ids.forEach((cur, i) => {
      const prev = ids[i - 1] ?? cur;
      const next = ids[i + 1] ?? eos;
      const key = `${prev},${cur}`;
      if (!trigrams.has(key)) trigrams.set(key, { prev, cur, next });
      if (!bigrams.has(cur)) bigrams.set(cur, next);
    });
  }
  return { trigrams, bigrams };
}

function graph(vocab: Vocab): Uint8Array {
  const V = vocab.size;
  const D = 3 + V; // head dim: position features [p, p², 1], then the token one-hot
  const { trigrams, bigrams } = transitions(vocab);
  const K = trigrams.size;
  const g = new Graph('gpt2');
  const ids = g.input('input_ids', DType.int64, ['batch_size', 'sequence_length']);
  const mask = g.input('attention_mask', DType.int64, ['batch_size', 'total_sequence_length']);
  const positions = g.toFloat(g.input('position_ids', DType.int64, ['batch_size', 'sequence_length']));
  const cacheDims = ['batch_size', 1, 'past_sequence_length', D];
  const pastKey = g.input('past_key_values.0.key', DType.float, cacheDims);
  const pastValue = g.input('past_key_values.0.value', DType.float, cacheDims);

  const current = g.oneHot(ids, V); // [b,s,V]
  const zerosV = g.mul(current, g.f32([0]));
  const positionFeatures = positionKeys(g, positions);
  const zeros3 = g.mul(positionFeatures, g.f32([0]));
  // Key and value projections of [position features, token]: keys see positions, values see tokens.
  const key = g.unsqueeze(g.concat([positionFeatures, zerosV], 2), [1]);
  const value = g.unsqueeze(g.concat([zeros3, current], 2), [1]);
  const presentKey = g.concat([pastKey, key], 2);
  const presentValue = g.concat([pastValue, value], 2);

  const query = g.unsqueeze(positionQuery(g, g.sub(positions, g.f32([1]))), [1]); // look up t - 1
  const big = Number.MAX_SAFE_INTEGER;
  const previous = attend(g, query, g.slice(presentKey, 3, 0, 3), g.slice(presentValue, 3, 3, big), mask);

  // Hidden unit k fires (1) only when both its previous and its current token are there.
  const prevIn = new Float32Array(V * K);
  const curIn = new Float32Array(V * K);
  const out = new Float32Array(K * V);
  [...trigrams.values()].forEach(({ prev, cur, next }, k) => {
    prevIn[prev * K + k] = 1;
    curIn[cur * K + k] = 1;
    out[k * V + next] = 10;
  });
  const bigramOut = new Float32Array(V * V);
  for (const [cur, next] of bigrams) bigramOut[cur * V + next] = 4;
  const hidden = g.op('Relu', [
    g.sub(
      g.add(
        g.matmul(previous, g.weight('mlp_prev', DType.float, [V, K], prevIn)),
        g.matmul(current, g.weight('mlp_cur', DType.float, [V, K], curIn)),
      ),
      g.f32([1]),
    ),
  ]);
  const prior = g.f32(oneHot(vocab.get(EOS) as number, V), [V]); // nothing known: stop
  const logits = g.add(
    g.add(
      g.matmul(hidden, g.weight('mlp_out', DType.float, [K, V], out)),
      g.matmul(current, g.weight('bigram', DType.float, [V, V], bigramOut)),
    ),
    prior,
  );
  g.output('logits', logits, DType.float, ['batch_size', 'sequence_length', V]);
  const presentDims = ['batch_size', 1, 'total_sequence_length', D];
  g.output('present.0.key', presentKey, DType.float, presentDims);
  g.output('present.0.value', presentValue, DType.float, presentDims);
  return g.toBytes();
}

export function build(): ModelFolder {
  const { vocab, tokenizerJson } = gpt2Tokenizer;
  const eos = vocab.get(EOS) as number;
  return {
    id: 'hubserve-test/tiny-gpt2',
    task: 'text-generation',
    description:
      'Decoder-only LM with a KV cache that continues its three-sentence corpus deterministically.',
    config: {
      model_type: 'gpt2',
      architectures: ['GPT2LMHeadModel'],
      vocab_size: vocab.size,
      n_layer: 1,
      n_head: 1,
      n_embd: 3 + vocab.size,
      n_positions: MAX_POSITIONS,
      bos_token_id: eos,
      eos_token_id: eos,
    },
    tokenizer: tokenizerJson,
    tokenizerConfig: {
      tokenizer_class: 'GPT2Tokenizer',
      model_max_length: MAX_POSITIONS,
      bos_token: EOS,
      eos_token: EOS,
      unk_token: EOS,
      pad_token: EOS,
      add_bos_token: false,
      chat_template: "{% for message in messages %}{{ message['content'] }}{% endfor %}",
    },
    generationConfig: { bos_token_id: eos, eos_token_id: eos, pad_token_id: eos, max_length: MAX_POSITIONS },
    onnx: { 'model.onnx': graph(vocab) },
  };
}
