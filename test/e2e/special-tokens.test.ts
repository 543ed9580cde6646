// Repos whose tokenizer_config.json names no special tokens (how bert-base-uncased's family looks):
// the pad token comes from special_tokens_map.json or tokenizer.json's added tokens, and a tokenizer
// with none at all still serves batches (and says so). Batches of mixed lengths on every task that
// batches must answer what each input answers alone.
import assert from 'node:assert/strict';
import { cpSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { testModelPath, type TinyModelId } from '../../tools/testmodels/index.ts';
import { tempFolder } from '../support/checkpoints.ts';
import { serve, type TestServer } from '../support/server.ts';

type Layout = 'special-tokens-map' | 'added-tokens' | 'none';

const BERT_SPECIALS = {
  unk_token: '[UNK]',
  sep_token: '[SEP]',
  pad_token: '[PAD]',
  cls_token: '[CLS]',
  mask_token: '[MASK]',
};

/** A copy of a tiny model whose tokenizer_config.json holds only what old Hub repos hold. */
function oldStyle(id: TinyModelId, layout: Layout): string {
  const dir = join(tempFolder(`hubserve-${layout}-`), 'model');
  cpSync(testModelPath(id), dir, { recursive: true });
  writeFileSync(
    join(dir, 'tokenizer_config.json'),
    JSON.stringify({ do_lower_case: true, model_max_length: 128, tokenizer_class: 'BertTokenizer' }),
  );
  if (layout === 'special-tokens-map') {
    writeFileSync(join(dir, 'special_tokens_map.json'), JSON.stringify(BERT_SPECIALS));
  } else if (layout === 'none') {
    // [PAD] stays a word of the vocabulary, but nothing names it a token of its own.
    const tokenizer = JSON.parse(readFileSync(join(dir, 'tokenizer.json'), 'utf8')) as {
      added_tokens: { content: string }[];
    };
    tokenizer.added_tokens = tokenizer.added_tokens.filter((t) => t.content !== '[PAD]');
    writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(tokenizer));
  }
  rmSync(join(dir, 'onnx', 'model_quantized.onnx'), { force: true });
  return dir;
}

const LONG = 'The food was great but the price was too high and the waiter never came back to our table.';
const SHORT = 'ok';

let server: TestServer;
before(async () => {
  const models = [];
  for (const layout of ['special-tokens-map', 'added-tokens', 'none'] as const) {
    models.push(
      { name: `sentiment-${layout}`, source: oldStyle('hubserve-test/tiny-sentiment', layout) },
      { name: `embeddings-${layout}`, source: oldStyle('hubserve-test/tiny-embeddings', layout) },
      { name: `nli-${layout}`, source: oldStyle('hubserve-test/tiny-nli', layout) },
    );
  }
  models.push({ name: 'fill-mask', source: oldStyle('hubserve-test/tiny-fill-mask', 'special-tokens-map') });
  server = await serve(models);
});
after(() => server.close());

const ok = async (name: string, body: unknown): Promise<unknown> => {
  const response = await server.post(`/models/${name}`, body);
  assert.equal(response.status, 200, `${name}: ${JSON.stringify(response.body)}`);
  return response.body;
};

/** Deep equality with numbers within 1e-5: a padded batch against each input alone. */
function same(actual: unknown, expected: unknown, path = ''): void {
  if (typeof expected === 'number') {
    assert.ok(Math.abs((actual as number) - expected) <= 1e-5, `${path}: ${String(actual)} vs ${expected}`);
  } else if (Array.isArray(expected)) {
    assert.ok(Array.isArray(actual) && actual.length === expected.length, `${path}: length`);
    expected.forEach((e, i) => same((actual as unknown[])[i], e, `${path}[${i}]`));
  } else if (typeof expected === 'object' && expected !== null) {
    for (const [k, v] of Object.entries(expected))
      same((actual as Record<string, unknown>)[k], v, `${path}.${k}`);
  } else {
    assert.equal(actual, expected, path);
  }
}

describe('special tokens beyond tokenizer_config.json', () => {
  for (const layout of ['special-tokens-map', 'added-tokens', 'none'] as const) {
    it(`${layout}: batches of mixed lengths answer as their inputs alone, on every batching task`, async () => {
      const classified = await ok(`sentiment-${layout}`, { inputs: [LONG, SHORT] });
      same(classified, [
        ...((await ok(`sentiment-${layout}`, { inputs: [LONG] })) as unknown[]),
        ...((await ok(`sentiment-${layout}`, { inputs: [SHORT] })) as unknown[]),
      ]);
      const vectors = await ok(`embeddings-${layout}`, { inputs: [LONG, SHORT] });
      same(vectors, [
        await ok(`embeddings-${layout}`, { inputs: LONG }),
        await ok(`embeddings-${layout}`, { inputs: SHORT }),
      ]);
      const similarity = (await ok(`embeddings-${layout}`, {
        inputs: { source_sentence: SHORT, sentences: [LONG, SHORT] },
      })) as number[];
      same(similarity[1], 1);
      const ranked = (await ok(`nli-${layout}`, {
        inputs: { query: 'football', texts: [LONG, 'The team won the match'] },
      })) as { index: number }[];
      assert.equal(ranked[0]?.index, 1);
      const labels = (await ok(`nli-${layout}`, {
        inputs: 'The team won the football match',
        parameters: { candidate_labels: ['politics', 'sports', 'food'] },
      })) as { labels: string[] };
      assert.equal(labels.labels[0], 'sports');
    });
  }

  it('fill-mask finds its mask token in special_tokens_map.json', async () => {
    const fills = (await ok('fill-mask', {
      inputs: ['I drink [MASK] every morning.', 'A [MASK] day'],
    })) as { token_str: string }[][];
    assert.equal(fills[0]?.[0]?.token_str, 'coffee');
  });

  it('GET /models says when a tokenizer has no pad token, and only then', async () => {
    const { models } = (await (await fetch(`${server.url}/models`)).json()) as {
      models: { name: string; warnings?: string[] }[];
    };
    const warned = models.filter((m) => m.warnings?.length).map((m) => m.name);
    assert.deepEqual(warned.sort(), ['embeddings-none', 'nli-none', 'sentiment-none']);
    assert.match(models.find((m) => m.name === 'sentiment-none')?.warnings?.[0] ?? '', /names no pad token/);
  });

  it('input_too_long only when the counted length is over the limit, never contradicting itself', async () => {
    const long = 'word '.repeat(300);
    const response = await server.post('/models/sentiment-special-tokens-map', { inputs: [long, SHORT] });
    assert.equal(response.status, 422);
    const { error } = response.body as { error: { code: string; tokens: number; max_tokens: number } };
    assert.equal(error.code, 'input_too_long');
    assert.ok(error.tokens > error.max_tokens, JSON.stringify(error));
  });
});
