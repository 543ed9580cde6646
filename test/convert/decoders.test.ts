// Decoder fixtures (tools/fixtures/decoders.py: hand-written PyTorch GPT-2 and Llama-family forward
// passes with Hugging Face's state-dict names) converted by src/convert and run by ONNX Runtime as
// transformers.js runs a with-past export: a left-padded batch from an empty cache, then one more token
// on the cache it returned. fp32 logits and caches match PyTorch's within 1e-4 wherever a token is
// real; the int8 and int4 weights stay close to them.
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { InferenceSession, Tensor } from 'onnxruntime-node';
import { checkpointFiles, openCheckpoint } from '../../src/convert/checkpoint/index.ts';
import { buildDecoder, decoderFor } from '../../src/convert/decoders/decoder.ts';
import type { Graph } from '../../src/convert/onnx/graph.ts';

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

const readJson = <T>(path: string): T => JSON.parse(readFileSync(path, 'utf8')) as T;

/** The flat indices of `expected` (tokens on `axis`) whose token is real in `mask`. */
function realPositions(expected: Output, mask: number[][], axis: number): number[] {
  const dims = expected.dims;
  const inner = dims.slice(axis + 1).reduce((a, b) => a * b, 1);
  const perBatch = dims.slice(1).reduce((a, b) => a * b, 1);
  const tokens = dims[axis] as number;
  const real: number[] = [];
  for (let i = 0; i < expected.data.length; i++) {
    const row = mask[Math.floor(i / perBatch)] as number[];
    // A step's outputs cover only its own tokens, the last ones of the mask.
    if (row[row.length - tokens + (Math.floor(i / inner) % tokens)] === 1) real.push(i);
  }
  return real;
}

function worstOnRealTokens(actual: Tensor, expected: Output, mask: number[][], axis: number): number {
  assert.deepEqual(actual.dims, expected.dims);
  const values = actual.data as Float32Array;
  return Math.max(
    ...realPositions(expected, mask, axis).map((i) =>
      Math.abs((values[i] as number) - (expected.data[i] as number)),
    ),
  );
}

interface Converted {
  path: string;
  inputs: string[];
  reference: Reference;
  cacheNames: string[];
  run(step: Step, past?: (name: string) => Tensor): Promise<Record<string, Tensor>>;
}

/** Converts a fixture (quantized by `quantize`, if given) and opens it as transformers.js would. */
function convertFixture(name: string, quantize?: (graph: Graph) => void): Converted {
  const dir = join(FIXTURES, name);
  const config = readJson<Record<string, unknown>>(join(dir, 'config.json'));
  const reference = readJson<Reference>(join(dir, 'reference.json'));
  const found = checkpointFiles(readdirSync(dir));
  assert.ok(found);
  const checkpoint = openCheckpoint(dir, found);
  const path = join(scratch, `${name}-${quantize ? 'quantized' : 'fp32'}.onnx`);
  let inputs: string[];
  try {
    const architecture = decoderFor(config);
    assert.ok(architecture);
    const built = buildDecoder(checkpoint, config, architecture);
    quantize?.(built.graph);
    built.graph.writeFile(path);
    inputs = built.inputs;
  } finally {
    checkpoint.close();
  }
  // The cache's shape as PyTorch returned it: [b, key-value heads, tokens, head_dim] per layer.
  const layers = Object.keys(reference.full.outputs).filter((o) => o.startsWith('present.')).length / 2;
  const [, kvHeads, , headDim] = reference.full.outputs['present.0.key']?.dims ?? [];
  const cacheNames = Array.from({ length: layers }, (_, i) => [
    `past_key_values.${i}.key`,
    `past_key_values.${i}.value`,
  ]).flat();
  const batch = reference.full.inputs.input_ids.length;
  const empty = new Tensor('float32', new Float32Array(0), [batch, kvHeads ?? 0, 0, headDim ?? 0]);
  return {
    path,
    inputs,
    reference,
    cacheNames,
    async run(step, past = () => empty) {
      const session = await InferenceSession.create(path);
      try {
        return await session.run({
          input_ids: int64(step.inputs.input_ids),
          attention_mask: int64(step.inputs.attention_mask),
          position_ids: int64(step.inputs.position_ids),
          ...Object.fromEntries(cacheNames.map((n) => [n, past(n)])),
        });
      } finally {
        await session.release();
      }
    },
  };
}

const decoders = readdirSync(FIXTURES).filter((name) =>
  decoderFor(readJson<Record<string, unknown>>(join(FIXTURES, name, 'config.json'))),
);

describe('decoder conversion against PyTorch', () => {
  it('has decoder fixtures', () => assert.ok(decoders.length >= 5, decoders.join(', ')));

  for (const name of decoders) {
    it(`${name}: a padded batch, then a cached step`, async () => {
      const converted = convertFixture(name);
      const { reference } = converted;
      assert.deepEqual(
        converted.inputs,
        ['input_ids', 'attention_mask', 'position_ids', ...converted.cacheNames],
        'Optimum input names',
      );
      const full = await converted.run(reference.full);
      const mask = reference.full.inputs.attention_mask;
      for (const [output, expected] of Object.entries(reference.full.outputs)) {
        const actual = full[output];
        assert.ok(actual, output);
        // logits [b, s, vocab]: tokens on axis 1; caches [b, heads, s, head_dim]: on axis 2.
        const worst = worstOnRealTokens(actual, expected, mask, output === 'logits' ? 1 : 2);
        assert.ok(worst <= TOLERANCE, `${output}: max |ONNX - PyTorch| = ${worst}`);
      }
      const step = await converted.run(
        reference.step,
        (n) => full[n.replace('past_key_values', 'present')] as Tensor,
      );
      const worst = worstOnRealTokens(
        step['logits'] as Tensor,
        reference.step.outputs['logits'] as Output,
        reference.step.inputs.attention_mask,
        1,
      );
      assert.ok(worst <= TOLERANCE, `cached step logits: max |ONNX - PyTorch| = ${worst}`);
    });
  }
});

describe('quantized decoder weights against PyTorch (fp32)', () => {
  // Tiny random models lose more to quantization than trained ones (measured: relative logit error
  // 0.018-0.033 for q8, 0.22-0.32 for q4, whose blocks of 32 are whole rows here); the layouts
  // themselves are checked exactly in quantize.test.ts. These bounds catch a graph that breaks.
  const variants = [
    { dtype: 'q8', quantize: (g: Graph) => g.quantizeMatMulWeights(), error: 0.05, agreement: 0.8 },
    { dtype: 'q4', quantize: (g: Graph) => g.quantizeMatMulWeightsToInt4(), error: 0.4, agreement: 0.5 },
  ];
  for (const { dtype, quantize, error, agreement } of variants) {
    it(`${dtype}: logits near PyTorch's, the same next token at most positions`, async () => {
      const lines: string[] = [];
      for (const name of decoders) {
        const converted = convertFixture(name, quantize);
        const { full } = converted.reference;
        const expected = full.outputs['logits'] as Output;
        const logits = (await converted.run(full))['logits'] as Tensor;
        const values = logits.data as Float32Array;
        const vocab = expected.dims[2] as number;
        const real = realPositions(expected, full.inputs.attention_mask, 1);
        // Relative RMS error over real positions, and top-1 agreement per real token.
        let squared = 0;
        let norm = 0;
        for (const i of real) {
          squared += ((values[i] as number) - (expected.data[i] as number)) ** 2;
          norm += (expected.data[i] as number) ** 2;
        }
        let same = 0;
        const tokens = real.filter((i) => i % vocab === 0);
        for (const start of tokens) {
          const argmax = (data: ArrayLike<number>): number => {
            let best = start;
            for (let j = start; j < start + vocab; j++)
              if ((data[j] as number) > (data[best] as number)) best = j;
            return best;
          };
          if (argmax(values) === argmax(expected.data)) same++;
        }
        const relative = Math.sqrt(squared / norm);
        lines.push(`${name}: error ${relative.toFixed(3)}, top-1 ${same}/${tokens.length}`);
        assert.ok(relative <= error && same / tokens.length >= agreement, lines.join('; '));
      }
    });
  }
});
