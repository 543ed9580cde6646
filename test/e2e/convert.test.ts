// Checkpoint repos (no ONNX, a slow tokenizer or a tokenizer.json) served through the real HTTP path:
// converted at load, each task's answer checked against what PyTorch computed for the same ids
// (tools/fixtures/encoders.py), the conversion cached for the next start, and a hostile checkpoint
// refused while the other models keep serving.
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  checkpointRepo,
  fixtureRepo,
  reference,
  rowOf,
  softmax,
  tempFolder,
  textOf,
  word,
} from '../support/checkpoints.ts';
import type { ModelConfigEntry } from '../../src/config/schema.ts';
import { serve, type TestServer } from '../support/server.ts';

/** PyTorch's outputs against ours: float32 differences, and the answers' rounding to 1e-6. */
const TOLERANCE = 1e-4;
const BERT = { 0: '[PAD]', 1: '[UNK]', 2: '[CLS]', 3: '[SEP]', 4: '[MASK]' };
const BERT_IDS = new Set([0, 1, 2, 3, 4]);
const ROBERTA = { 0: '<s>', 1: '<pad>', 2: '</s>', 3: '<unk>', 4: '<mask>' };
const MARKER = '/tmp/hubserve-pwned-marker';

const close = (actual: number, expected: number, what: string): void =>
  assert.ok(Math.abs(actual - expected) <= TOLERANCE, `${what}: ${actual} vs PyTorch ${expected}`);

const convertedDir = tempFolder('hubserve-converted-');
const repos = {
  sentiment: checkpointRepo('bert-sequence-classification', { specials: BERT, tokenizer: 'vocab.txt' }),
  toxic: checkpointRepo('bert-multi-label', {
    specials: BERT,
    tokenizer: 'vocab.txt',
    tokenizerConfig: { do_lower_case: true, model_max_length: 40, tokenizer_class: 'BertTokenizer' },
  }),
  ner: checkpointRepo('bert-token-classification', { specials: BERT, tokenizer: 'vocab.txt' }),
  qa: checkpointRepo('bert-question-answering', { specials: BERT, tokenizer: 'vocab.txt' }),
  rerank: checkpointRepo('bert-cross-encoder', { specials: BERT, tokenizer: 'vocab.txt' }),
  // Token 45 is the mask here, so that "w17 [MASK] ..." runs the ids PyTorch ran.
  mask: checkpointRepo('bert-masked-lm', {
    specials: { ...BERT, 4: word(4), 45: '[MASK]' },
    tokenizer: 'vocab.txt',
  }),
  embed: checkpointRepo('sentence-transformers-mean', { specials: BERT, tokenizer: 'vocab.txt' }),
  roberta: checkpointRepo('roberta-sequence-classification', {
    specials: ROBERTA,
    tokenizer: 'tokenizer.json',
    tokenizerConfig: {
      tokenizer_class: 'RobertaTokenizer',
      model_max_length: 38,
      ...Object.fromEntries(
        ['bos', 'pad', 'eos', 'unk', 'mask'].map((k, i) => [`${k}_token`, Object.values(ROBERTA)[i]]),
      ),
    },
  }),
  pwned: checkpointRepo('bert-legacy-bin', { specials: BERT, tokenizer: 'vocab.txt' }),
  // GPT-2 repos as save_pretrained writes them: vocab.json + merges.txt, no tokenizer.json.
  gpt2: fixtureRepo('gpt2-lm'),
  'gpt2-bin': fixtureRepo('gpt2-lm-legacy-bin'),
  llama: fixtureRepo('llama-lm'),
  qwen2: fixtureRepo('qwen2-lm'),
  mistral: fixtureRepo('mistral-lm'),
  // Seq2seq repos with only spiece.model (T5) or vocab.json + merges.txt (BART).
  t5: fixtureRepo('t5-seq2seq-bin'),
  't5-v1_1': fixtureRepo('t5-v1_1-seq2seq'),
  bart: fixtureRepo('bart-seq2seq'),
};
const TASKS: Record<string, NonNullable<ModelConfigEntry['task']>> = {
  t5: 'summarization',
  't5-v1_1': 'translation',
  bart: 'summarization',
};
// The .bin of this one is replaced by a pickle that would run a command.
copyFileSync(
  new URL('../fixtures/checkpoints/unsafe-global.bin', import.meta.url).pathname,
  join(repos.pwned, 'pytorch_model.bin'),
);

const row0 = (fixture: string, specials = BERT_IDS): string =>
  textOf(reference(fixture).inputs['input_ids']?.[0] ?? [], specials);

let server: TestServer;
before(async () => {
  server = await serve(
    Object.entries(repos).map(([name, source]) => ({
      name,
      source,
      ...(TASKS[name] ? { task: TASKS[name] } : {}),
    })),
    { hub: { convertedDir } },
  );
});
after(() => server.close());

const ok = async (name: string, body: unknown): Promise<unknown> => {
  const response = await server.post(`/models/${name}`, body);
  assert.equal(response.status, 200, JSON.stringify(response.body));
  return response.body;
};

interface Scored {
  label: string;
  score: number;
}

describe('checkpoint repos served over HTTP', () => {
  it('text-classification: softmax of the logits PyTorch computed, from a vocab.txt alone', async () => {
    const logits = reference('bert-sequence-classification').outputs['logits'];
    assert.ok(logits);
    const expected = softmax(rowOf(logits, 0));
    const [scores] = (await ok('sentiment', {
      inputs: row0('bert-sequence-classification'),
      parameters: { top_k: 3 },
    })) as Scored[][];
    for (const [i, label] of ['negative', 'neutral', 'positive'].entries()) {
      close(scores?.find((s) => s.label === label)?.score ?? NaN, expected[i] ?? NaN, label);
    }
  });

  it('text-classification, multi-label: a sigmoid per label (problem_type)', async () => {
    const logits = reference('bert-multi-label').outputs['logits'];
    assert.ok(logits);
    const [scores] = (await ok('toxic', {
      inputs: [row0('bert-multi-label')],
      parameters: { top_k: 4 },
    })) as Scored[][];
    for (const [i, label] of ['toxic', 'obscene', 'threat', 'insult'].entries()) {
      const sigmoid = 1 / (1 + Math.exp(-(rowOf(logits, 0)[i] ?? NaN)));
      close(scores?.find((s) => s.label === label)?.score ?? NaN, sigmoid, label);
    }
  });

  it("text-classification: RoBERTa with the repo's own tokenizer.json, batched with padding", async () => {
    const logits = reference('roberta-sequence-classification').outputs['logits'];
    assert.ok(logits);
    const text = row0('roberta-sequence-classification', new Set([0, 1, 2, 3, 4]));
    const answers = (await ok('roberta', {
      inputs: [text, 'w5'],
      parameters: { top_k: 2 },
    })) as Scored[][];
    const expected = softmax(rowOf(logits, 0));
    close(answers[0]?.find((s) => s.label === 'POSITIVE')?.score ?? NaN, expected[1] ?? NaN, 'POSITIVE');
  });

  it('token-classification: the label PyTorch scores highest on each word, with offsets', async () => {
    const logits = reference('bert-token-classification').outputs['logits'];
    assert.ok(logits);
    const ids = reference('bert-token-classification').inputs['input_ids']?.[0] ?? [];
    const text = row0('bert-token-classification');
    const labels = ['O', 'B-PER', 'I-PER', 'B-LOC', 'I-LOC'];
    const expected = [];
    let at = 0;
    for (let t = 1; t < ids.length - 1; t++) {
      const probs = softmax(rowOf(logits, 0, t));
      const best = probs.indexOf(Math.max(...probs));
      const name = word(ids[t] ?? 0);
      const start = text.indexOf(name, at);
      at = start + name.length;
      if (labels[best] !== 'O')
        expected.push({ entity_group: labels[best], word: name, start, end: at, p: probs[best] });
    }
    const entities = (await ok('ner', {
      inputs: text,
      parameters: { aggregation_strategy: 'none' },
    })) as { entity_group: string; word: string; start: number; end: number; score: number }[];
    assert.deepEqual(
      entities.map(({ entity_group, word, start, end }) => ({ entity_group, word, start, end })),
      expected.map(({ entity_group, word, start, end }) => ({ entity_group, word, start, end })),
    );
    for (const [i, e] of entities.entries()) close(e.score, expected[i]?.p ?? NaN, e.word);
  });

  it("question-answering: the span PyTorch's start/end logits pick in the context", async () => {
    const { inputs, outputs } = reference('bert-question-answering');
    const start = rowOf(outputs['start_logits'] ?? { dims: [], data: [] }, 1);
    const end = rowOf(outputs['end_logits'] ?? { dims: [], data: [] }, 1);
    // Row 1 is [CLS] w11 w29 [SEP] w40 w66 [SEP]: the context is tokens 4 and 5.
    assert.deepEqual(inputs['input_ids']?.[1]?.slice(0, 7), [2, 11, 29, 3, 40, 66, 3]);
    const spans = [
      [4, 4, 'w40'],
      [5, 5, 'w66'],
      [4, 5, 'w40 w66'],
    ] as const;
    const best = spans.reduce((a, b) =>
      (start[b[0]] ?? 0) + (end[b[1]] ?? 0) > (start[a[0]] ?? 0) + (end[a[1]] ?? 0) ? b : a,
    );
    const answer = (await ok('qa', { inputs: { question: 'w11 w29', context: 'w40 w66' } })) as {
      answer: string;
      start: number;
      end: number;
    };
    assert.equal(answer.answer, best[2]);
    assert.equal('w40 w66'.slice(answer.start, answer.end), best[2]);
  });

  it("text-ranking: a one-logit cross-encoder scores each pair with the sigmoid of PyTorch's logit", async () => {
    const { inputs, outputs } = reference('bert-cross-encoder');
    // Row 1 is the pair [CLS] w11 w29 [SEP] w40 w66 [SEP]; row 0, with no pair, is not a ranking input.
    assert.deepEqual(inputs['input_ids']?.[1]?.slice(0, 7), [2, 11, 29, 3, 40, 66, 3]);
    const logit = rowOf(outputs['logits'] ?? { dims: [], data: [] }, 1)[0] ?? NaN;
    const ranked = (await ok('rerank', { inputs: { query: 'w11 w29', texts: ['w40 w66'] } })) as {
      index: number;
      score: number;
    }[];
    close(ranked[0]?.score ?? NaN, 1 / (1 + Math.exp(-logit)), 'relevance');
  });

  it('fill-mask: the five tokens PyTorch ranks highest at the mask, with their probabilities', async () => {
    const logits = reference('bert-masked-lm').outputs['logits'];
    assert.ok(logits);
    const probs = softmax(rowOf(logits, 0, 2));
    const ranked = probs
      .map((p, id) => ({ p, id }))
      .sort((a, b) => b.p - a.p)
      .slice(0, 5);
    const names = (id: number): string =>
      id === 45 ? '[MASK]' : ((BERT as Record<number, string>)[id] ?? word(id));
    const predictions = (await ok('mask', { inputs: 'w17 [MASK] w8 w63 w21 w77 w50' })) as {
      token: number;
      token_str: string;
      score: number;
    }[];
    assert.deepEqual(
      predictions.map((p) => p.token),
      ranked.map((r) => r.id),
    );
    for (const [i, p] of predictions.entries()) {
      assert.equal(p.token_str, names(ranked[i]?.id ?? -1));
      close(p.score, ranked[i]?.p ?? NaN, p.token_str);
    }
  });

  it('feature-extraction: the sentence-transformers pipeline (mean, Normalize) as PyTorch ran it', async () => {
    const embedding = reference('sentence-transformers-mean').outputs['sentence_embedding'];
    assert.ok(embedding);
    const expected = rowOf(embedding, 0);
    // Batched with a shorter text: padding must not move the vector.
    const text = row0('sentence-transformers-mean');
    const [vector, other] = (await ok('embed', { inputs: [text, 'w7'] })) as number[][];
    assert.equal(vector?.length, expected.length);
    for (const [i, x] of (vector ?? []).entries()) close(x, expected[i] ?? NaN, `dimension ${i}`);
    // sentence-similarity: cosines of the same embeddings.
    const similarity = (await ok('embed', {
      inputs: { source_sentence: text, sentences: [text, 'w7'] },
    })) as number[];
    close(similarity[0] ?? NaN, 1, 'itself');
    const cosine = (vector ?? []).reduce((sum, x, i) => sum + x * (other?.[i] ?? NaN), 0);
    close(similarity[1] ?? NaN, cosine, 'the other');
  });

  for (const [name, fixture] of [
    ['gpt2', 'gpt2-lm'],
    ['gpt2-bin', 'gpt2-lm-legacy-bin'],
    ['llama', 'llama-lm'],
    ['qwen2', 'qwen2-lm'],
    ['mistral', 'mistral-lm'],
  ] as const) {
    it(`text-generation (${fixture}): greedy tokens PyTorch chose, with the KV cache, streamed and whole`, async () => {
      const { greedy } = JSON.parse(
        readFileSync(new URL(`../fixtures/convert/${fixture}/reference.json`, import.meta.url), 'utf8'),
      ) as { greedy: { max_new_tokens: number; tokens: number[]; text: string } };
      const body = { inputs: 'Hello world!', parameters: { max_new_tokens: greedy.max_new_tokens } };
      const response = await fetch(`${server.url}/models/${name}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ ...body, stream: true }),
      });
      assert.equal(response.status, 200);
      const tokens = (await response.text())
        .split('\n\n')
        .filter((e) => e.startsWith('data:'))
        .map((e) => JSON.parse(e.slice('data:'.length)) as { token: { id: number; special: boolean } })
        .filter((e) => !e.token.special)
        .map((e) => e.token.id);
      assert.deepEqual(tokens, greedy.tokens, 'token by token, as PyTorch generated them');
      const [whole] = (await ok(name, body)) as { generated_text: string }[];
      assert.equal(whole?.generated_text, greedy.text);
    });
  }

  for (const [name, fixture, key] of [
    ['t5', 't5-seq2seq-bin', 'summary_text'],
    ['t5-v1_1', 't5-v1_1-seq2seq', 'translation_text'],
    ['bart', 'bart-seq2seq', 'summary_text'],
  ] as const) {
    it(`${TASKS[name]} (${fixture}): the text of the greedy tokens PyTorch chose, encoder + cached decoder`, async () => {
      const { greedy } = JSON.parse(
        readFileSync(new URL(`../fixtures/convert/${fixture}/reference.json`, import.meta.url), 'utf8'),
      ) as { greedy: { text: string; max_new_tokens: number; output: string } };
      const body = { inputs: greedy.text, parameters: { max_new_tokens: greedy.max_new_tokens } };
      const answer = (await ok(name, body)) as Record<string, string>[];
      assert.equal(answer[0]?.[key], greedy.output);
      // A batch of two pads the shorter prompt; the first still gets PyTorch's text.
      const batch = (await ok(name, { ...body, inputs: [greedy.text, 'Bonjour'] })) as Record<
        string,
        string
      >[];
      assert.equal(batch[0]?.[key], greedy.output);
    });
  }

  it("/v1/chat/completions: the chat template's prompt, answered with PyTorch's greedy tokens (qwen2)", async () => {
    const { chat } = JSON.parse(
      readFileSync(new URL('../fixtures/convert/qwen2-lm/reference.json', import.meta.url), 'utf8'),
    ) as { chat: { messages: unknown[]; max_new_tokens: number; text: string } };
    const response = await server.post('/v1/chat/completions', {
      model: 'qwen2',
      messages: chat.messages,
      max_tokens: chat.max_new_tokens,
      temperature: 0,
    });
    assert.equal(response.status, 200, JSON.stringify(response.body));
    const { choices } = response.body as { choices: { message: { content: string } }[] };
    assert.equal(choices[0]?.message.content, chat.text);
  });

  it('GET /models says the weights were converted, and from what', async () => {
    const response = await fetch(`${server.url}/models`);
    const { models } = (await response.json()) as {
      models: { name: string; state: string; weights?: string; conversion?: Record<string, unknown> }[];
    };
    const sentiment = models.find((m) => m.name === 'sentiment');
    assert.equal(sentiment?.weights, 'checkpoint');
    assert.equal(sentiment?.conversion?.['checkpoint'], 'safetensors');
    assert.equal(sentiment?.conversion?.['tokenizer'], 'converted');
    assert.equal(sentiment?.conversion?.['cached'], false);
    assert.equal(typeof sentiment?.conversion?.['ms'], 'number');
    assert.equal(models.find((m) => m.name === 'roberta')?.conversion?.['tokenizer'], 'copied');
  });

  it('refuses a checkpoint whose pickle would run a command, and keeps serving the others', async () => {
    const response = await fetch(`${server.url}/models`);
    const { models } = (await response.json()) as {
      models: { name: string; state: string; error?: { code: string; message: string } }[];
    };
    const pwned = models.find((m) => m.name === 'pwned');
    assert.equal(pwned?.state, 'failed');
    assert.equal(pwned?.error?.code, 'unsafe_checkpoint', pwned?.error?.message);
    assert.equal(existsSync(MARKER), false, 'the pickle never ran');
    const refused = await server.post('/models/pwned', { inputs: 'w5' });
    assert.equal(refused.status, 503);
    await ok('sentiment', { inputs: 'w5 w6' });
  });

  it('a second start loads the cached conversion', async () => {
    const again = await serve([{ name: 'sentiment', source: repos.sentiment }], { hub: { convertedDir } });
    try {
      const response = await fetch(`${again.url}/models`);
      const { models } = (await response.json()) as { models: { conversion?: Record<string, unknown> }[] };
      assert.equal(models[0]?.conversion?.['cached'], true);
      const logits = reference('bert-sequence-classification').outputs['logits'];
      assert.ok(logits);
      const [scores] = (await (
        await again.post('/models/sentiment', {
          inputs: row0('bert-sequence-classification'),
          parameters: { top_k: 3 },
        })
      ).body) as Scored[][];
      close(
        scores?.find((s) => s.label === 'positive')?.score ?? NaN,
        softmax(rowOf(logits, 0))[2] ?? NaN,
        'positive',
      );
    } finally {
      await again.close();
    }
  });
});
