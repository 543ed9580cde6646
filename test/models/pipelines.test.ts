// Every generated model, loaded from disk by @huggingface/transformers exactly as a Hub download would
// be, answers with the behaviour its weights were built for.
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import {
  AutoModelForCausalLM,
  AutoModelForSequenceClassification,
  AutoTokenizer,
  env,
  pipeline,
  Tensor,
} from '@huggingface/transformers';
import { testModelPath } from '../../tools/testmodels/index.ts';
import { GENERATION_CORPUS } from '../../tools/testmodels/lexicon.ts';

env.allowRemoteModels = false;

const cosine = (a: number[] = [], b: number[] = []): number =>
  a.reduce((s, x, i) => s + x * (b[i] as number), 0);

describe('text-classification (tiny-sentiment)', () => {
  const path = testModelPath('hubserve-test/tiny-sentiment');

  it('decides sentiment from its lexicon, negations flipping it', async () => {
    const classify = await pipeline('text-classification', path);
    const results = await classify([
      'I love this wonderful film',
      'The service was terrible and the food was boring',
      'I do not like it',
      "I don't hate it",
    ]);
    assert.deepEqual(
      results.map((r) => r.label),
      ['POSITIVE', 'NEGATIVE', 'NEGATIVE', 'POSITIVE'],
    );
    assert.ok(
      results.every((r) => r.score > 0.9),
      JSON.stringify(results),
    );
  });

  it('dtype q8 loads onnx/model_quantized.onnx, and scores like fp32', async () => {
    // A copy without model.onnx: only the quantized file can answer, and fp32 must fail.
    const dir = mkdtempSync(join(tmpdir(), 'hubserve-q8-'));
    after(() => rmSync(dir, { recursive: true, force: true }));
    cpSync(path, dir, { recursive: true });
    rmSync(join(dir, 'onnx', 'model.onnx'));
    await assert.rejects(pipeline('text-classification', dir, { dtype: 'fp32' }), /onnx\/model\.onnx/);
    const quantized = await pipeline('text-classification', dir, { dtype: 'q8' });
    const full = await pipeline('text-classification', path, { dtype: 'fp32' });
    const text = 'What a great and friendly place, but the coffee was cold';
    const [q] = await quantized(text);
    const [f] = await full(text);
    assert.equal(q?.label, f?.label);
    assert.ok(Math.abs((q?.score ?? 0) - (f?.score ?? 1)) < 1e-3, `${q?.score} vs ${f?.score}`);
  });
});

describe('sentence-pair classification (tiny-nli)', () => {
  const path = testModelPath('hubserve-test/tiny-nli');

  it('says entailment, neutral or contradiction for a premise and hypothesis', async () => {
    const tokenizer = await AutoTokenizer.from_pretrained(path);
    const model = await AutoModelForSequenceClassification.from_pretrained(path);
    const premises = ['A man is playing football', 'A man is playing football', 'I cooked pasta for dinner'];
    const hypotheses = ['The team plays a sport', 'Nobody plays sports', 'The election was close'];
    const inputs = tokenizer(premises, { text_pair: hypotheses, padding: true });
    const { logits } = (await model(inputs)) as { logits: Tensor };
    const labels = (logits.tolist() as number[][]).map(
      (row) =>
        (model.config as unknown as { id2label: Record<number, string> }).id2label[
          row.indexOf(Math.max(...row))
        ],
    );
    assert.deepEqual(labels, ['entailment', 'contradiction', 'neutral']);
  });

  it('serves zero-shot classification through the hypothesis template', async () => {
    const classify = await pipeline('zero-shot-classification', path);
    const single = await classify('The team won the football match yesterday', [
      'politics',
      'sports',
      'food',
    ]);
    assert.equal(Array.isArray(single) ? undefined : single.labels[0], 'sports');
    const multi = await classify(
      'I had pizza at the airport before my flight',
      ['food', 'travel', 'finance'],
      {
        multi_label: true,
      },
    );
    assert.ok(!Array.isArray(multi), 'one input, one result');
    const score = Object.fromEntries(multi.labels.map((l, i) => [l, multi.scores[i] as number]));
    assert.ok((score.food ?? 0) > 0.9 && (score.travel ?? 0) > 0.9, JSON.stringify(score));
    assert.ok((score.finance ?? 1) < 0.1, JSON.stringify(score));
  });
});

describe('token-classification (tiny-ner)', () => {
  it('tags known names B-/I-PER, places LOC and organisations ORG', async () => {
    const ner = await pipeline('token-classification', testModelPath('hubserve-test/tiny-ner'));
    const tags = await ner('Alice Smith moved to Paris to work for Google');
    assert.deepEqual(
      (tags as { word: string; entity: string }[]).map(({ word, entity }) => `${word}:${entity}`),
      ['alice:B-PER', 'smith:I-PER', 'paris:B-LOC', 'google:B-ORG'],
    );
  });
});

describe('question-answering (tiny-qa)', () => {
  it('picks the span the question asks for', async () => {
    const qa = await pipeline('question-answering', testModelPath('hubserve-test/tiny-qa'));
    const context = 'Alice Smith moved to Paris in 2020 to work for Airbus.';
    const ask = async (q: string): Promise<string> => {
      const answer = await qa(q, context);
      return Array.isArray(answer) ? '' : answer.answer;
    };
    assert.equal(await ask('Where does Alice live?'), 'paris');
    assert.equal(await ask('Who moved to Paris?'), 'alice smith');
    assert.equal(await ask('When did she move?'), '2020');
    assert.equal(await ask('Which company does she work for?'), 'airbus');
  });
});

describe('feature-extraction (tiny-embeddings)', () => {
  it('puts related words and sentences close together', async () => {
    const embed = await pipeline('feature-extraction', testModelPath('hubserve-test/tiny-embeddings'));
    const texts = [
      'cat',
      'kitten',
      'bank',
      'A cat sits on the mat',
      'My puppy is a good pet',
      'The stock market fell',
    ];
    const output = await embed(texts, { pooling: 'mean', normalize: true });
    assert.deepEqual(output.dims, [texts.length, 32]);
    const [cat, kitten, bank, s1, s2, s3] = output.tolist() as number[][];
    const similarity = {
      'cat~kitten': cosine(cat, kitten),
      'cat~bank': cosine(cat, bank),
      'cat sentence~pet sentence': cosine(s1, s2),
      'cat sentence~market sentence': cosine(s1, s3),
    };
    const seen = JSON.stringify(similarity);
    assert.ok(similarity['cat~kitten'] > similarity['cat~bank'] + 0.3, seen);
    assert.ok(
      similarity['cat sentence~pet sentence'] > similarity['cat sentence~market sentence'] + 0.3,
      seen,
    );
    assert.ok(Math.abs(cosine(s1, s1) - 1) < 1e-5, 'embeddings are normalized');
  });
});

describe('fill-mask (tiny-fill-mask)', () => {
  it('fills the mask from the neighbouring words', async () => {
    const fill = await pipeline('fill-mask', testModelPath('hubserve-test/tiny-fill-mask'));
    const [coffee] = await fill('I drink [MASK] every morning.');
    const [dog] = await fill('The [MASK] barked loudly.');
    assert.equal(coffee?.token_str, 'coffee');
    assert.equal(dog?.token_str, 'dog');
    assert.ok((coffee?.score ?? 0) > 0.5, `coffee scored ${coffee?.score}`);
  });
});

describe('text-generation (tiny-gpt2)', () => {
  const path = testModelPath('hubserve-test/tiny-gpt2');

  it('tokenizes its corpus words as single byte-level BPE tokens and round-trips text', async () => {
    const tokenizer = await AutoTokenizer.from_pretrained(path);
    for (const sentence of GENERATION_CORPUS) {
      const ids = tokenizer.encode(sentence);
      assert.equal(ids.length, sentence.match(/ ?\p{L}+| ?[^\s\p{L}]+/gu)?.length, sentence);
      assert.equal(tokenizer.decode(ids), sentence);
    }
    assert.equal(tokenizer.decode(tokenizer.encode('héllo wörld ✓')), 'héllo wörld ✓');
  });

  it('continues deterministically, batched with left padding too', async () => {
    const generate = await pipeline('text-generation', path);
    const [single] = (await generate('Once upon a', { max_new_tokens: 30 })) as { generated_text: string }[];
    assert.equal(single?.generated_text, GENERATION_CORPUS[0]);
    const batch = (await generate(['The quick brown', 'Hello, my name'], { max_new_tokens: 30 })) as {
      generated_text: string;
    }[][];
    assert.deepEqual(
      batch.map((b) => b[0]?.generated_text),
      [GENERATION_CORPUS[1], GENERATION_CORPUS[2]],
    );
  });

  it('needs its KV cache: the cache carries what the last token alone does not', async () => {
    const tokenizer = await AutoTokenizer.from_pretrained(path);
    const model = await AutoModelForCausalLM.from_pretrained(path);
    const eos = tokenizer.eos_token_id as number;
    const greedyNext = (logits: Tensor): number => {
      const last = logits.slice(null, -1, null).data as Float32Array;
      return last.indexOf(Math.max(...last));
    };
    const int64 = (values: number[]): Tensor =>
      new Tensor('int64', BigInt64Array.from(values.map(BigInt)), [1, values.length]);
    const { n_embd: headDim } = model.config as unknown as { n_embd: number };
    const emptyCache = (): Record<string, Tensor> => ({
      'past_key_values.0.key': new Tensor('float32', new Float32Array(0), [1, 1, 0, headDim]),
      'past_key_values.0.value': new Tensor('float32', new Float32Array(0), [1, 1, 0, headDim]),
    });
    // Without a cache, recomputing the whole sequence each step, the model must still be right...
    const recompute = async (prompt: string, feedOnlyLast: boolean): Promise<string> => {
      const ids = tokenizer.encode(prompt);
      for (let step = 0; step < 12; step++) {
        const input = feedOnlyLast && step > 0 ? ids.slice(-1) : ids;
        const offset = ids.length - input.length;
        const { logits } = (await model.forward({
          input_ids: int64(input),
          attention_mask: int64(input.map(() => 1)),
          position_ids: int64(input.map((_, i) => offset + i)),
          ...emptyCache(),
        })) as { logits: Tensor };
        const next = greedyNext(logits);
        if (next === eos) break;
        ids.push(next);
      }
      return tokenizer.decode(ids);
    };
    assert.equal(await recompute('Once upon a', false), GENERATION_CORPUS[0]);
    // ...and feeding only the last token with an empty cache (a decoder without KV cache) goes wrong.
    assert.notEqual(await recompute('Once upon a', true), GENERATION_CORPUS[0]);
  });
});

describe('text2text (tiny-t5-translate, tiny-t5-summarize)', () => {
  it('translates word by word with an encoder and a merged decoder', async () => {
    const translate = await pipeline('translation', testModelPath('hubserve-test/tiny-t5-translate'));
    const outputs = (await translate([
      'The cat drinks water',
      'hello world',
      'my friend has a xylophone',
    ])) as {
      translation_text: string;
    }[];
    assert.deepEqual(
      outputs.map((o) => o.translation_text),
      ['le chat boit eau', 'bonjour monde', 'mon ami has un xylophone'],
    );
  });

  it('summarizes by keeping names, places, dates and topics', async () => {
    const summarize = await pipeline('summarization', testModelPath('hubserve-test/tiny-t5-summarize'));
    const [summary] = (await summarize(
      'Yesterday Alice Smith flew from London to Paris for a football match with her team.',
    )) as { summary_text: string }[];
    assert.equal(summary?.summary_text, 'Yesterday Alice Smith London Paris football match team');
  });
});
