// Slow tokenizer files converted to tokenizer.json, loaded by transformers.js, give the ids of
// Hugging Face's slow Python tokenizers (tools/fixtures/tokenizers.py re-implements them by hand,
// and uses Google's sentencepiece for the SentencePiece models).
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { AutoTokenizer, env } from '@huggingface/transformers';
import { convertTokenizer, tokenizerSourceFiles } from '../../src/convert/tokenizer/index.ts';
import { refusedWith } from '../support/errors.ts';

env.allowRemoteModels = false;
env.useFSCache = false;

const FIXTURES = new URL('../fixtures/tokenizers/', import.meta.url).pathname;
const scratch = mkdtempSync(join(tmpdir(), 'hubserve-tokenizers-'));
after(() => rmSync(scratch, { recursive: true, force: true }));
env.localModelPath = `${scratch}/`;

interface ReferenceCase {
  text: string;
  pair?: string;
  ids: number[];
  token_type_ids?: number[];
}

const readJson = (path: string): Record<string, unknown> =>
  JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;

let folders = 0;

/** A fixture copied to its own folder under env.localModelPath, minus `drop`, with `edit` applied. */
function copyCase(
  name: string,
  drop: readonly string[] = [],
): { folder: string; dir: string; listing: string[] } {
  const folder = `${name}-${folders++}`;
  const dir = join(scratch, folder);
  cpSync(join(FIXTURES, name), dir, { recursive: true });
  for (const file of drop) rmSync(join(dir, file));
  const listing = readdirSync(dir).filter((f) => f !== 'reference.json');
  return { folder, dir, listing };
}

function convertCase(name: string): { folder: string; tokenizerConfig: Record<string, unknown> } {
  const { folder, dir, listing } = copyCase(name);
  const config = readJson(join(dir, 'config.json'));
  const converted = convertTokenizer(dir, listing, config);
  assert.ok(converted, 'a repo without tokenizer.json is converted');
  writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(converted.tokenizer));
  writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify(converted.tokenizerConfig));
  return { folder, tokenizerConfig: converted.tokenizerConfig };
}

const CASES = readdirSync(FIXTURES).filter((name) => existsSync(join(FIXTURES, name, 'reference.json')));

describe('slow tokenizers converted for transformers.js', () => {
  for (const name of CASES) {
    it(`${name}: ids equal the slow tokenizer's`, async () => {
      const { folder, tokenizerConfig } = convertCase(name);
      for (const key of ['pad_token', 'unk_token']) {
        assert.equal(typeof tokenizerConfig[key], 'string', `${key} is a string in tokenizer_config.json`);
      }
      const tokenizer = await AutoTokenizer.from_pretrained(folder);
      const { cases } = readJson(join(FIXTURES, name, 'reference.json')) as { cases: ReferenceCase[] };
      // Every mismatch at once: one wrong rule usually shows in several texts.
      const wrong: string[] = [];
      const check = (actual: number[], expected: number[], label: string): void => {
        if (JSON.stringify(actual) !== JSON.stringify(expected)) {
          wrong.push(`${label}: got ${JSON.stringify(actual)}, want ${JSON.stringify(expected)}`);
        }
      };
      for (const c of cases) {
        const label = JSON.stringify(c.pair === undefined ? c.text : [c.text, c.pair]);
        if (c.pair === undefined) {
          check(tokenizer.encode(c.text), c.ids, label);
          continue;
        }
        const encoded = tokenizer(c.text, { text_pair: c.pair, return_token_type_ids: true });
        check(encoded.input_ids.tolist()[0].map(Number), c.ids, label);
        if (c.token_type_ids) {
          assert.ok(encoded.token_type_ids, `${label} has token_type_ids`);
          check(encoded.token_type_ids.tolist()[0].map(Number), c.token_type_ids, `${label} type ids`);
        }
      }
      assert.deepEqual(wrong, [], `${wrong.length} of ${cases.length} texts differ`);
      // A batch pads to its longest text, with the pad token's id.
      const batch = tokenizer(['hello', 'hello world and more'], { padding: true });
      const [short, long] = batch.input_ids.tolist() as bigint[][];
      assert.equal(short?.length, long?.length);
      assert.equal(Number(short?.at(-1)), tokenizer.pad_token_id);
      assert.deepEqual(batch.attention_mask.tolist()[0].map(Number).at(-1), 0);
    });
  }

  it('lists the files a conversion reads', () => {
    const listing = [
      'config.json',
      'vocab.txt',
      'merges.txt',
      'vocab.json',
      'sentencepiece.bpe.model',
      'spiece.model',
      'tokenizer.model',
      'special_tokens_map.json',
      'added_tokens.json',
      'tokenizer_config.json',
      'model.safetensors',
      '1_Pooling/config.json',
      'sub/vocab.txt',
    ];
    assert.deepEqual(tokenizerSourceFiles(listing), listing.slice(1, 10));
  });

  it('leaves a repo with its own tokenizer.json alone', () => {
    assert.equal(
      convertTokenizer('/nonexistent', ['tokenizer.json', 'vocab.txt'], { model_type: 'bert' }),
      undefined,
    );
  });

  it('keeps model_max_length and states the class and its specials', () => {
    const { tokenizerConfig } = convertCase('bert-uncased');
    assert.equal(tokenizerConfig.model_max_length, 512);
    assert.equal(tokenizerConfig.tokenizer_class, 'BertTokenizer');
    assert.equal(tokenizerConfig.do_lower_case, true);
    assert.deepEqual(
      ['unk_token', 'sep_token', 'pad_token', 'cls_token', 'mask_token'].map((k) => tokenizerConfig[k]),
      ['[UNK]', '[SEP]', '[PAD]', '[CLS]', '[MASK]'],
    );
  });

  it('resolves special tokens as from_pretrained does', () => {
    // Legacy repos: special_tokens_map.json overrides tokenizer_config.json's values.
    const legacy = copyCase('bert-uncased');
    writeFileSync(
      join(legacy.dir, 'tokenizer_config.json'),
      JSON.stringify({ mask_token: '[CONFIG]', cls_token: { content: '[CLS]', lstrip: false } }),
    );
    writeFileSync(join(legacy.dir, 'special_tokens_map.json'), JSON.stringify({ mask_token: '[MASK]' }));
    const fromMap = convertTokenizer(legacy.dir, legacy.listing, { model_type: 'bert' });
    assert.equal(fromMap?.tokenizerConfig.mask_token, '[MASK]');
    assert.equal(fromMap?.tokenizerConfig.cls_token, '[CLS]', 'an AddedToken dict becomes its string');
    assert.equal(fromMap?.tokenizerConfig.sep_token, '[SEP]', 'the class default fills the gaps');
    // With added_tokens_decoder, special_tokens_map.json is not read at all.
    const modern = copyCase('bert-added-tokens-decoder');
    writeFileSync(join(modern.dir, 'special_tokens_map.json'), JSON.stringify({ mask_token: '[OTHER]' }));
    const converted = convertTokenizer(modern.dir, modern.listing, {});
    assert.equal(converted?.tokenizerConfig.mask_token, '[MASK]');
    assert.equal('added_tokens_decoder' in (converted?.tokenizerConfig ?? {}), false);
    const added = (converted?.tokenizer as { added_tokens: { content: string; special: boolean }[] })
      .added_tokens;
    assert.deepEqual(
      added.map((t) => [t.content, t.special]),
      [
        ['[PAD]', true],
        ['[UNK]', true],
        ['[CLS]', true],
        ['[SEP]', true],
        ['[MASK]', true],
        ['<new>', false],
      ],
    );
  });

  it('refuses missing or damaged files with bad_tokenizer', () => {
    const missing = copyCase('bert-uncased', ['vocab.txt']);
    assert.throws(
      () => convertTokenizer(missing.dir, missing.listing, {}),
      refusedWith('bad_tokenizer', /vocab\.txt/),
    );
    const damaged = copyCase('bert-uncased');
    writeFileSync(join(damaged.dir, 'special_tokens_map.json'), '{"unk_token": ');
    assert.throws(
      () => convertTokenizer(damaged.dir, damaged.listing, {}),
      refusedWith('bad_tokenizer', /special_tokens_map\.json/),
    );
    const empty = copyCase('bert-vocab-only');
    writeFileSync(join(empty.dir, 'vocab.txt'), '');
    assert.throws(
      () => convertTokenizer(empty.dir, empty.listing, { model_type: 'bert' }),
      refusedWith('bad_tokenizer'),
    );
    const noUnk = copyCase('bert-uncased');
    writeFileSync(join(noUnk.dir, 'tokenizer_config.json'), JSON.stringify({ unk_token: null }));
    writeFileSync(join(noUnk.dir, 'special_tokens_map.json'), '{}');
    assert.throws(
      () => convertTokenizer(noUnk.dir, noUnk.listing, { model_type: 'bert' }),
      refusedWith('bad_tokenizer', /unk_token/),
    );
  });

  it('refuses damaged BPE and SentencePiece files with bad_tokenizer', () => {
    const noMerges = copyCase('roberta-bpe', ['merges.txt']);
    assert.throws(
      () => convertTokenizer(noMerges.dir, noMerges.listing, {}),
      refusedWith('bad_tokenizer', /merges\.txt/),
    );
    const badVocab = copyCase('roberta-bpe');
    writeFileSync(join(badVocab.dir, 'vocab.json'), '{"a": "zero"}');
    assert.throws(
      () => convertTokenizer(badVocab.dir, badVocab.listing, {}),
      refusedWith('bad_tokenizer', /vocab\.json/),
    );
    const noModel = copyCase('xlm-roberta-unigram', ['sentencepiece.bpe.model']);
    assert.throws(
      () => convertTokenizer(noModel.dir, noModel.listing, {}),
      refusedWith('bad_tokenizer', /sentencepiece\.bpe\.model/),
    );
    const garbage = copyCase('camembert-unigram');
    writeFileSync(
      join(garbage.dir, 'sentencepiece.bpe.model'),
      Buffer.from([0x0a, 0xff, 0xff, 0xff, 0x0f, 1, 2]),
    );
    assert.throws(
      () => convertTokenizer(garbage.dir, garbage.listing, {}),
      refusedWith('bad_tokenizer', /sentencepiece\.bpe\.model/),
    );
    const truncated = copyCase('xlm-roberta-unigram');
    const model = readFileSync(join(truncated.dir, 'sentencepiece.bpe.model'));
    writeFileSync(join(truncated.dir, 'sentencepiece.bpe.model'), model.subarray(0, model.length >> 1));
    assert.throws(() => convertTokenizer(truncated.dir, truncated.listing, {}), refusedWith('bad_tokenizer'));
  });

  it('refuses tokenizer classes it does not convert with unsupported_architecture', () => {
    const named = copyCase('bert-uncased');
    writeFileSync(
      join(named.dir, 'tokenizer_config.json'),
      JSON.stringify({ tokenizer_class: 'WhisperTokenizer' }),
    );
    assert.throws(
      () => convertTokenizer(named.dir, named.listing, { model_type: 'bert' }),
      refusedWith('unsupported_architecture', /WhisperTokenizer.*BertTokenizer/),
    );
    const typed = copyCase('bert-vocab-only');
    assert.throws(
      () => convertTokenizer(typed.dir, typed.listing, { model_type: 'llama' }),
      refusedWith('unsupported_architecture', /llama/),
    );
  });
});
