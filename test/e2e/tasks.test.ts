// Every task through POST /models/{name} on a real server, and through the official
// @huggingface/inference client pointed at it.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { InferenceClient } from '@huggingface/inference';
import { serve, type TestServer, tiny } from '../support/server.ts';

let server: TestServer;
let client: (name: string) => InferenceClient;

before(async () => {
  server = await serve([
    tiny('sentiment', 'hubserve-test/tiny-sentiment'),
    tiny('nli', 'hubserve-test/tiny-nli'),
    tiny('ner', 'hubserve-test/tiny-ner'),
    tiny('qa', 'hubserve-test/tiny-qa'),
    tiny('embeddings', 'hubserve-test/tiny-embeddings'),
    tiny('fill-mask', 'hubserve-test/tiny-fill-mask'),
    tiny('gpt2', 'hubserve-test/tiny-gpt2'),
    tiny('translate', 'hubserve-test/tiny-t5-translate', { task: 'translation' }),
    tiny('summarize', 'hubserve-test/tiny-t5-summarize', { task: 'summarization' }),
    tiny('text2text', 'hubserve-test/tiny-t5-translate'),
  ]);
  client = (name) => new InferenceClient(undefined, { endpointUrl: `${server.url}/models/${name}` });
});
after(() => server.close());

const ok = async (name: string, body: unknown): Promise<unknown> => {
  const response = await server.post(`/models/${name}`, body);
  assert.equal(response.status, 200, JSON.stringify(response.body));
  return response.body;
};

describe('POST /models/{name}', () => {
  it('text-classification: single, batched, top_k, and sentence pairs', async () => {
    assert.deepEqual(
      ((await ok('sentiment', { inputs: 'I love this wonderful film' })) as { label: string }[][]).map(
        (r) => r[0]?.label,
      ),
      ['POSITIVE'],
    );
    const batch = (await ok('sentiment', {
      inputs: ['The food was terrible', 'What a great team'],
      parameters: { top_k: 1 },
    })) as { label: string; score: number }[][];
    assert.deepEqual(
      batch.map((r) => r.map((x) => x.label)),
      [['NEGATIVE'], ['POSITIVE']],
    );
    const pair = (await ok('nli', {
      inputs: { text: 'A man is playing football', text_pair: 'Nobody plays sports' },
    })) as { label: string }[][];
    assert.equal(pair[0]?.[0]?.label, 'contradiction');
  });

  it('token-classification: entities with character offsets into the input', async () => {
    const text = 'Yesterday Alice Smith moved to Paris to work for Google.';
    const entities = (await ok('ner', { inputs: text })) as {
      entity_group: string;
      word: string;
      start: number;
      end: number;
    }[];
    assert.deepEqual(
      entities.map((e) => [e.entity_group, e.word, text.slice(e.start, e.end)]),
      [
        ['PER', 'Alice Smith', 'Alice Smith'],
        ['LOC', 'Paris', 'Paris'],
        ['ORG', 'Google', 'Google'],
      ],
    );
    const tokens = (await ok('ner', { inputs: text, parameters: { aggregation_strategy: 'none' } })) as {
      entity_group: string;
    }[];
    assert.deepEqual(
      tokens.map((t) => t.entity_group),
      ['B-PER', 'I-PER', 'B-LOC', 'B-ORG'],
    );
  });

  it('question-answering: the span and its offsets, also from a context longer than the model takes', async () => {
    const context = 'Alice Smith lives in Paris since 2020.';
    const answer = (await ok('qa', { inputs: { question: 'Where does Alice live?', context } })) as {
      answer: string;
      start: number;
      end: number;
    };
    assert.equal(answer.answer, 'Paris');
    assert.equal(context.slice(answer.start, answer.end), 'Paris');
    const filler = 'The weather was mild and people were walking in the streets. '.repeat(30);
    const long = `${filler}Alice Smith moved to Tokyo in 2020. ${filler}`;
    const far = (await ok('qa', { inputs: { question: 'Where did Alice move?', context: long } })) as {
      answer: string;
      start: number;
    };
    assert.equal(far.answer, 'Tokyo');
    assert.equal(far.start, long.indexOf('Tokyo'));
  });

  it('zero-shot-classification: labels chosen at request time', async () => {
    const result = (await ok('nli', {
      inputs: 'The team won the football match',
      parameters: { candidate_labels: ['politics', 'sports', 'food'] },
    })) as { labels: string[]; scores: number[] };
    assert.equal(result.labels[0], 'sports');
    const multi = (await ok('nli', {
      inputs: 'Pizza at the airport before my flight',
      parameters: { candidate_labels: 'food, travel, finance', multi_label: true },
    })) as { labels: string[]; scores: number[] };
    assert.deepEqual(multi.labels.slice(0, 2).sort(), ['food', 'travel']);
    assert.ok((multi.scores[2] ?? 1) < 0.1, JSON.stringify(multi));
  });

  it('fill-mask, feature-extraction and sentence-similarity', async () => {
    const fills = (await ok('fill-mask', { inputs: 'I drink [MASK] every morning.' })) as {
      token_str: string;
    }[];
    assert.equal(fills[0]?.token_str, 'coffee');
    assert.equal(fills.length, 5);
    const vector = (await ok('embeddings', { inputs: 'A cat sits on the mat' })) as number[];
    assert.equal(vector.length, 32);
    assert.ok(Math.abs(Math.hypot(...vector) - 1) < 1e-4, 'normalized by default');
    const similarity = (await ok('embeddings', {
      inputs: {
        source_sentence: 'A cat sits on the mat',
        sentences: ['My kitten is a good pet', 'Stocks fell'],
      },
    })) as number[];
    assert.ok((similarity[0] ?? 0) > (similarity[1] ?? 1) + 0.3, JSON.stringify(similarity));
  });

  it('text-ranking: a cross-encoder reranks texts for a query', async () => {
    const ranked = (await ok('nli', {
      inputs: {
        query: 'football',
        texts: ['Stocks fell sharply', 'The team won the match', 'I baked bread'],
      },
      parameters: { return_text: true },
    })) as { index: number; text: string }[];
    assert.equal(ranked[0]?.index, 1);
    assert.equal(ranked[0]?.text, 'The team won the match');
  });

  it('text-generation: continuation, stop sequences, details, full text, chat', async () => {
    const [continued] = (await ok('gpt2', { inputs: 'Once upon a', parameters: { max_new_tokens: 30 } })) as {
      generated_text: string;
    }[];
    assert.equal(continued?.generated_text, ' time there was a little fox who lived in a forest.');
    const [stopped] = (await ok('gpt2', {
      inputs: 'Once upon a',
      parameters: { stop: [' fox'], details: true, return_full_text: true },
    })) as { generated_text: string; details: { finish_reason: string } }[];
    assert.equal(stopped?.generated_text, 'Once upon a time there was a little');
    assert.equal(stopped?.details.finish_reason, 'stop_sequence');
    const [limited] = (await ok('gpt2', {
      inputs: 'Once upon a',
      parameters: { max_new_tokens: 2, details: true },
    })) as {
      details: { finish_reason: string; generated_tokens: number };
    }[];
    assert.deepEqual(limited?.details, { finish_reason: 'length', generated_tokens: 2 });
    const [chat] = (await ok('gpt2', { inputs: [{ role: 'user', content: 'The quick brown' }] })) as {
      generated_text: string;
    }[];
    assert.equal(chat?.generated_text, ' fox jumps over the lazy dog.');
  });

  it('text-generation: prompt + max_new_tokens must fit the model, unless truncate keeps the end', async () => {
    const over = await server.post('/models/gpt2', {
      inputs: 'Once upon a',
      parameters: { max_new_tokens: 255 },
    });
    assert.equal(over.status, 422, JSON.stringify(over.body));
    assert.deepEqual(
      [
        (over.body as { error: { code: string; max_new_tokens: number } }).error.code,
        (over.body as { error: { max_new_tokens: number } }).error.max_new_tokens,
      ],
      ['input_too_long', 255],
    );
    const kept = await server.post('/models/gpt2', {
      inputs: 'Once upon a',
      parameters: { max_new_tokens: 254, truncate: true, details: true },
    });
    assert.equal(kept.status, 200, JSON.stringify(kept.body));
    // Two tokens of room: the prompt keeps its end ("upon a") and the continuation still fits.
    assert.match((kept.body as { generated_text: string }[])[0]?.generated_text ?? '', /^ time there was/);
  });

  it('text-generation: concurrent prompts generate in one batch, each as it would alone', async () => {
    // Of one length: the scheduler merges prompts of similar lengths only (max_length_ratio).
    const prompts = ['Once upon a', 'fox fox fox', 'The quick b', 'Hello world'];
    const body = (inputs: string) => ({ inputs, parameters: { max_new_tokens: 12 } });
    const alone: unknown[] = [];
    for (const p of prompts) alone.push(await ok('gpt2', body(p)));
    const counts = async (): Promise<{ batches: number; batched_inputs: number }> =>
      (
        (await (await fetch(`${server.url}/models/gpt2`)).json()) as {
          queue: { batches: number; batched_inputs: number };
        }
      ).queue;
    const before = await counts();
    const together = await Promise.all(prompts.map((p) => ok('gpt2', body(p))));
    const after = await counts();
    assert.deepEqual(together, alone, 'left-padded in a batch, each answer is its own');
    assert.equal(after.batched_inputs - before.batched_inputs, prompts.length);
    assert.ok(after.batches - before.batches < prompts.length, `${after.batches - before.batches} batches`);
    const chat = await ok('gpt2', { inputs: [{ role: 'user', content: 'The quick brown' }] });
    assert.ok(Array.isArray(chat), 'a chat still runs as one conversation');
  });

  it('text-generation: a seed makes sampling reproducible', async () => {
    const sample = async (seed: number): Promise<string> => {
      const [out] = (await ok('gpt2', {
        inputs: 'Once upon a',
        parameters: { temperature: 50, max_new_tokens: 6, seed },
      })) as { generated_text: string }[];
      return out?.generated_text ?? '';
    };
    assert.equal(await sample(7), await sample(7));
    const distinct = new Set(await Promise.all([1, 2, 3, 4, 5].map(sample)));
    assert.ok(distinct.size >= 3, `hot sampling with different seeds gave ${[...distinct].join(' | ')}`);
  });

  it('summarization, translation and text2text-generation', async () => {
    assert.deepEqual(await ok('translate', { inputs: 'The cat drinks water' }), [
      { translation_text: 'le chat boit eau' },
    ]);
    assert.deepEqual(
      await ok('summarize', { inputs: 'Alice Smith flew from London to Paris for a football match.' }),
      [{ summary_text: 'Alice Smith London Paris football match' }],
    );
    assert.deepEqual(await ok('text2text', { inputs: ['hello world'] }), [
      { generated_text: 'bonjour monde' },
    ]);
  });

  it('split: "sentence" answers sentence by sentence, offsets into the whole text', async () => {
    const text = 'I love this place. The service was terrible!';
    const sentences = (await ok('sentiment', { inputs: text, parameters: { split: 'sentence' } })) as {
      text: string;
      start: number;
      end: number;
      result: { label: string }[];
    }[];
    assert.deepEqual(
      sentences.map((s) => [s.text, text.slice(s.start, s.end), s.result[0]?.label]),
      [
        ['I love this place.', 'I love this place.', 'POSITIVE'],
        ['The service was terrible!', 'The service was terrible!', 'NEGATIVE'],
      ],
    );
    const entities = (await ok('ner', {
      inputs: 'Alice lives here. Bob moved to London.',
      parameters: { split: 'sentence' },
    })) as { result: { word: string; start: number }[] }[];
    assert.deepEqual(
      entities.flatMap((s) => s.result.map((e) => [e.word, e.start])),
      [
        ['Alice', 0],
        ['Bob', 18],
        ['London', 31],
      ],
    );
    // Abbreviations, titles and ordinals do not end a sentence (parameters.language picks the rules).
    const german = 'Ich war mit Dr. Müller am 3. Oktober dort. Das Essen war toll!';
    const parts = (await ok('sentiment', {
      inputs: german,
      parameters: { split: 'sentence', language: 'de' },
    })) as { text: string; start: number; end: number }[];
    assert.deepEqual(
      parts.map((s) => [s.text, german.slice(s.start, s.end)]),
      [
        ['Ich war mit Dr. Müller am 3. Oktober dort.', 'Ich war mit Dr. Müller am 3. Oktober dort.'],
        ['Das Essen war toll!', 'Das Essen war toll!'],
      ],
    );
  });
});

describe('@huggingface/inference InferenceClient with endpointUrl', () => {
  it('works for every task it covers', async () => {
    const [label] = await client('sentiment').textClassification({ inputs: 'I love this wonderful film' });
    assert.equal(label?.label, 'POSITIVE');
    const entities = await client('ner').tokenClassification({ inputs: 'Alice Smith moved to Paris' });
    assert.deepEqual(
      entities.map((e) => e.entity_group),
      ['PER', 'LOC'],
    );
    const answer = await client('qa').questionAnswering({
      inputs: { question: 'When did Alice move?', context: 'Alice moved to Paris in 2020.' },
    });
    assert.equal(answer.answer, '2020');
    const zeroShot = await client('nli').zeroShotClassification({
      inputs: 'I had pizza for dinner',
      parameters: { candidate_labels: ['sports', 'food'] },
    });
    assert.equal(zeroShot[0]?.label, 'food');
    const [fill] = await client('fill-mask').fillMask({ inputs: 'The [MASK] barked loudly.' });
    assert.equal(fill?.token_str, 'dog');
    const vector = await client('embeddings').featureExtraction({ inputs: 'A cat sits on the mat' });
    assert.equal(vector.length, 32);
    const similarity = await client('embeddings').sentenceSimilarity({
      inputs: { source_sentence: 'a cat', sentences: ['a kitten', 'the stock market'] },
    });
    assert.ok((similarity[0] ?? 0) > (similarity[1] ?? 1), JSON.stringify(similarity));
    const summary = await client('summarize').summarization({
      inputs: 'Alice Smith flew from London to Paris.',
    });
    assert.equal(summary.summary_text, 'Alice Smith London Paris');
    const translation = await client('translate').translation({ inputs: 'hello world' });
    assert.deepEqual(translation, { translation_text: 'bonjour monde' });
  });
});

describe('OpenAPI and Swagger UI', () => {
  it('documents every task with its schema and an example that works on the demo models', async () => {
    const doc = (await (await fetch(`${server.url}/openapi.json`)).json()) as {
      components: {
        schemas: Record<
          string,
          { example?: { inputs: unknown; parameters?: unknown }; properties?: Record<string, unknown> }
        >;
      };
      paths: Record<string, { post?: unknown; get?: unknown }>;
    };
    assert.ok(doc.paths['/models/{name}']?.post, 'POST /models/{name} documented');
    assert.ok(doc.paths['/ready']?.get, 'GET /ready documented');
    const demo: Record<string, string> = {
      'text-classification': 'sentiment',
      'token-classification': 'ner',
      'question-answering': 'qa',
      'zero-shot-classification': 'nli',
      'fill-mask': 'fill-mask',
      'feature-extraction': 'embeddings',
      'sentence-similarity': 'embeddings',
      'text-ranking': 'nli',
      summarization: 'summarize',
      translation: 'translate',
      'text2text-generation': 'text2text',
      'text-generation': 'gpt2',
    };
    for (const [task, model] of Object.entries(demo)) {
      const example = doc.components.schemas[`${task}-request`]?.example;
      assert.ok(example, `${task}: request schema with an example`);
      assert.ok(doc.components.schemas[`${task}-response`], `${task}: response schema`);
      const response = await server.post(`/models/${model}`, example);
      assert.equal(response.status, 200, `${task} example: ${JSON.stringify(response.body)}`);
      assert.equal(response.headers.get('x-hubserve-task'), task);
    }
    const generation = doc.components.schemas['text-generation-request'] as {
      properties?: Record<string, unknown>;
    };
    assert.ok(generation.properties?.stream, 'text generation documents "stream"');
    const ui = await fetch(`${server.url}/docs/`);
    assert.equal(ui.status, 200);
    assert.match(await ui.text(), /swagger/i);
  });
});
