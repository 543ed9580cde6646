// Every encoder fixture (tools/fixtures/encoders.py: hand-written PyTorch forward passes with Hugging
// Face's state-dict names) converted by src/convert and run by ONNX Runtime: the outputs match
// PyTorch's within 1e-4.
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { after, describe, it } from 'node:test';
import { InferenceSession, Tensor } from 'onnxruntime-node';
import { checkpointFiles, openCheckpoint } from '../../src/convert/checkpoint/index.ts';
import { seq2seqFor } from '../../src/convert/seq2seq/seq2seq.ts';
import { decoderFor } from '../../src/convert/decoders/decoder.ts';
import { buildEncoder } from '../../src/convert/encoder.ts';
import { readSentencePipeline } from '../../src/convert/sentence-transformers.ts';

const FIXTURES = new URL('../fixtures/convert/', import.meta.url).pathname;
const TOLERANCE = 1e-4;

interface Reference {
  inputs: Record<string, number[][]>;
  outputs: Record<string, { dims: number[]; data: number[] }>;
}

const listFiles = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)));

const scratch = mkdtempSync(join(tmpdir(), 'hubserve-convert-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

/** Converts the fixture folder and writes model.onnx; returns its path and the graph's names. */
function convert(dir: string): { path: string; inputs: string[]; outputs: string[] } {
  const listing = listFiles(dir);
  const config = configOf(dir);
  const found = checkpointFiles(listing);
  assert.ok(found, `${dir} has weights`);
  const checkpoint = openCheckpoint(dir, found);
  try {
    const pipeline = readSentencePipeline(dir, listing);
    const built = buildEncoder(checkpoint, config, pipeline && { dir, listing, pipeline });
    const path = join(scratch, `${dir.split('/').filter(Boolean).pop()}.onnx`);
    built.graph.writeFile(path);
    return { path, inputs: built.inputs, outputs: built.outputs };
  } finally {
    checkpoint.close();
  }
}

function int64(rows: number[][]): Tensor {
  const data = BigInt64Array.from(rows.flat().map(BigInt));
  return new Tensor('int64', data, [rows.length, rows[0]?.length ?? 0]);
}

const configOf = (dir: string): Record<string, unknown> =>
  JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;

describe('encoder conversion against PyTorch', () => {
  // Decoder and seq2seq fixtures are test/convert/decoders.test.ts's and seq2seq.test.ts's.
  const encoders = readdirSync(FIXTURES).filter((name) => {
    const config = configOf(join(FIXTURES, name));
    return !decoderFor(config) && !seq2seqFor(config);
  });
  for (const name of encoders.sort()) {
    it(name, async () => {
      const dir = join(FIXTURES, name);
      const reference = JSON.parse(readFileSync(join(dir, 'reference.json'), 'utf8')) as Reference;
      const { path, inputs, outputs } = convert(dir);
      assert.deepEqual(inputs.sort(), Object.keys(reference.inputs).sort(), 'Optimum input names');
      for (const output of Object.keys(reference.outputs)) assert.ok(outputs.includes(output), output);
      const session = await InferenceSession.create(path);
      try {
        const feeds = Object.fromEntries(inputs.map((i) => [i, int64(reference.inputs[i] ?? [])]));
        const result = await session.run(feeds);
        for (const [output, expected] of Object.entries(reference.outputs)) {
          const actual = result[output];
          assert.ok(actual, `output ${output}`);
          assert.deepEqual(actual.dims, expected.dims, `${output} dims`);
          const values = actual.data as Float32Array;
          let worst = 0;
          for (let i = 0; i < expected.data.length; i++) {
            worst = Math.max(worst, Math.abs((values[i] as number) - (expected.data[i] as number)));
          }
          assert.ok(worst <= TOLERANCE, `${output}: max |ONNX - PyTorch| = ${worst}`);
        }
      } finally {
        await session.release();
      }
    });
  }
});

it('answers as torch.onnx.export of the same weights does', async () => {
  const dir = join(FIXTURES, 'bert-sequence-classification');
  const reference = JSON.parse(readFileSync(join(dir, 'reference.json'), 'utf8')) as Reference;
  const feeds = Object.fromEntries(
    Object.entries(reference.inputs).map(([name, rows]) => [name, int64(rows)]),
  );
  const logits = async (path: string): Promise<Float32Array> => {
    const session = await InferenceSession.create(path);
    try {
      return (await session.run(feeds))['logits']?.data as Float32Array;
    } finally {
      await session.release();
    }
  };
  const ours = await logits(convert(dir).path);
  const theirs = await logits(join(dir, 'torch-export.onnx'));
  assert.equal(ours.length, theirs.length);
  for (let i = 0; i < ours.length; i++) {
    assert.ok(Math.abs((ours[i] as number) - (theirs[i] as number)) <= TOLERANCE, `logit ${i}`);
  }
});
