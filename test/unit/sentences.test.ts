// Sentence splitting against a labelled corpus (test/fixtures/sentences/corpus.json: 165 sentences in
// German, English, French, Spanish, Italian and Dutch, written for these tests with the traps of
// restaurant reviews: titles, initials, ordinals before months and nouns, prices and decimals,
// ellipses, quotes and brackets). Boundary precision and recall per language, next to
// Intl.Segmenter's on the same texts.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { splitSentences } from '../../src/tasks/sentences.ts';

const corpus = JSON.parse(
  readFileSync(new URL('../fixtures/sentences/corpus.json', import.meta.url), 'utf8'),
) as Record<string, string[][]>;

interface Score {
  precision: number;
  recall: number;
}

/** Boundaries (sentence starts after the first) found against the gold ones, over a language's texts. */
function score(language: string, split: (text: string) => { start: number }[]): Score {
  let found = 0;
  let right = 0;
  let gold = 0;
  for (const sentences of corpus[language] ?? []) {
    const text = sentences.join(' ');
    const starts = new Set<number>();
    let at = 0;
    for (const sentence of sentences.slice(0, -1)) {
      at += sentence.length + 1;
      starts.add(at);
    }
    const predicted = split(text)
      .map((s) => s.start)
      .filter((s) => s > 0);
    found += predicted.length;
    right += predicted.filter((s) => starts.has(s)).length;
    gold += starts.size;
  }
  return { precision: found ? right / found : 1, recall: gold ? right / gold : 1 };
}

const intlSegmenter = (language: string) => (text: string) =>
  [...new Intl.Segmenter(language, { granularity: 'sentence' }).segment(text)].map((s) => ({
    start: s.index,
  }));

describe('sentence splitting', () => {
  const table: string[] = [];
  for (const language of Object.keys(corpus)) {
    it(`${language}: boundary precision and recall >= 0.98`, () => {
      const ours = score(language, (text) => splitSentences(text, language));
      const intl = score(language, intlSegmenter(language));
      table.push(
        `${language}: hubserve P ${ours.precision.toFixed(3)} R ${ours.recall.toFixed(3)}; ` +
          `Intl.Segmenter P ${intl.precision.toFixed(3)} R ${intl.recall.toFixed(3)}`,
      );
      assert.ok(ours.precision >= 0.98 && ours.recall >= 0.98, table.at(-1));
    });
  }
  it('reports the comparison', () => {
    console.log(table.join('\n'));
    assert.equal(table.length, Object.keys(corpus).length);
  });

  it('keeps offsets exact into the original text', () => {
    const text = '  Ich war mit Dr. Müller dort.   Wir kamen am 3. Oktober an.\nGut!';
    for (const s of splitSentences(text, 'de')) assert.equal(text.slice(s.start, s.end), s.text);
    assert.deepEqual(
      splitSentences(text, 'de').map((s) => s.text),
      ['Ich war mit Dr. Müller dort.', 'Wir kamen am 3. Oktober an.', 'Gut!'],
    );
  });

  it('falls back to Intl.Segmenter and the language-neutral rules elsewhere', () => {
    assert.deepEqual(
      splitSentences('Hyvää ruokaa. Palvelu oli hidasta.', 'fi').map((s) => s.text),
      ['Hyvää ruokaa.', 'Palvelu oli hidasta.'],
    );
    assert.deepEqual(
      splitSentences('美味しかった。また来ます。', 'ja').map((s) => s.text),
      ['美味しかった。', 'また来ます。'],
    );
  });
});
