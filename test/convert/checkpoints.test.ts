// The checkpoint readers on real torch.save and safetensors bytes: values as PyTorch reads them back,
// shards by their index, and untrusted files refused with a stable code before anything runs or a
// hostile header allocates.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { checkpointFiles, openCheckpoint } from '../../src/convert/checkpoint/index.ts';
import { openPytorchCheckpoint } from '../../src/convert/checkpoint/pytorch.ts';
import { openSafetensors } from '../../src/convert/checkpoint/safetensors.ts';
import { refusedWith } from '../support/errors.ts';

const FIXTURES = new URL('../fixtures/checkpoints/', import.meta.url).pathname;
/** tools/fixtures/checkpoints.py: the unsafe pickles would create this file if they ever ran. */
const MARKER = '/tmp/hubserve-pwned-marker';

const scratch = mkdtempSync(join(tmpdir(), 'hubserve-checkpoints-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

interface SafetensorsTensor {
  dtype: string;
  shape: number[];
  data_offsets: [number, number];
}

/** A safetensors file from a header object and the data bytes after it. */
function safetensors(name: string, header: Record<string, SafetensorsTensor>, data: Uint8Array): string {
  const json = Buffer.from(JSON.stringify(header));
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(json.length));
  const path = join(scratch, name);
  writeFileSync(path, Buffer.concat([length, json, data]));
  return path;
}

const f32 = (values: number[]): Uint8Array => new Uint8Array(Float32Array.from(values).buffer);

describe('pytorch_model.bin reader', () => {
  it('reads strided, offset, shared and half-precision views as PyTorch does', () => {
    const expected = JSON.parse(readFileSync(join(FIXTURES, 'views.json'), 'utf8')) as Record<
      string,
      { shape: number[]; data: number[] }
    >;
    const checkpoint = openPytorchCheckpoint([join(FIXTURES, 'views.bin')]);
    try {
      assert.deepEqual([...checkpoint.tensors.keys()].sort(), Object.keys(expected).sort());
      assert.equal(checkpoint.tensors.get('half.weight')?.dtype, 'F16');
      assert.equal(checkpoint.tensors.get('bf16.weight')?.dtype, 'BF16');
      for (const [name, { shape, data }] of Object.entries(expected)) {
        assert.deepEqual(checkpoint.tensors.get(name)?.shape, shape, name);
        // F16 and BF16 values are exact in float32: the comparison is exact too.
        assert.deepEqual([...checkpoint.readFloat32(name)], data, name);
      }
    } finally {
      checkpoint.close();
    }
  });

  it('refuses the legacy torch.save format with unsupported_checkpoint', () => {
    assert.throws(
      () => openPytorchCheckpoint([join(FIXTURES, 'legacy.bin')]),
      refusedWith('unsupported_checkpoint', /legacy torch\.save format/),
    );
  });

  for (const file of ['unsafe-global.bin', 'unsafe-stack-global.bin', 'unsafe-in-dict.bin']) {
    it(`refuses ${file}, whose pickle calls a function, without running it`, () => {
      rmSync(MARKER, { force: true });
      assert.throws(
        () => openPytorchCheckpoint([join(FIXTURES, file)]),
        refusedWith('unsafe_checkpoint', /posix\.system|os\.system|builtins\.exec/),
      );
      assert.equal(existsSync(MARKER), false, 'the payload never ran');
    });
  }

  it('refuses a zip bomb before inflating it', () => {
    const before = process.memoryUsage().arrayBuffers;
    assert.throws(
      () => openPytorchCheckpoint([join(FIXTURES, 'bomb.bin')]),
      refusedWith('bad_checkpoint', /inflates past its declared 64 bytes/),
    );
    assert.ok(process.memoryUsage().arrayBuffers - before < 16 * 2 ** 20, 'never inflated whole');
  });

  it('refuses a file that is no checkpoint at all', () => {
    const path = join(scratch, 'not-a-checkpoint.bin');
    writeFileSync(path, Buffer.from('<html>404 Not Found</html>'.repeat(4)));
    assert.throws(() => openPytorchCheckpoint([path]), refusedWith('bad_checkpoint'));
  });
});

describe('safetensors reader', () => {
  it('reads F32, F16 and BF16 by their IEEE encodings', () => {
    // 1.0, -2.0, 0.5 in half (0x3c00, 0xc000, 0x3800) and bfloat16 (0x3f80, 0xc000, 0x3f00).
    const half = new Uint8Array(Uint16Array.from([0x3c00, 0xc000, 0x3800]).buffer);
    const bf16 = new Uint8Array(Uint16Array.from([0x3f80, 0xc000, 0x3f00]).buffer);
    const path = safetensors(
      'dtypes.safetensors',
      {
        a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
        b: { dtype: 'F16', shape: [3], data_offsets: [8, 14] },
        c: { dtype: 'BF16', shape: [3, 1], data_offsets: [14, 20] },
      },
      Buffer.concat([f32([3.5, -1]), half, bf16]),
    );
    const checkpoint = openSafetensors([path]);
    try {
      assert.deepEqual([...checkpoint.readFloat32('a')], [3.5, -1]);
      assert.deepEqual([...checkpoint.readFloat32('b')], [1, -2, 0.5]);
      assert.deepEqual([...checkpoint.readFloat32('c')], [1, -2, 0.5]);
      assert.deepEqual(checkpoint.tensors.get('c'), { dtype: 'BF16', shape: [3, 1] });
    } finally {
      checkpoint.close();
    }
  });

  const cases: [string, Record<string, SafetensorsTensor>, RegExp][] = [
    ['outside the file', { a: { dtype: 'F32', shape: [4], data_offsets: [0, 16] } }, /outside the file/],
    ['dtype x shape != bytes', { a: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, /needs 12 bytes/],
    [
      'overlapping tensors',
      {
        a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
        b: { dtype: 'F32', shape: [1], data_offsets: [4, 8] },
      },
      /overlap/,
    ],
    ['an unknown dtype', { a: { dtype: 'F8_E9', shape: [2], data_offsets: [0, 8] } }, /unknown dtype/],
    [
      'a shape too big to count',
      { a: { dtype: 'F32', shape: [2 ** 40, 2 ** 40], data_offsets: [0, 8] } },
      /needs/,
    ],
  ];
  for (const [what, header, message] of cases) {
    it(`refuses a header with ${what}`, () => {
      const path = safetensors('bad.safetensors', header, f32([1, 2]));
      assert.throws(() => openSafetensors([path]), refusedWith('bad_checkpoint', message));
    });
  }

  it('refuses a header length over the file before allocating it', () => {
    const path = join(scratch, 'huge-header.safetensors');
    const bytes = Buffer.alloc(64);
    bytes.writeBigUInt64LE(2n ** 62n);
    writeFileSync(path, bytes);
    assert.throws(() => openSafetensors([path]), refusedWith('bad_checkpoint', /header length/));
  });
});

describe('checkpoint layouts', () => {
  it('prefers safetensors over pytorch_model.bin, and a shard index over a single file', () => {
    assert.deepEqual(checkpointFiles(['pytorch_model.bin', 'model.safetensors', 'config.json']), {
      format: 'safetensors',
      file: 'model.safetensors',
    });
    assert.deepEqual(checkpointFiles(['pytorch_model.bin.index.json', 'pytorch_model-00001-of-00002.bin']), {
      format: 'pytorch',
      file: 'pytorch_model.bin.index.json',
    });
    assert.equal(checkpointFiles(['onnx/model.onnx', 'config.json']), undefined);
  });

  it('opens the shards an index names as one checkpoint', () => {
    const dir = mkdtempSync(join(scratch, 'sharded-'));
    const shard = (name: string, tensor: string, values: number[]): void => {
      const path = safetensors(
        name,
        { [tensor]: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } },
        f32(values),
      );
      writeFileSync(join(dir, name), readFileSync(path));
    };
    shard('model-00001-of-00002.safetensors', 'a.weight', [1, 2]);
    shard('model-00002-of-00002.safetensors', 'b.weight', [3, 4]);
    const weightMap = {
      'a.weight': 'model-00001-of-00002.safetensors',
      'b.weight': 'model-00002-of-00002.safetensors',
    };
    writeFileSync(join(dir, 'model.safetensors.index.json'), JSON.stringify({ weight_map: weightMap }));
    const found = checkpointFiles(['model.safetensors.index.json', ...Object.values(weightMap)]);
    assert.ok(found);
    const checkpoint = openCheckpoint(dir, found);
    try {
      assert.deepEqual([...checkpoint.readFloat32('b.weight')], [3, 4]);
      assert.deepEqual([...checkpoint.tensors.keys()].sort(), ['a.weight', 'b.weight']);
    } finally {
      checkpoint.close();
    }
  });

  it('refuses an index that points outside its folder', () => {
    const dir = mkdtempSync(join(scratch, 'escape-'));
    writeFileSync(
      join(dir, 'model.safetensors.index.json'),
      JSON.stringify({ weight_map: { 'a.weight': '../../etc/passwd' } }),
    );
    assert.throws(
      () => openCheckpoint(dir, { format: 'safetensors', file: 'model.safetensors.index.json' }),
      refusedWith('bad_checkpoint', /no file name/),
    );
  });
});
