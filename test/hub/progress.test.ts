import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { it } from 'node:test';
import type { DownloadProgress } from '../../src/hub/index.ts';
import { progressReporter } from '../../src/hub/progress.ts';

const REPO = 'org/name';

/** A stream that keeps what is written; a terminal if `tty`. */
function output(tty: boolean): Writable & { text: () => string; isTTY: boolean; columns: number } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      chunks.push(chunk.toString());
      done();
    },
  });
  return Object.assign(stream, { isTTY: tty, columns: 120, text: () => chunks.join('') });
}

const events: DownloadProgress[] = [
  { type: 'start', repo: REPO, file: 'onnx/model.onnx', total: 1_234_567 },
  { type: 'start', repo: REPO, file: 'config.json', total: 300 },
  { type: 'bytes', repo: REPO, file: 'onnx/model.onnx', done: 600_000, total: 1_234_567 },
  { type: 'done', repo: REPO, file: 'config.json', total: 300, ms: 12 },
  { type: 'bytes', repo: REPO, file: 'onnx/model.onnx', done: 1_234_567, total: 1_234_567 },
  { type: 'done', repo: REPO, file: 'onnx/model.onnx', total: 1_234_567, ms: 340 },
];

it('logs a line per file start and end when not on a terminal', () => {
  const stream = output(false);
  const report = progressReporter(stream);
  for (const event of events) report(event);
  report({ type: 'start', repo: REPO, file: 'tokenizer.json', total: 10 });
  report({ type: 'failed', repo: REPO, file: 'tokenizer.json' });
  assert.equal(
    stream.text(),
    [
      'downloading org/name onnx/model.onnx (1.2 MB)',
      'downloading org/name config.json (300 B)',
      'downloaded org/name config.json in 0.0 s',
      'downloaded org/name onnx/model.onnx in 0.3 s',
      'downloading org/name tokenizer.json (10 B)',
      'failed to download org/name tokenizer.json',
      '',
    ].join('\n'),
  );
});

it('draws a bar per file on a terminal, and stops once all files are done', () => {
  const stream = output(true);
  const report = progressReporter(stream);
  for (const event of events) report(event);
  const text = stream.text();
  assert.match(text, /100% \| 1\.2 MB \/ 1\.2 MB \| org\/name onnx\/model\.onnx/);
  assert.match(text, /100% \| 300 B \/ 300 B \| org\/name config\.json/);
  // A later download starts a new set of bars.
  report({ type: 'start', repo: REPO, file: 'tokenizer.json', total: 10 });
  report({ type: 'failed', repo: REPO, file: 'tokenizer.json' });
  assert.match(stream.text().slice(text.length), /0% \| 0 B \/ 10 B \| org\/name tokenizer\.json/);
});
