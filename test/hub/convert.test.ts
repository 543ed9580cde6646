// Checkpoint repos on the (mock) Hub: only what the conversion reads is downloaded (safetensors over
// .bin, an index before its shards), the conversion is cached outside the HF cache and reused offline,
// and `convert` writes a folder transformers.js loads, in fp32 and fp16.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it, mock } from 'node:test';
import { AutoModel, env } from '@huggingface/transformers';
import { InferenceSession, Tensor } from 'onnxruntime-node';
import { openSafetensors } from '../../src/convert/checkpoint/safetensors.ts';
import {
  type ConversionProgress,
  exportConverted,
  type HubSettings,
  resolveModel,
} from '../../src/hub/index.ts';
import { checkpointRepo, reference } from '../support/checkpoints.ts';
import { type MockHub, startMockHub } from '../support/mock-hub.ts';
import { tempDir } from './helpers.ts';

mock.method(console, 'debug', () => undefined); // @huggingface/hub logs each download
env.allowRemoteModels = false;

const BERT = { 0: '[PAD]', 1: '[UNK]', 2: '[CLS]', 3: '[SEP]', 4: '[MASK]' };
const FIXTURE = 'bert-sequence-classification';
const REPO = 'acme/bert-finetune';
const SHARDED = 'acme/bert-sharded';

/** The fixture with a .bin beside its safetensors and files no conversion reads. */
function plainRepo(): string {
  const dir = checkpointRepo(FIXTURE, { specials: BERT, tokenizer: 'vocab.txt' });
  writeFileSync(join(dir, 'pytorch_model.bin'), Buffer.alloc(4096));
  writeFileSync(join(dir, 'tf_model.h5'), Buffer.alloc(4096));
  writeFileSync(join(dir, 'README.md'), '# a fine-tune\n');
  return dir;
}

/** The fixture's tensors split over two safetensors shards and their index. */
function shardedRepo(): string {
  const dir = checkpointRepo(FIXTURE, { specials: BERT, tokenizer: 'vocab.txt' });
  const whole = openSafetensors([join(dir, 'model.safetensors')]);
  const names = [...whole.tensors.keys()].sort();
  const weightMap: Record<string, string> = {};
  for (const [i, part] of [names.slice(0, 20), names.slice(20)].entries()) {
    const file = `model-0000${i + 1}-of-00002.safetensors`;
    const header: Record<string, unknown> = {};
    const chunks: Buffer[] = [];
    let offset = 0;
    for (const name of part) {
      const bytes = Buffer.from(whole.readFloat32(name).buffer);
      header[name] = {
        dtype: 'F32',
        shape: whole.tensors.get(name)?.shape,
        data_offsets: [offset, offset + bytes.length],
      };
      chunks.push(bytes);
      offset += bytes.length;
      weightMap[name] = file;
    }
    const json = Buffer.from(JSON.stringify(header));
    const length = Buffer.alloc(8);
    length.writeBigUInt64LE(BigInt(json.length));
    writeFileSync(join(dir, file), Buffer.concat([length, json, ...chunks]));
  }
  whole.close();
  rmSync(join(dir, 'model.safetensors'));
  writeFileSync(
    join(dir, 'model.safetensors.index.json'),
    JSON.stringify({ metadata: {}, weight_map: weightMap }),
  );
  return dir;
}

/** Files whose bytes were downloaded (not size probes). */
const fileGets = (hub: MockHub): string[] =>
  hub.requests
    .filter((r) => r.method === 'GET' && r.range === undefined && r.path.includes('/resolve/'))
    .map((r) => decodeURIComponent(r.path.replace(/^.*?\/resolve\/[^/]+\//, '')))
    .sort();

/** The converted graph's logits for the fixture's inputs, next to PyTorch's. */
async function worstLogitError(graph: string): Promise<number> {
  const { inputs, outputs } = reference(FIXTURE);
  const session = await InferenceSession.create(graph);
  try {
    const feeds = Object.fromEntries(
      Object.entries(inputs).map(([name, rows]) => [
        name,
        new Tensor('int64', BigInt64Array.from(rows.flat().map(BigInt)), [rows.length, rows[0]?.length ?? 0]),
      ]),
    );
    const { logits } = await session.run(feeds);
    const expected = outputs['logits']?.data ?? [];
    const actual = logits?.data as Float32Array;
    return Math.max(...expected.map((x, i) => Math.abs((actual[i] ?? NaN) - x)));
  } finally {
    await session.release();
  }
}

let hub: MockHub;
let settings: HubSettings;
before(async () => {
  hub = await startMockHub({ repos: { [REPO]: { dir: plainRepo() }, [SHARDED]: { dir: shardedRepo() } } });
  settings = {
    endpoint: hub.url,
    cacheDir: tempDir('hubserve-cache-'),
    convertedDir: tempDir('hubserve-converted-'),
    offline: false,
  };
});
after(() => hub.close());

describe('checkpoint repos from the Hub', () => {
  it('downloads only what the conversion reads, converts once, and caches it outside the HF cache', async () => {
    hub.requests.length = 0;
    const events: ConversionProgress[] = [];
    const model = await resolveModel(REPO, { dtype: 'fp32', settings, onConvert: (e) => events.push(e) });
    assert.deepEqual(fileGets(hub), ['config.json', 'model.safetensors', 'vocab.txt']);
    assert.equal(model.weights, 'checkpoint');
    // Progress: a start, the graph's weight bytes up to their total, and the end.
    assert.deepEqual([events[0]?.type, events.at(-1)?.type], ['start', 'done']);
    const bytes = events.flatMap((e) => (e.type === 'bytes' ? [e] : []));
    assert.ok(bytes.length > 1 && bytes.every((e, i) => i === 0 || e.done > (bytes[i - 1]?.done ?? 0)));
    assert.equal(bytes.at(-1)?.done, bytes.at(-1)?.total);
    assert.equal(model.conversion?.cached, false);
    assert.ok(model.path.startsWith(settings.convertedDir), model.path);
    assert.ok(model.files.includes('onnx/model.onnx') && model.files.includes('tokenizer.json'));
    // The HF cache holds the repo's files only, as huggingface_hub would have written them.
    const snapshots = join(settings.cacheDir, 'models--acme--bert-finetune', 'snapshots');
    const [commit] = readdirSync(snapshots);
    assert.deepEqual(readdirSync(join(snapshots, commit ?? '')).sort(), [
      'config.json',
      'model.safetensors',
      'vocab.txt',
    ]);
    assert.ok((await worstLogitError(join(model.path, 'onnx/model.onnx'))) <= 1e-4);

    const offline = await resolveModel(REPO, {
      dtype: 'fp32',
      settings: { ...settings, offline: true },
      onConvert: (e) => events.push(e),
    });
    assert.equal(events.filter((e) => e.type === 'start').length, 1, 'the cached conversion is reused');
    assert.equal(offline.conversion?.cached, true);
    assert.equal(offline.path, model.path);
  });

  it('fetches a sharded checkpoint by its index, shards after it', async () => {
    hub.requests.length = 0;
    const model = await resolveModel(SHARDED, { dtype: 'fp32', settings });
    assert.deepEqual(fileGets(hub), [
      'config.json',
      'model-00001-of-00002.safetensors',
      'model-00002-of-00002.safetensors',
      'model.safetensors.index.json',
      'vocab.txt',
    ]);
    assert.ok((await worstLogitError(join(model.path, 'onnx/model.onnx'))) <= 1e-4);
  });

  it('convert writes an ONNX Hub folder that transformers.js loads, in fp32, fp16 and q8', async () => {
    const bytes: Record<string, number> = {};
    // Within half precision of PyTorch's logits, and within 8-bit weights' error (logits here are < 1).
    const tolerance = { fp32: 1e-4, fp16: 1e-2, q8: 0.1 };
    for (const dtype of ['fp32', 'fp16', 'q8'] as const) {
      const out = join(tempDir('hubserve-export-'), 'bert');
      await exportConverted(REPO, out, { dtype, settings });
      const graph = {
        fp32: 'onnx/model.onnx',
        fp16: 'onnx/model_fp16.onnx',
        q8: 'onnx/model_quantized.onnx',
      }[dtype];
      for (const file of ['config.json', 'tokenizer.json', 'tokenizer_config.json', graph]) {
        assert.ok(existsSync(join(out, file)), `${dtype}: ${file}`);
      }
      const worst = await worstLogitError(join(out, graph));
      assert.ok(worst <= tolerance[dtype], `${dtype}: ${worst}`);
      env.localModelPath = join(out, '..');
      const loaded = await AutoModel.from_pretrained('bert', { dtype });
      await loaded.dispose();
      bytes[dtype] = statSync(join(out, graph)).size;
    }
    // Half and a quarter of the weights' bytes; the graph itself (names, nodes) does not shrink.
    assert.ok((bytes['fp16'] ?? 0) < 0.7 * (bytes['fp32'] ?? 0), JSON.stringify(bytes));
    assert.ok((bytes['q8'] ?? 0) < 0.6 * (bytes['fp32'] ?? 0), JSON.stringify(bytes));
  });

  it('refuses to export into a folder that holds files', async () => {
    const out = tempDir('hubserve-export-');
    writeFileSync(join(out, 'keep.txt'), 'mine');
    await assert.rejects(exportConverted(REPO, out, { dtype: 'fp32', settings }), /is not empty/);
    assert.equal(readFileSync(join(out, 'keep.txt'), 'utf8'), 'mine');
  });
});
