// `npm run bench:decode`: generation speed of a converted decoder of Qwen2-0.5B's shape (random weights
// under Qwen2ForCausalLM's names, converted by `hubserve convert` to fp32, q8 and q4), served by
// hubserve over HTTP: decode tokens/s of one stream, and tokens/s in total for concurrent requests
// (which hubserve batches), against the limit memory bandwidth sets: a decoding step reads every
// weight once, so tokens/s <= bandwidth / weight bytes read per token. The bandwidth is measured in
// the same run, by ONNX Runtime reading a 1 GiB tensor with the threads the model runs with.
// Writes docs/benchmarks-decoding.md.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { InferenceSession, Tensor } from 'onnxruntime-node';
import { DType, Graph } from '../src/convert/onnx/graph.ts';
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
    quick: { type: 'boolean', default: false },
    tokens: { type: 'string', default: '48' },
    concurrency: { type: 'string', default: '4' },
    dtypes: { type: 'string', default: 'fp32,q8,q4' },
  },
});
const NEW_TOKENS = Number(values.tokens);
const CONCURRENCY = Number(values.concurrency);
const THREADS = 2;

/** Qwen2.5-0.5B's shape (--quick: 4 layers of it, for a smoke run). */
const SHAPE = {
  vocab: 151936,
  hidden: 896,
  layers: values.quick ? 4 : 24,
  heads: 14,
  kvHeads: 2,
  intermediate: 4864,
};

function qwen2Tensors(): TensorSpec[] {
  const { vocab, hidden: h, layers, heads, kvHeads, intermediate } = SHAPE;
  const d = h / heads;
  const tensors: TensorSpec[] = [['model.embed_tokens.weight', [vocab, h]]];
  for (let i = 0; i < layers; i++) {
    const l = `model.layers.${i}`;
    tensors.push([`${l}.input_layernorm.weight`, [h]]);
    for (const [name, out] of [
      ['q', heads * d],
      ['k', kvHeads * d],
      ['v', kvHeads * d],
    ] as const) {
      tensors.push(
        [`${l}.self_attn.${name}_proj.weight`, [out, h]],
        [`${l}.self_attn.${name}_proj.bias`, [out]],
      );
    }
    tensors.push(
      [`${l}.self_attn.o_proj.weight`, [h, heads * d]],
      [`${l}.post_attention_layernorm.weight`, [h]],
      [`${l}.mlp.gate_proj.weight`, [intermediate, h]],
      [`${l}.mlp.up_proj.weight`, [intermediate, h]],
      [`${l}.mlp.down_proj.weight`, [h, intermediate]],
    );
  }
  tensors.push(['model.norm.weight', [h]]);
  return tensors;
}

/** The repo as save_pretrained writes it, with a tokenizer.json of one word per id (w0, w1, ...). */
function makeRepo(dir: string): number {
  const bytes = writeCheckpoint(dir, qwen2Tensors());
  const { vocab, hidden, layers, heads, kvHeads, intermediate } = SHAPE;
  const eos = vocab - 1;
  const config = {
    architectures: ['Qwen2ForCausalLM'],
    model_type: 'qwen2',
    vocab_size: vocab,
    hidden_size: hidden,
    num_hidden_layers: layers,
    num_attention_heads: heads,
    num_key_value_heads: kvHeads,
    intermediate_size: intermediate,
    max_position_embeddings: 32768,
    rms_norm_eps: 1e-6,
    rope_theta: 1000000,
    hidden_act: 'silu',
    tie_word_embeddings: true,
    bos_token_id: eos,
    eos_token_id: eos,
    torch_dtype: 'float32',
  };
  writeFileSync(join(dir, 'config.json'), JSON.stringify(config, null, 2));
  const words = Object.fromEntries(Array.from({ length: vocab }, (_, i) => [`w${i}`, i]));
  const special = {
    id: eos,
    content: `w${eos}`,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special: true,
  };
  const tokenizer = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [special],
    normalizer: null,
    pre_tokenizer: { type: 'WhitespaceSplit' },
    post_processor: null,
    decoder: null,
    model: { type: 'WordLevel', vocab: words, unk_token: 'w1' },
  };
  writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(tokenizer));
  writeFileSync(
    join(dir, 'tokenizer_config.json'),
    JSON.stringify({
      model_max_length: 32768,
      unk_token: 'w1',
      eos_token: `w${eos}`,
      pad_token: `w${eos}`,
      tokenizer_class: 'PreTrainedTokenizerFast',
    }),
  );
  return bytes;
}

/** Bytes of a folder's ONNX files (graph and external data). */
const onnxBytes = (dir: string): number =>
  readdirSync(join(dir, 'onnx')).reduce((sum, f) => sum + statSync(join(dir, 'onnx', f)).size, 0);

/**
 * GB/s with which ONNX Runtime reads memory: the best of several ReduceSum runs over a 1 GiB
 * initializer, with the threads a model gets. A decoding step is this kind of read of every weight.
 */
async function memoryBandwidth(dir: string): Promise<number> {
  const count = 2 ** 28;
  const rows = 64; // row sums: ONNX Runtime spreads rows over its threads (one sum would be one thread)
  const g = new Graph('bandwidth');
  // An input, not a weight: a weight's sum would be folded into a constant when the session loads.
  g.output('y', g.reduceSum(g.input('x', DType.float, [rows, count / rows]), [1]), DType.float, [rows]);
  const path = join(dir, 'bandwidth.onnx');
  g.writeFile(path);
  const session = await InferenceSession.create(path, { intraOpNumThreads: THREADS, interOpNumThreads: 1 });
  const feeds = { x: new Tensor('float32', new Float32Array(count).fill(1), [rows, count / rows]) };
  let best = Number.POSITIVE_INFINITY;
  for (let i = 0; i < 8; i++) {
    const started = performance.now();
    await session.run(feeds);
    best = Math.min(best, performance.now() - started);
  }
  await session.release();
  return (count * 4) / (best / 1000) / 1e9;
}

interface DtypeResult {
  dtype: string;
  fileMiB: number;
  bytesPerToken: number;
  limit: number;
  /** One streamed generation: tokens after the first, per second. */
  single: number;
  /** One request at a time, whole answers: generated tokens per second of wall time. */
  sequential: number;
  /** CONCURRENCY requests at once: generated tokens in all per second of wall time. */
  concurrent: number;
  generated: number;
}

const PROMPT = Array.from({ length: 16 }, (_, i) => `w${100 + i * 37}`).join(' ');
const parameters = { max_new_tokens: NEW_TOKENS, details: true };

async function generateWhole(url: string): Promise<number> {
  const response = await fetch(`${url}/models/llm`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ inputs: PROMPT, parameters }),
  });
  const body = (await response.json()) as { details?: { generated_tokens: number } }[];
  if (response.status !== 200) throw new Error(`generation failed: ${JSON.stringify(body)}`);
  return body[0]?.details?.generated_tokens ?? 0;
}

/** Decode tokens/s of one streamed generation: from its first token to its last. */
async function streamRate(url: string): Promise<number> {
  const response = await fetch(`${url}/models/llm`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ inputs: PROMPT, parameters: { max_new_tokens: NEW_TOKENS }, stream: true }),
  });
  const reader = response.body?.getReader();
  if (!reader) throw new Error('no stream');
  const times: number[] = [];
  const decoder = new TextDecoder();
  let pending = '';
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    pending += decoder.decode(value, { stream: true });
    const events = pending.split('\n\n');
    pending = events.pop() ?? '';
    for (const e of events) if (e.startsWith('data:')) times.push(performance.now());
  }
  const first = times[0] ?? 0;
  const last = times.at(-1) ?? 0;
  return (times.length - 1) / ((last - first) / 1000);
}

async function measure(dir: string, dtype: string, bandwidth: number): Promise<DtypeResult> {
  const port = await freePort();
  const server = await startChildServer({
    name: `hubserve (${dtype})`,
    args: hubserveArgs(port, [`llm=${dir}`, '--dtype', dtype, '--weights', 'onnx']),
    port,
    readyPath: '/ready',
    timeoutMs: 600_000,
  });
  try {
    await generateWhole(server.url); // warm
    const single = Math.max(await streamRate(server.url), await streamRate(server.url));
    let started = performance.now();
    let generated = 0;
    for (let r = 0; r < 2; r++) generated += await generateWhole(server.url);
    const sequential = generated / ((performance.now() - started) / 1000);
    started = performance.now();
    let together = 0;
    for (let r = 0; r < 2; r++) {
      const counts = await Promise.all(Array.from({ length: CONCURRENCY }, () => generateWhole(server.url)));
      together += counts.reduce((a, b) => a + b, 0);
    }
    const concurrent = together / ((performance.now() - started) / 1000);
    const file = onnxBytes(dir);
    // The quantized heads read an int8 / int4 copy of the tied table; its float copy is only gathered.
    const gathered = dtype === 'fp32' ? 0 : SHAPE.vocab * SHAPE.hidden * 4;
    const bytesPerToken = file - gathered;
    return {
      dtype,
      fileMiB: file / 2 ** 20,
      bytesPerToken,
      limit: (bandwidth * 1e9) / bytesPerToken,
      single,
      sequential,
      concurrent,
      generated: together,
    };
  } finally {
    await server.stop();
  }
}

function convert(source: string, out: string, dtype: string): number {
  const started = performance.now();
  if (!existsSync(join(out, 'config.json'))) {
    execFileSync(
      process.execPath,
      nodeArgs(new URL('../src/cli/main.ts', import.meta.url), [
        'convert',
        source,
        '--out',
        out,
        '--dtype',
        dtype,
      ]),
      {
        stdio: ['ignore', 'ignore', 'inherit'],
      },
    );
  }
  return (performance.now() - started) / 1000;
}

async function main(): Promise<void> {
  stopChildrenOnExit();
  const started = performance.now();
  const base = join(root, 'models', 'bench', values.quick ? 'qwen2-0.5b-shape-quick' : 'qwen2-0.5b-shape');
  const source = join(base, 'checkpoint');
  console.log(`checkpoint: ${relative(root, source)}`);
  const weightBytes = makeRepo(source);
  const scratch = mkdtempSync(join(tmpdir(), 'hubserve-decode-'));
  try {
    const bandwidth = await memoryBandwidth(scratch);
    console.log(
      `memory bandwidth (ONNX Runtime ReduceSum, ${THREADS} threads): ${bandwidth.toFixed(1)} GB/s`,
    );
    const results: DtypeResult[] = [];
    const conversions: Record<string, number> = {};
    for (const dtype of values.dtypes.split(',')) {
      const out = join(base, dtype);
      conversions[dtype] = convert(source, out, dtype);
      const result = await measure(out, dtype, bandwidth);
      results.push(result);
      console.log(
        `${dtype}: ${result.single.toFixed(1)} tokens/s decoding one stream (limit ${result.limit.toFixed(1)}), ` +
          `${result.concurrent.toFixed(1)} tokens/s at concurrency ${CONCURRENCY} (sequential ${result.sequential.toFixed(1)})`,
      );
    }
    const machine = describeMachine();
    const rows = results.map((r) => [
      r.dtype,
      r.fileMiB.toFixed(0),
      (r.bytesPerToken / 2 ** 20).toFixed(0),
      r.limit.toFixed(1),
      r.single.toFixed(1),
      `${(r.single / r.limit).toFixed(2)}x`,
      r.sequential.toFixed(1),
      r.concurrent.toFixed(1),
      `${(r.concurrent / r.sequential).toFixed(2)}x`,
    ]);
    const command = [
      'npm run bench:decode',
      ...(process.argv.slice(2).length ? ['--', ...process.argv.slice(2)] : []),
    ].join(' ');
    const md = `# Decoding benchmark

\`${command}\` on ${machine.cpu} (${machine.cores} cores), Node ${process.version}, ${new Date().toISOString().slice(0, 10)}; ${((performance.now() - started) / 1000).toFixed(0)} s.

A decoder of Qwen2.5-0.5B's shape (${SHAPE.layers} layers, hidden ${SHAPE.hidden}, ${SHAPE.heads} heads over ${SHAPE.kvHeads} key-value heads, MLP ${SHAPE.intermediate}, vocabulary ${SHAPE.vocab}, tied embeddings; ${(weightBytes / 2 ** 30).toFixed(2)} GiB of random float32 weights under Qwen2ForCausalLM's names), converted by \`hubserve convert --dtype fp32|q8|q4\` (${Object.entries(
      conversions,
    )
      .map(([d, s]) => `${d} ${s.toFixed(0)} s`)
      .join(
        ', ',
      )}; 0 s: converted by an earlier run) and served by hubserve over HTTP, ${THREADS} ONNX Runtime threads. Prompts of 16 tokens, ${NEW_TOKENS} new tokens (greedy).

- **Limit**: memory bandwidth / bytes read per token. The bandwidth, ${bandwidth.toFixed(1)} GB/s, is ONNX Runtime's best row-wise ReduceSum over a 1 GiB tensor with the same ${THREADS} threads, measured in this run. A decoding step reads every weight once: the ONNX files' bytes, less the float embedding table where the LM head reads its int8 / int4 copy (the lookup reads one row).
- **one stream**: one streamed generation, tokens after the first per second (decoding only, no prompt).
- **sequential / concurrent**: whole answers, generated tokens per second of wall time, one request at a time and ${CONCURRENCY} at once (hubserve batches concurrent generations with the same parameters); prompts included.

${markdownTable(
  [
    'dtype',
    'ONNX MiB',
    'MiB read per token',
    'limit tokens/s',
    'one stream tokens/s',
    'of the limit',
    'sequential tokens/s',
    `concurrency ${CONCURRENCY} tokens/s`,
    'vs sequential',
  ],
  rows,
)}

Goals (issue: decoders): one stream at >= 0.5x the limit, and more tokens/s in total under concurrency than one at a time. ${results
      .map(
        (r) =>
          `${r.dtype}: ${r.single / r.limit >= 0.5 ? 'met' : 'NOT met'} (${(r.single / r.limit).toFixed(2)}x), ${r.concurrent > r.sequential ? 'met' : 'NOT met'} (${(r.concurrent / r.sequential).toFixed(2)}x)`,
      )
      .join('; ')}.
`;
    const path = join(values.out, 'benchmarks-decoding.md');
    writeFileSync(path, md);
    console.log(`wrote ${relative(process.cwd(), path)}`);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

await main();
