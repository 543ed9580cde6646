// `npm run bench:sentences`: what sentence splitting costs per 1,000 characters (it runs on the event
// loop, in src/http/task-request.ts, before a conversation turn's sentences are batched), hubserve's splitter
// next to Intl.Segmenter alone, on the labelled corpus of the tests. Writes docs/benchmarks-sentences.md.
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { markdownTable } from '../src/loadtest/index.ts';
import { splitSentences } from '../src/tasks/sentences.ts';
import { describeMachine } from './machine.ts';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const corpus = JSON.parse(readFileSync(join(root, 'test/fixtures/sentences/corpus.json'), 'utf8')) as Record<
  string,
  string[][]
>;

/** Microseconds per 1,000 characters, the median of 7 timed passes over the language's texts. */
function cost(texts: string[], split: (text: string) => unknown): number {
  const chars = texts.reduce((n, t) => n + t.length, 0);
  const passes: number[] = [];
  for (let pass = 0; pass < 8; pass++) {
    const started = performance.now();
    for (let r = 0; r < 200; r++) for (const text of texts) split(text);
    if (pass > 0) passes.push(((performance.now() - started) * 1000) / ((chars * 200) / 1000)); // first: warm-up
  }
  return passes.sort((a, b) => a - b)[Math.floor(passes.length / 2)] ?? NaN;
}

const rows = Object.entries(corpus).map(([language, texts]) => {
  const joined = texts.map((t) => t.join(' '));
  const segmenter = new Intl.Segmenter(language, { granularity: 'sentence' });
  const ours = cost(joined, (text) => splitSentences(text, language));
  const intl = cost(joined, (text) => [...segmenter.segment(text)]);
  return [language, ours.toFixed(1), intl.toFixed(1)];
});
const machine = describeMachine();
const doc = [
  '# Sentence splitting benchmarks',
  '',
  `Produced by \`npm run bench:sentences\` (bench/sentences.ts) on ${machine.cpu}, ${machine.cores} cores.`,
  'Microseconds per 1,000 characters over the test corpus (test/fixtures/sentences/corpus.json), median of 7',
  'passes. Splitting runs on the event loop (src/http/task-request.ts), once per request that asks for it.',
  '',
  markdownTable(['language', 'hubserve (µs / 1k chars)', 'Intl.Segmenter alone'], rows, [
    'left',
    'right',
    'right',
  ]),
  '',
].join('\n');
writeFileSync(join(root, 'docs', 'benchmarks-sentences.md'), doc);
console.log(doc);
