// text2text (T5-shaped): encoder_model.onnx + decoder_model_merged.onnx with a real KV cache. The encoder
// encodes each source word as its target word and ranks the words it keeps; at step t the decoder,
// whose position is the length of its own self-attention cache, looks up the kept word of rank t
// through cross-attention (the encoder half of the cache, computed once) and writes it. One graph,
// two sets of tables:
// - translation: keeps every token and writes it word by word in French ("the cat" -> "le chat"),
//   copying words it does not know;
// - summarization: keeps only names, places, organisations, dates and topic nouns, in order.
import { attend, positionKeys, positionQuery } from '../attention.ts';
import { COMMON_WORDS, EN_FR, ENTITIES, TOPICS } from '../lexicon.ts';
import type { ModelFolder } from '../layout.ts';
import { DType, Graph } from '../../../src/convert/onnx/graph.ts';
import { byteLevelBpe, byteLevelForm, type Vocab } from '../tokenizers.ts';

const [PAD, EOS, UNK] = ['<pad>', '</s>', '<unk>'];
const MAX_LENGTH = 128;
const capitalized = (w: string): string => w.charAt(0).toUpperCase() + w.slice(1);
const entityWords = Object.values(ENTITIES).flat();
const summaryWords = new Set([
  ...entityWords,
  ...entityWords.map(capitalized),
  ...Object.values(TOPICS).flat(),
]);

export const t5Tokenizer = byteLevelBpe({
  words: [
    ...COMMON_WORDS,
    ...Object.keys(EN_FR).flatMap((w) => [w, capitalized(w)]),
    ...Object.values(EN_FR),
    ...summaryWords,
  ].map((w) => ` ${w}`),
  specials: [PAD, EOS, UNK],
  addPrefixSpace: true,
  appendEos: EOS,
});

interface Tables {
  /** token -> kept by the encoder (1) or skipped (0). */
  keep: (token: string) => boolean;
  /** token -> the token written for it. */
  write: (token: string) => string;
}

const TRANSLATE: Tables = {
  keep: (token) => token !== PAD,
  write: (token) => {
    const fr = EN_FR[token.slice(1).toLowerCase()]; // tokens carry their leading "Ġ"
    return fr === undefined ? token : byteLevelForm(` ${fr}`);
  },
};

const SUMMARIZE: Tables = {
  keep: (token) => token === EOS || summaryWords.has(token.slice(1)),
  write: (token) => token,
};

function encoder(vocab: Vocab, tables: Tables): Uint8Array {
  const V = vocab.size;
  const g = new Graph('t5_encoder');
  const dims = ['batch_size', 'encoder_sequence_length'];
  const ids = g.input('input_ids', DType.int64, dims);
  const mask = g.toFloat(g.input('attention_mask', DType.int64, dims));
  const keepData = new Float32Array(V);
  const writeData = new BigInt64Array(V);
  for (const [token, id] of vocab) {
    keepData[id] = tables.keep(token) ? 1 : 0;
    writeData[id] = BigInt(vocab.get(tables.write(token)) ?? id);
  }
  const keep = g.mul(g.gather(g.weight('keep', DType.float, [V], keepData), ids), mask); // [b,s]
  // Kept tokens get their rank among kept tokens; the others a rank no query asks for.
  const rank = g.sub(g.op('CumSum', [keep, g.i64([1], [])]), g.f32([1]));
  const ranked = g.add(g.mul(rank, keep), g.mul(g.sub(keep, g.f32([1])), g.f32([1000])));
  const target = g.oneHot(g.gather(g.weight('write', DType.int64, [V], writeData), ids), V);
  const hidden = g.concat([positionKeys(g, ranked), target], 2);
  g.output('last_hidden_state', hidden, DType.float, [...dims, 3 + V]);
  return g.toBytes();
}

function decoder(vocab: Vocab): Uint8Array {
  const V = vocab.size;
  const D = 3 + V;
  const g = new Graph('t5_decoder_merged');
  const encoderMask = g.input('encoder_attention_mask', DType.int64, [
    'batch_size',
    'encoder_sequence_length',
  ]);
  const ids = g.input('input_ids', DType.int64, ['batch_size', 'decoder_sequence_length']);
  const encoded = g.input('encoder_hidden_states', DType.float, ['batch_size', 'encoder_sequence_length', D]);
  const past = (part: 'decoder' | 'encoder', kind: 'key' | 'value'): string =>
    g.input(`past_key_values.0.${part}.${kind}`, DType.float, [
      'batch_size',
      1,
      `past_${part}_sequence_length`,
      D,
    ]);
  const [pastSelfKey, pastSelfValue, pastCrossKey, pastCrossValue] = [
    past('decoder', 'key'),
    past('decoder', 'value'),
    past('encoder', 'key'),
    past('encoder', 'value'),
  ];

  // Self-attention cache: one entry per decoder token so far (the token, one-hot). Its length is the
  // decoder's position, as T5 derives positions from the cache.
  const token = g.oneHot(ids, V); // [b,s,V]
  const noPosition = g.mul(g.slice(token, 2, 0, 3), g.f32([0]));
  const selfEntry = g.unsqueeze(g.concat([noPosition, token], 2), [1]);
  const presentSelfKey = g.concat([pastSelfKey, selfEntry], 2);
  const presentSelfValue = g.concat([pastSelfValue, selfEntry], 2);
  const pastLength = g.squeeze(g.dimOf(pastSelfKey, 2), [0]);
  const stepCount = g.squeeze(g.dimOf(ids, 1), [0]);
  const steps = g.toFloat(g.op('Range', [pastLength, g.add(pastLength, stepCount), g.i64([1], [])])); // [s]

  // Cross-attention cache: computed from the encoder output at the first step, reused after it.
  const fresh = g.slice(g.unsqueeze(encoded, [1]), 2, g.dimOf(pastCrossKey, 2), Number.MAX_SAFE_INTEGER);
  const presentCrossKey = g.concat([pastCrossKey, fresh], 2);
  const presentCrossValue = g.concat([pastCrossValue, fresh], 2);
  const query = g.unsqueeze(positionQuery(g, steps), [0, 1]); // [1,1,s,3]
  const source = attend(
    g,
    query,
    g.slice(presentCrossKey, 3, 0, 3),
    g.slice(presentCrossValue, 3, 3, Number.MAX_SAFE_INTEGER),
    encoderMask,
  ); // [b,s,V]: the target word for the source word of rank t
  const logits = g.mul(source, g.f32([10]));
  g.output('logits', logits, DType.float, ['batch_size', 'decoder_sequence_length', V]);
  const out = (name: string, value: string, length: string): void =>
    g.output(name, value, DType.float, ['batch_size', 1, length, D]);
  out('present.0.decoder.key', presentSelfKey, 'present_decoder_sequence_length');
  out('present.0.decoder.value', presentSelfValue, 'present_decoder_sequence_length');
  out('present.0.encoder.key', presentCrossKey, 'encoder_sequence_length_out');
  out('present.0.encoder.value', presentCrossValue, 'encoder_sequence_length_out');
  return g.toBytes();
}

function folder(id: string, task: string, description: string, tables: Tables): ModelFolder {
  const { vocab, tokenizerJson } = t5Tokenizer;
  const [pad, eos] = [vocab.get(PAD), vocab.get(EOS)];
  return {
    id,
    task,
    description,
    config: {
      model_type: 't5',
      architectures: ['T5ForConditionalGeneration'],
      is_encoder_decoder: true,
      vocab_size: vocab.size,
      d_model: 3 + vocab.size,
      d_kv: 3 + vocab.size,
      num_layers: 1,
      num_decoder_layers: 1,
      num_heads: 1,
      decoder_start_token_id: pad,
      pad_token_id: pad,
      eos_token_id: eos,
    },
    tokenizer: tokenizerJson,
    tokenizerConfig: { model_max_length: MAX_LENGTH, pad_token: PAD, eos_token: EOS, unk_token: UNK },
    generationConfig: {
      decoder_start_token_id: pad,
      pad_token_id: pad,
      eos_token_id: eos,
      max_length: MAX_LENGTH,
    },
    onnx: { 'encoder_model.onnx': encoder(vocab, tables), 'decoder_model_merged.onnx': decoder(vocab) },
  };
}

export const buildTranslation = (): ModelFolder =>
  folder('hubserve-test/tiny-t5-translate', 'translation', 'English -> French, word by word.', TRANSLATE);

export const buildSummarization = (): ModelFolder =>
  folder(
    'hubserve-test/tiny-t5-summarize',
    'summarization',
    'Keeps the names, places, dates and topics.',
    SUMMARIZE,
  );
