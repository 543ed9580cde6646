// Does a GPU help? The BERT-base-shaped classifier on ONNX Runtime directly, per execution provider
// (cpu, cuda, webgpu) and batch size, as a self-contained script for a GPU machine with no network:
//   npx esbuild bench/gpu/ort-devices.ts --bundle --platform=node --format=esm \
//     --external:onnxruntime-node --outfile=.gpu/ort-devices.mjs
// then `node .gpu/ort-devices.mjs OUT.json` next to onnxruntime-node. Prints and writes per device and
// batch: p50 latency and sentences/s, or why the device is unavailable.
import { writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import * as ort from 'onnxruntime-node';
import { build } from '../../tools/testmodels/models/bert-base.ts';

const SEQUENCE = 32; // tokens: a typical conversation sentence with its special tokens
const BATCHES = [1, 8, 16, 32];
const RUNS = 20;

interface Row {
  device: string;
  batch?: number;
  p50_ms?: number;
  sentences_per_s?: number;
  error?: string;
}

function inputs(batch: number): Record<string, ort.Tensor> {
  const n = batch * SEQUENCE;
  const ids = BigInt64Array.from({ length: n }, (_, i) => BigInt(1000 + ((i * 7919) % 28000)));
  return {
    input_ids: new ort.Tensor('int64', ids, [batch, SEQUENCE]),
    attention_mask: new ort.Tensor('int64', new BigInt64Array(n).fill(1n), [batch, SEQUENCE]),
    token_type_ids: new ort.Tensor('int64', new BigInt64Array(n), [batch, SEQUENCE]),
  };
}

async function measure(device: string, model: Uint8Array): Promise<Row[]> {
  let session: ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(model, {
      executionProviders: [device],
      intraOpNumThreads: availableParallelism(),
    });
  } catch (error) {
    return [{ device, error: (error as Error).message.split('\n')[0] }];
  }
  const rows: Row[] = [];
  for (const batch of BATCHES) {
    const feed = inputs(batch);
    for (let i = 0; i < 3; i++) await session.run(feed); // warm-up (kernels, allocations)
    const times: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const started = performance.now();
      await session.run(feed);
      times.push(performance.now() - started);
    }
    times.sort((a, b) => a - b);
    const p50 = times[Math.floor(times.length / 2)] ?? NaN;
    rows.push({
      device,
      batch,
      p50_ms: Math.round(p50 * 100) / 100,
      sentences_per_s: Math.round((batch / p50) * 1e4) / 10,
    });
    console.log(JSON.stringify(rows.at(-1)));
  }
  await session.release();
  return rows;
}

const model = build().onnx['model.onnx'] as Uint8Array;
const results: Row[] = [];
for (const device of ['cpu', 'cuda', 'webgpu']) results.push(...(await measure(device, model)));
const out = process.argv[2];
if (out)
  writeFileSync(
    out,
    `${JSON.stringify({ cores: availableParallelism(), sequence: SEQUENCE, results }, null, 2)}\n`,
  );
