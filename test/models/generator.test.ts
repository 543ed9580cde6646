// The generator writes real Hub-layout folders, the same bytes every run, and rebuilds only what is
// missing or stale.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { after, describe, it } from 'node:test';
import { env, pipeline } from '@huggingface/transformers';
import {
  BENCH_MODELS,
  DEFAULT_MODELS_DIR,
  ensureTestModels,
  generateModel,
  TINY_MODELS,
} from '../../tools/testmodels/index.ts';

env.allowRemoteModels = false;

const tempRoot = (): string => {
  const dir = mkdtempSync(join(tmpdir(), 'hubserve-models-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
};

function digests(dir: string): Record<string, string> {
  const files = (d: string): string[] =>
    readdirSync(d, { withFileTypes: true }).flatMap((e) =>
      e.isDirectory() ? files(join(d, e.name)) : [join(d, e.name)],
    );
  return Object.fromEntries(
    files(dir)
      .sort()
      .map((f) => [relative(dir, f), createHash('sha256').update(readFileSync(f)).digest('hex')]),
  );
}

describe('test-model generator', () => {
  it('writes every tiny model in the Hub layout transformers.js expects', () => {
    const root = ensureTestModels(tempRoot());
    for (const id of Object.keys(TINY_MODELS)) {
      const dir = join(root, id);
      const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
      assert.equal(typeof config.model_type, 'string', `${id}: config.json model_type`);
      for (const file of ['tokenizer.json', 'tokenizer_config.json', 'README.md']) {
        assert.ok(existsSync(join(dir, file)), `${id}: ${file}`);
      }
      const onnx = config.is_encoder_decoder
        ? ['encoder_model.onnx', 'decoder_model_merged.onnx']
        : ['model.onnx'];
      for (const file of onnx) assert.ok(existsSync(join(dir, 'onnx', file)), `${id}: onnx/${file}`);
      const generative = config.is_encoder_decoder === true || config.model_type === 'gpt2';
      assert.equal(
        existsSync(join(dir, 'generation_config.json')),
        generative,
        `${id}: generation_config.json`,
      );
    }
  });

  it('is deterministic: two runs write the same bytes', () => {
    const [a, b] = [tempRoot(), tempRoot()];
    for (const id of Object.keys(TINY_MODELS)) {
      generateModel(a, id);
      generateModel(b, id);
    }
    const [da, db] = [digests(a), digests(b)];
    assert.ok(Object.keys(da).length > 30, `${Object.keys(da).length} files`);
    assert.deepEqual(da, db);
  });

  it('regenerates a stale model and leaves current ones alone', () => {
    const root = ensureTestModels(tempRoot());
    const stale = join(root, 'hubserve-test/tiny-ner');
    const current = join(root, 'hubserve-test/tiny-qa/onnx/model.onnx');
    writeFileSync(join(stale, '.generator'), 'an older generator');
    writeFileSync(join(stale, 'onnx/model.onnx'), 'garbage');
    const before = statSync(current).mtimeMs;
    ensureTestModels(root);
    assert.equal(readFileSync(join(stale, '.generator'), 'utf8').length, 16);
    assert.notEqual(readFileSync(join(stale, 'onnx/model.onnx'), 'utf8'), 'garbage');
    assert.equal(statSync(current).mtimeMs, before, 'a current model is not rewritten');
  });
});

describe('BERT-base-shaped benchmark model', () => {
  it('has bert-base dimensions and classifies batches through a real attention graph', async () => {
    const [id] = Object.keys(BENCH_MODELS) as [string];
    const path = join(ensureTestModels(DEFAULT_MODELS_DIR, [id]), id);
    const config = JSON.parse(readFileSync(join(path, 'config.json'), 'utf8')) as Record<string, number>;
    assert.deepEqual(
      [config.num_hidden_layers, config.hidden_size, config.num_attention_heads, config.vocab_size],
      [12, 768, 12, 30522],
    );
    // ~110M fp32 parameters.
    const bytes = statSync(join(path, 'onnx/model.onnx')).size;
    assert.ok(bytes > 400e6 && bytes < 460e6, `${bytes} bytes`);
    const tokenizer = JSON.parse(readFileSync(join(path, 'tokenizer.json'), 'utf8')) as {
      model: { vocab: Record<string, number> };
    };
    assert.equal(Object.keys(tokenizer.model.vocab).length, 30522);

    const classify = await pipeline('text-classification', path);
    const texts = [
      'hello there',
      'I would like to change my delivery address before the order ships, please',
    ];
    const results = await classify(texts);
    assert.equal(results.length, 2);
    for (const r of results) {
      assert.ok(['NEGATIVE', 'POSITIVE'].includes(r.label), r.label);
      assert.ok(r.score >= 0.5 && r.score <= 1, String(r.score));
    }
    // Attention really mixes tokens: the same first word in different sentences scores differently.
    const [a, b] = await classify(['hello there', 'hello world and everyone in it']);
    assert.notEqual(a?.score, b?.score);
  });
});
