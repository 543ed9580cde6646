// Hub-layout repos made of the converter's PyTorch fixtures (test/fixtures/convert/<case>: config.json,
// a checkpoint and the outputs PyTorch computed), with tokenizer files whose words map onto the
// fixture's input ids, so that a text sent over HTTP runs exactly the ids PyTorch ran.
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';

const FIXTURES = new URL('../fixtures/convert/', import.meta.url).pathname;

export interface Reference {
  inputs: Record<string, number[][]>;
  outputs: Record<string, { dims: number[]; data: number[] }>;
}

export const reference = (fixture: string): Reference =>
  JSON.parse(readFileSync(join(FIXTURES, fixture, 'reference.json'), 'utf8')) as Reference;

/** Token `i` of the fixtures' vocabularies, unless it is a special token. */
export const word = (id: number): string => `w${id}`;

/** The text whose words are these ids (special tokens left out). */
export const textOf = (ids: readonly number[], specials: ReadonlySet<number>): string =>
  ids
    .filter((id) => !specials.has(id))
    .map(word)
    .join(' ');

const made: string[] = [];
after(() => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
});

export function tempFolder(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  made.push(dir);
  return dir;
}

export interface RepoOptions {
  /** Special tokens by id: they keep their names in the vocabulary. */
  specials: Record<number, string>;
  /**
   * `vocab.txt` (a BERT-style slow tokenizer, converted by hubserve) or `tokenizer.json` (a WordLevel
   * tokenizer with RoBERTa's template, used as it is).
   */
  tokenizer: 'vocab.txt' | 'tokenizer.json';
  /** tokenizer_config.json, when the repo has one. */
  tokenizerConfig?: Record<string, unknown>;
}

/** A repo folder of a fixture that has its own tokenizer files (the decoders'), without reference.json. */
export function fixtureRepo(fixture: string): string {
  const dir = tempFolder(`hubserve-${fixture}-`);
  cpSync(join(FIXTURES, fixture), dir, { recursive: true });
  rmSync(join(dir, 'reference.json'));
  return dir;
}

/** A repo folder of the fixture's config and checkpoint plus tokenizer files, without reference.json. */
export function checkpointRepo(fixture: string, options: RepoOptions): string {
  const dir = tempFolder(`hubserve-${fixture}-`);
  cpSync(join(FIXTURES, fixture), dir, { recursive: true });
  rmSync(join(dir, 'reference.json'));
  const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as { vocab_size: number };
  const tokens = Array.from({ length: config.vocab_size }, (_, i) => options.specials[i] ?? word(i));
  if (options.tokenizer === 'vocab.txt') {
    writeFileSync(join(dir, 'vocab.txt'), `${tokens.join('\n')}\n`);
  } else {
    writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(wordLevel(tokens)));
  }
  if (options.tokenizerConfig) {
    writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify(options.tokenizerConfig));
  }
  return dir;
}

/** A whole-word tokenizer over `tokens` with RoBERTa's <s> A </s></s> B </s> template. */
function wordLevel(tokens: string[]): Record<string, unknown> {
  const id = (token: string): number => tokens.indexOf(token);
  const special = (token: string) => ({
    id: id(token),
    content: token,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special: true,
  });
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: ['<s>', '<pad>', '</s>', '<unk>'].filter((t) => id(t) >= 0).map(special),
    normalizer: null,
    pre_tokenizer: { type: 'WhitespaceSplit' },
    post_processor: {
      type: 'RobertaProcessing',
      sep: ['</s>', id('</s>')],
      cls: ['<s>', id('<s>')],
      trim_offsets: true,
      add_prefix_space: false,
    },
    decoder: null,
    model: { type: 'WordLevel', vocab: Object.fromEntries(tokens.map((t, i) => [t, i])), unk_token: '<unk>' },
  };
}

/** Softmax of one row of logits. */
export function softmax(row: readonly number[]): number[] {
  const max = Math.max(...row);
  const exps = row.map((x) => Math.exp(x - max));
  const sum = exps.reduce((a, b) => a + b, 0);
  return exps.map((x) => x / sum);
}

/** Row `b` (and position `t`, for per-token outputs) of a reference output. */
export function rowOf(output: { dims: number[]; data: number[] }, b: number, t?: number): number[] {
  const width = output.dims[output.dims.length - 1] as number;
  const perRow = output.data.length / (output.dims[0] as number);
  const start = b * perRow + (t ?? 0) * width;
  return output.data.slice(start, start + (t === undefined ? perRow : width));
}
