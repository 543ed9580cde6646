// Decoder fixtures (tools/fixtures/decoders.py: a hand-written PyTorch GPT-2 forward pass with Hugging
// Face's state-dict names) converted by src/convert and run by ONNX Runtime as transformers.js runs a
// with-past export: a left-padded batch from an empty cache, then one more token on the cache it
// returned. Logits and caches match PyTorch's within 1e-4 wherever a token is real.
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { InferenceSession, Tensor } from 'onnxruntime-node';
import { checkpointFiles, openCheckpoint } from '../../src/convert/checkpoint/index.ts';
import { buildDecoder, decoderFor } from '../../src/convert/decoders/decoder.ts';

const FIXTURES = new URL('../fixtures/convert/', import.meta.url).pathname;
const TOLERANCE = 1e-4;

interface Output {
  dims: number[];
  data: number[];
}
interface Step {
  inputs: Record<'input_ids' | 'attention_mask' | 'position_ids', number[][]>;
  outputs: Record<string, Output>;
}
interface Reference {
  full: Step;
  step: Step;
}

const scratch = mkdtempSync(join(tmpdir(), 'hubserve-decoder-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

const int64 = (rows: number[][]): Tensor =>
  new Tensor('int64', BigInt64Array.from(rows.flat().map(BigInt)), [rows.length, rows[0]?.length ?? 0]);

/** max |actual - expected| over the positions (axis `axis` of dims) whose token is real in `mask`. */
function worstOnRealTokens(actual: Tensor, expected: Output, mask: number[][], axis: number): number {
  assert.deepEqual(actual.dims, expected.dims);
  const values = actual.data as Float32Array;
  const dims = expected.dims;
  const inner = dims.slice(axis + 1).reduce((a, b) => a * b, 1);
  const perBatch = dims.slice(1).reduce((a, b) => a * b, 1);
  const tokens = dims[axis] as number;
  let worst = 0;
  for (let i = 0; i < expected.data.length; i++) {
    const batch = Math.floor(i / perBatch);
    const token = Math.floor(i / inner) % tokens;
    const row = mask[batch] as number[];
    // The step's logits cover only its own tokens, the last ones of the mask.
    if (row[row.length - tokens + token] !== 1) continue;
    worst = Math.max(worst, Math.abs((values[i] as number) - (expected.data[i] as number)));
  }
  return worst;
}

const decoders = readdirSync(FIXTURES).filter((name) =>
  decoderFor(
    JSON.parse(readFileSync(join(FIXTURES, name, 'config.json'), 'utf8')) as Record<string, unknown>,
  ),
);

describe('decoder conversion against PyTorch', () => {
  it('has decoder fixtures', () => assert.ok(decoders.length >= 5, decoders.join(', ')));

  for (const name of decoders) {
    it(`${name}: a padded batch, then a cached step`, async () => {
      const dir = join(FIXTURES, name);
      const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
      const reference = JSON.parse(readFileSync(join(dir, 'reference.json'), 'utf8')) as Reference;
      const found = checkpointFiles(readdirSync(dir));
      assert.ok(found);
      const checkpoint = openCheckpoint(dir, found);
      const path = join(scratch, `${name}.onnx`);
      let inputs: string[];
      try {
        const built = buildDecoder(
          checkpoint,
          config,
          decoderFor(config) as NonNullable<ReturnType<typeof decoderFor>>,
        );
        built.graph.writeFile(path);
        inputs = built.inputs;
      } finally {
        checkpoint.close();
      }
      // The cache's shape as PyTorch returned it: [b, key-value heads, tokens, head_dim] per layer.
      const presents = Object.keys(reference.full.outputs).filter((o) => o.startsWith('present.'));
      const layers = presents.length / 2;
      const [, kvHeads, , headDim] = reference.full.outputs['present.0.key']?.dims ?? [];
      const cacheNames = Array.from({ length: layers }, (_, i) => [
        `past_key_values.${i}.key`,
        `past_key_values.${i}.value`,
      ]).flat();
      assert.deepEqual(
        inputs,
        ['input_ids', 'attention_mask', 'position_ids', ...cacheNames],
        'Optimum input names',
      );
      const session = await InferenceSession.create(path);
      try {
        const batch = reference.full.inputs.input_ids.length;
        const empty = new Tensor('float32', new Float32Array(0), [batch, kvHeads ?? 0, 0, headDim ?? 0]);
        const feeds = (step: Step, past: (name: string) => Tensor): Record<string, Tensor> => ({
          input_ids: int64(step.inputs.input_ids),
          attention_mask: int64(step.inputs.attention_mask),
          position_ids: int64(step.inputs.position_ids),
          ...Object.fromEntries(cacheNames.map((n) => [n, past(n)])),
        });
        const full = await session.run(feeds(reference.full, () => empty));
        const mask = reference.full.inputs.attention_mask;
        for (const [output, expected] of Object.entries(reference.full.outputs)) {
          const actual = full[output];
          assert.ok(actual, output);
          // logits [b, s, vocab]: tokens on axis 1; caches [b, heads, s, head_dim]: on axis 2.
          const worst = worstOnRealTokens(actual, expected, mask, output === 'logits' ? 1 : 2);
          assert.ok(worst <= TOLERANCE, `${output}: max |ONNX - PyTorch| = ${worst}`);
        }
        const step = await session.run(
          feeds(reference.step, (n) => full[n.replace('past_key_values', 'present')] as Tensor),
        );
        const worst = worstOnRealTokens(
          step['logits'] as Tensor,
          reference.step.outputs['logits'] as Output,
          reference.step.inputs.attention_mask,
          1,
        );
        assert.ok(worst <= TOLERANCE, `cached step logits: max |ONNX - PyTorch| = ${worst}`);
      } finally {
        await session.release();
      }
    });
  }
});
