// `npm run bench:convert`: converting a bert-base-sized checkpoint (~440 MB of safetensors, random
// weights under Hugging Face's names, a 30,522-word vocab.txt): conversion time and peak resident
// memory against the weights' size, a start from the conversion cache against a start from the same
// model as an ONNX folder, and the converted graph's speed in ONNX Runtime against the torch.onnx.export
// graph of the same weights (bench/export_bert.py, where Debian's python3-torch is installed).
// Writes docs/benchmarks-conversion.md.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { InferenceSession, Tensor } from 'onnxruntime-node';
import {
  freePort,
  hubserveArgs,
  markdownTable,
  nodeArgs,
  startChildServer,
  stopChildrenOnExit,
} from '../src/loadtest/index.ts';
import { type TensorSpec, writeCheckpoint } from './checkpoint.ts';
import { describeMachine } from './machine.ts';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const { values } = parseArgs({
  options: {
    out: { type: 'string', default: join(root, 'docs') },
    rounds: { type: 'string', default: '3' },
    python: { type: 'string', default: '/usr/bin/python3' },
  },
});
const rounds = Number(values.rounds);

const SHAPE = {
  vocab: 30522,
  hidden: 768,
  layers: 12,
  heads: 12,
  intermediate: 3072,
  positions: 512,
  labels: 2,
};

/** BertForSequenceClassification's state dict: names and shapes, LayerNorms at 1 and 0. */
function bertTensors(): TensorSpec[] {
  const { vocab, hidden: h, layers, intermediate, positions, labels } = SHAPE;
  const tensors: TensorSpec[] = [
    ['bert.embeddings.word_embeddings.weight', [vocab, h]],
    ['bert.embeddings.position_embeddings.weight', [positions, h]],
    ['bert.embeddings.token_type_embeddings.weight', [2, h]],
    ['bert.embeddings.LayerNorm.weight', [h]],
    ['bert.embeddings.LayerNorm.bias', [h]],
  ];
  const linear = (name: string, out: number, inp: number): void => {
    tensors.push([`${name}.weight`, [out, inp]], [`${name}.bias`, [out]]);
  };
  for (let i = 0; i < layers; i++) {
    const l = `bert.encoder.layer.${i}`;
    for (const part of ['query', 'key', 'value']) linear(`${l}.attention.self.${part}`, h, h);
    linear(`${l}.attention.output.dense`, h, h);
    tensors.push(
      [`${l}.attention.output.LayerNorm.weight`, [h]],
      [`${l}.attention.output.LayerNorm.bias`, [h]],
    );
    linear(`${l}.intermediate.dense`, intermediate, h);
    linear(`${l}.output.dense`, h, intermediate);
    tensors.push([`${l}.output.LayerNorm.weight`, [h]], [`${l}.output.LayerNorm.bias`, [h]]);
  }
  linear('bert.pooler.dense', h, h);
  linear('classifier', labels, h);
  return tensors;
}

/** Writes the checkpoint repo (once: it is kept under models/ for the next run). Returns its bytes. */
function makeCheckpoint(dir: string): number {
  const bytes = writeCheckpoint(dir, bertTensors());
  const { vocab, hidden, layers, heads, intermediate, positions } = SHAPE;
  const config = {
    architectures: ['BertForSequenceClassification'],
    model_type: 'bert',
    vocab_size: vocab,
    hidden_size: hidden,
    num_hidden_layers: layers,
    num_attention_heads: heads,
    intermediate_size: intermediate,
    max_position_embeddings: positions,
    type_vocab_size: 2,
    hidden_act: 'gelu',
    layer_norm_eps: 1e-12,
    id2label: { 0: 'NEGATIVE', 1: 'POSITIVE' },
    label2id: { NEGATIVE: 0, POSITIVE: 1 },
  };
  writeFileSync(join(dir, 'config.json'), JSON.stringify(config, null, 2));
  const specials = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'];
  const words = Array.from({ length: vocab }, (_, i) => specials[i] ?? (i % 3 ? `w${i}` : `##w${i}`));
  writeFileSync(join(dir, 'vocab.txt'), `${words.join('\n')}\n`);
  writeFileSync(
    join(dir, 'tokenizer_config.json'),
    JSON.stringify({ do_lower_case: true, model_max_length: 512 }),
  );
  return bytes;
}

interface ConversionRun {
  ms: number;
  maxRssBytes: number;
}

/** One `hubserve convert` in a child process of its own; its wall time and peak resident memory. */
async function convertOnce(
  source: string,
  out: string,
  cache: string,
  dtype = 'fp32',
): Promise<ConversionRun> {
  const started = performance.now();
  const child = spawn(
    process.execPath,
    nodeArgs(new URL('./convert-child.ts', import.meta.url), [source, out, dtype]),
    { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, HUBSERVE_CONVERTED_CACHE: cache } },
  );
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const code = await new Promise<number | null>((done) => child.once('exit', done));
  if (code !== 0) throw new Error(`conversion failed (${code}): ${output}`);
  const { maxRssBytes } = JSON.parse(output.trim().split('\n').at(-1) ?? '{}') as { maxRssBytes: number };
  return { ms: performance.now() - started, maxRssBytes };
}

/** Seconds from spawning `hubserve serve` to GET /ready answering 200. */
async function startToReady(source: string, cache: string): Promise<number> {
  const port = await freePort();
  const started = performance.now();
  const server = await startChildServer({
    name: 'hubserve',
    args: hubserveArgs(port, [`bench=${source}`]),
    port,
    readyPath: '/ready',
    env: { HUBSERVE_CONVERTED_CACHE: cache, HUBSERVE_MANAGEMENT_PORT: String(await freePort()) },
  });
  const seconds = (performance.now() - started) / 1000;
  await server.stop();
  return seconds;
}

/** A batch of `batch` sentences of `length` word ids (from `seed`), for the session's inputs. */
function feedsFor(
  session: InferenceSession,
  batch: number,
  length: number,
  seed = 1,
): Record<string, Tensor> {
  const ids = BigInt64Array.from({ length: batch * length }, (_, i) =>
    BigInt(5 + (((i + seed) * 7919) % 30000)),
  );
  const ones = new BigInt64Array(batch * length).fill(1n);
  const all = {
    input_ids: new Tensor('int64', ids, [batch, length]),
    attention_mask: new Tensor('int64', ones, [batch, length]),
    token_type_ids: new Tensor('int64', new BigInt64Array(batch * length), [batch, length]),
  };
  return Object.fromEntries(session.inputNames.map((n) => [n, all[n as keyof typeof all]]));
}

/** q8 against fp32 on the same sentences: how often the top label agrees, and the worst logit move. */
async function quantizationCost(
  fp32: string,
  q8: string,
  sentences = 256,
): Promise<{ agreement: number; worst: number }> {
  const sessions = await Promise.all([fp32, q8].map((p) => InferenceSession.create(p)));
  let agree = 0;
  let worst = 0;
  for (let s = 0; s < sentences; s += 8) {
    const [a, b] = await Promise.all(
      sessions.map(
        async (session) =>
          (await session.run(feedsFor(session, 8, 24, s * 131)))['logits']?.data as Float32Array,
      ),
    );
    for (let row = 0; row < 8; row++) {
      const pick = (x: Float32Array | undefined): number =>
        (x?.[row * 2] ?? 0) >= (x?.[row * 2 + 1] ?? 0) ? 0 : 1;
      if (pick(a) === pick(b)) agree++;
      for (let l = 0; l < 2; l++)
        worst = Math.max(worst, Math.abs((a?.[row * 2 + l] ?? 0) - (b?.[row * 2 + l] ?? 0)));
    }
  }
  await Promise.all(sessions.map((session) => session.release()));
  return { agreement: agree / sentences, worst };
}

/** Sentences of 8-64 tokens per second, batches of 8, one session of ONNX Runtime's defaults. */
async function graphSpeed(path: string): Promise<number> {
  const session = await InferenceSession.create(path);
  const lengths = [8, 16, 24, 32, 48, 64];
  const batch = 8;
  const feeds = (length: number): Record<string, Tensor> => feedsFor(session, batch, length);
  for (const length of lengths) await session.run(feeds(length)); // warm-up
  let sentences = 0;
  const started = performance.now();
  for (let r = 0; r < 3; r++) {
    for (const length of lengths) {
      await session.run(feeds(length));
      sentences += batch;
    }
  }
  const rate = sentences / ((performance.now() - started) / 1000);
  await session.release();
  return rate;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

stopChildrenOnExit();
const source = join(root, 'models', 'bench-checkpoint', 'bert-base');
const weightBytes = makeCheckpoint(source);
const work = mkdtempSync(join(tmpdir(), 'hubserve-bench-convert-'));
try {
  const cache = join(work, 'cache');
  const conversions: ConversionRun[] = [];
  let exported = '';
  for (let r = 0; r < rounds; r++) {
    exported = join(work, `export-${r}`);
    conversions.push(await convertOnce(source, exported, join(work, `cache-${r}`)));
  }
  // Interleaved: a start from the conversion cache, then from the exported ONNX folder, `rounds` times.
  await startToReady(source, cache); // fills the cache
  const cached: number[] = [];
  const onnx: number[] = [];
  for (let r = 0; r < rounds; r++) {
    cached.push(await startToReady(source, cache));
    onnx.push(await startToReady(exported, cache));
  }
  const ours = join(exported, 'onnx', 'model.onnx');
  const torchExport = join(work, 'torch-export.onnx');
  let torchNote = '';
  try {
    execFileSync(values.python, [join(root, 'bench', 'export_bert.py'), source, torchExport], {
      stdio: 'inherit',
    });
  } catch (error) {
    torchNote = `torch.onnx.export skipped: ${(error as Error).message.split('\n')[0]}`;
  }
  const q8Folder = join(work, 'export-q8');
  await convertOnce(source, q8Folder, join(work, 'cache-q8'), 'q8');
  const q8 = join(q8Folder, 'onnx', 'model_quantized.onnx');
  const graphs = [
    { graph: 'hubserve converter, fp32', path: ours, rates: [] as number[] },
    { graph: 'hubserve converter, q8', path: q8, rates: [] as number[] },
    ...(torchNote
      ? []
      : [{ graph: 'torch.onnx.export (opset 14), fp32', path: torchExport, rates: [] as number[] }]),
  ];
  for (let r = 0; r < rounds; r++) {
    for (const g of graphs) g.rates.push(await graphSpeed(g.path));
  }
  const speed = graphs;
  const cost = await quantizationCost(ours, q8);

  const convertMs = median(conversions.map((c) => c.ms));
  const rss = median(conversions.map((c) => c.maxRssBytes));
  const mb = (bytes: number): string => (bytes / 1e6).toFixed(0);
  const rows = [
    [
      'conversion (wall, `hubserve convert`)',
      `${(convertMs / 1000).toFixed(1)} s`,
      '<= 10 s',
      convertMs <= 10_000 ? 'met' : 'not met',
    ],
    [
      'peak resident / weights',
      `${mb(rss)} MB / ${mb(weightBytes)} MB = ${(rss / weightBytes).toFixed(2)}x`,
      '<= 2.5x',
      rss <= 2.5 * weightBytes ? 'met' : 'not met',
    ],
    [
      'start to ready: conversion cache / ONNX folder',
      `${median(cached).toFixed(1)} s / ${median(onnx).toFixed(1)} s = ${(median(cached) / median(onnx)).toFixed(2)}x`,
      '<= 1.5x',
      median(cached) <= 1.5 * median(onnx) ? 'met' : 'not met',
    ],
  ];
  // Ratios within each round (the graphs ran back to back), then their median: drift cancels out.
  const ratio = (a: number[] | undefined, b: number[] | undefined): number =>
    median((a ?? []).map((x, r) => x / (b?.[r] ?? NaN)));
  const [fp32Rates, q8Rates, torchRates] = speed.map((s) => s.rates);
  if (torchRates) {
    const r = ratio(fp32Rates, torchRates);
    rows.push([
      'converted graph / torch.onnx.export graph (sentences/s, per round)',
      `${median(fp32Rates ?? []).toFixed(1)} / ${median(torchRates).toFixed(1)}; ${r.toFixed(2)}x`,
      '>= 1.0x',
      r >= 1 ? 'met' : 'not met',
    ]);
  }
  const q8Ratio = ratio(q8Rates, fp32Rates);
  rows.push([
    'q8 / fp32 converted graph (sentences/s, per round)',
    `${median(q8Rates ?? []).toFixed(1)} / ${median(fp32Rates ?? []).toFixed(1)}; ${q8Ratio.toFixed(2)}x`,
    '',
    `top-1 agreement ${(cost.agreement * 100).toFixed(1)}%, worst logit change ${cost.worst.toFixed(4)}`,
  ]);
  const machine = describeMachine();
  const doc = [
    '# Conversion benchmarks',
    '',
    `Produced by \`npm run bench:convert\` (bench/convert.ts) on ${machine.cpu}, ${machine.cores} cores, ${machine.memoryGiB} GiB.`,
    `A bert-base-sized BertForSequenceClassification checkpoint (${mb(weightBytes)} MB of F32 safetensors, vocab.txt only), medians of ${rounds} rounds run interleaved.`,
    '',
    markdownTable(['measure', 'value', 'target', ''], rows),
    '',
    `Each conversion: ${conversions.map((c) => `${(c.ms / 1000).toFixed(1)} s, ${mb(c.maxRssBytes)} MB`).join('; ')}.`,
    `Starts from the cache: ${cached.map((s) => s.toFixed(1)).join(', ')} s; from the ONNX folder: ${onnx.map((s) => s.toFixed(1)).join(', ')} s.`,
    ...speed.map(
      (s) =>
        `${s.graph}: ${s.rates.map((x) => x.toFixed(1)).join(', ')} sentences/s (batches of 8, 8-64 tokens).`,
    ),
    ...(torchNote ? [torchNote] : []),
    '',
  ].join('\n');
  writeFileSync(join(values.out, 'benchmarks-conversion.md'), doc);
  console.log(doc);
} finally {
  rmSync(work, { recursive: true, force: true });
}
