// The in-process limit: the model called directly through pipeline(), no HTTP, no queue. Run by
// bench/run.ts as a child process (so it shares no event loop or cores' worth of work with a load
// generator); it sends its LimitResult over IPC, or prints it as JSON when run by hand.
import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import { env, pipeline } from '@huggingface/transformers';
import { CONVERSATION_CORPUS } from '../src/loadtest/corpus.ts';
import { round3, summarize, type LatencySummary } from '../src/loadtest/stats.ts';

export interface BatchThroughput {
  batchSize: number;
  sentencesPerS: number;
  seconds: number;
}

export interface LimitResult {
  threads: number;
  sentences: number;
  tokens: { min: number; mean: number; max: number };
  /** One sentence per call, in corpus order: the latency a single request cannot beat. */
  single: LatencySummary;
  /** The corpus sorted by token length and cut into batches of each size. */
  batches: BatchThroughput[];
  best: BatchThroughput;
  /** The best batch size again, but in corpus order: what batching that ignores length gets. */
  unsorted: BatchThroughput;
}

const { values } = parseArgs({
  options: {
    model: { type: 'string' },
    batches: { type: 'string', default: '1,2,4,8,16,32' },
    /** Every n-th corpus sentence (a quick run measures fewer). */
    every: { type: 'string', default: '1' },
  },
});
if (!values.model) throw new Error('usage: limit.ts --model FOLDER [--batches 1,2,4] [--every N]');
const batchSizes = values.batches.split(',').map(Number);
const every = Number(values.every);

env.allowRemoteModels = false;
const threads = availableParallelism();
const classify = await pipeline('text-classification', values.model, {
  dtype: 'fp32',
  session_options: { intraOpNumThreads: threads, interOpNumThreads: 1 },
});

const corpus = CONVERSATION_CORPUS.filter((_, i) => i % every === 0);
const lengths = new Map(corpus.map((s) => [s, classify.tokenizer(s).input_ids.dims.at(-1) ?? 0]));
const tokenCounts = [...lengths.values()];
const byLength = [...corpus].sort((a, b) => (lengths.get(a) ?? 0) - (lengths.get(b) ?? 0));

const chunks = (texts: string[], size: number): string[][] =>
  Array.from({ length: Math.ceil(texts.length / size) }, (_, i) => texts.slice(i * size, (i + 1) * size));

async function throughput(texts: string[], batchSize: number): Promise<BatchThroughput> {
  const started = performance.now();
  for (const batch of chunks(texts, batchSize)) await classify(batch);
  const seconds = (performance.now() - started) / 1000;
  return { batchSize, sentencesPerS: round3(texts.length / seconds), seconds: round3(seconds) };
}

// Warm-up: the longest batch of each size sizes ONNX Runtime's memory arenas before any timing.
for (const size of batchSizes) await classify(byLength.slice(-size));

const singles: number[] = [];
for (const text of corpus) {
  const started = performance.now();
  await classify(text);
  singles.push(performance.now() - started);
}
const batches: BatchThroughput[] = [];
for (const size of batchSizes) {
  // Batch 1 is the single-sentence pass above: order does not matter to a batch of one.
  const seconds = singles.reduce((a, b) => a + b, 0) / 1000;
  batches.push(
    size === 1
      ? { batchSize: 1, sentencesPerS: round3(corpus.length / seconds), seconds: round3(seconds) }
      : await throughput(byLength, size),
  );
}
const best = batches.reduce((a, b) => (b.sentencesPerS > a.sentencesPerS ? b : a));
const result: LimitResult = {
  threads,
  sentences: corpus.length,
  tokens: {
    min: Math.min(...tokenCounts),
    mean: round3(tokenCounts.reduce((a, b) => a + b, 0) / tokenCounts.length),
    max: Math.max(...tokenCounts),
  },
  single: summarize(singles),
  batches,
  best,
  unsorted: await throughput(corpus, best.batchSize),
};
await classify.dispose();
if (process.send) process.send(result);
else console.log(JSON.stringify(result, null, 2));
