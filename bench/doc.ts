// What `npm run bench` concludes: the issue's target ratios from one run, and docs/benchmarks.md.
import type { DeviceOutcome } from '../src/loadtest/devices.ts';
import { deviceTable, fixed, markdownTable, sweepTable } from '../src/loadtest/report.ts';
import type { LevelResult, SweepResult } from '../src/loadtest/sweep.ts';
import type { LimitResult } from './limit.ts';
import type { Machine } from './machine.ts';
import type { ChurnResult } from './churn.ts';
import type { RollingResult } from './rolling.ts';
import type { SoakResult } from './soak.ts';

export interface BenchReport {
  date: string;
  command: string;
  totalS: number;
  machine: Machine;
  /** Per phase, the share of the machine's CPU that other processes used (0..1). */
  otherCpu: Record<string, number>;
  /** Per server and concurrency level, the same share. */
  otherCpuByLevel: Record<string, Record<number, number>>;
  /** The hubserve measured: HEAD and how many files differed from it. */
  hubserve: { commit: string; changedFiles: number; command: string };
  settings: {
    levels: number[];
    durationS: number;
    warmupS: number;
    corpusSentences: number;
    model: string;
  };
  limit: LimitResult;
  naive: SweepResult;
  served: SweepResult;
  devices: DeviceOutcome[];
  soak: SoakResult;
  /** The churn with MALLOC_ARENA_MAX=2 (what docs/deploy.md advises for many models)... */
  churn: ChurnResult;
  /** ...and side by side, with glibc's default malloc arenas. */
  churnDefaultArenas: ChurnResult;
  rolling: RollingResult;
  targets: Target[];
}

export interface Target {
  name: string;
  /** The measured figure, as a ratio or in ms; NaN when the run lacks the level it needs. */
  value: number;
  unit: 'x' | 'ms' | 'count' | 'KiB/1k' | 'MiB';
  goal: string;
  met: boolean;
  how: string;
}

const at = (sweep: SweepResult, concurrency: number): LevelResult | undefined =>
  sweep.levels.find((l) => l.concurrency === concurrency);

/** The issue's targets, from one run's figures. */
export function targets(
  limit: LimitResult,
  naive: SweepResult,
  served: SweepResult,
  soak: SoakResult,
  churn: ChurnResult,
  rolling: RollingResult,
): Target[] {
  const churnBound = churn.baselineMiB + churn.maxLoaded * churn.modelMiB;
  const c1 = at(served, 1);
  const c16 = at(served, 16);
  const c32 = at(served, 32);
  const naive32 = at(naive, 32);
  const overhead = (c1?.latencyMs.p50 ?? Number.NaN) / limit.single.p50;
  const vsLimit = (c32?.throughput ?? Number.NaN) / limit.best.sentencesPerS;
  const vsNaive = (c32?.throughput ?? Number.NaN) / (naive32?.throughput ?? Number.NaN);
  const tail = (c16?.latencyMs.p99 ?? Number.NaN) / (c16?.latencyMs.p50 ?? Number.NaN);
  const errors = served.levels.reduce((n, l) => n + l.errors, 0);
  const saturated = served.levels.filter((l) => l.concurrency >= 16 && l.health);
  const health = Math.max(...saturated.map((l) => l.health?.latencyMs.p99 ?? Number.NaN));
  const worst = saturated.find((l) => l.health?.latencyMs.p99 === health);
  return [
    {
      name: 'latency overhead at concurrency 1',
      unit: 'x',
      value: overhead,
      goal: '<= 1.10x',
      met: overhead <= 1.1,
      how: `hubserve p50 ${fixed(c1?.latencyMs.p50)} ms / in-process single-sentence p50 ${fixed(limit.single.p50)} ms`,
    },
    {
      name: 'throughput at concurrency 32 vs the limit',
      unit: 'x',
      value: vsLimit,
      goal: '>= 0.9x',
      met: vsLimit >= 0.9,
      how: `hubserve ${fixed(c32?.throughput)} req/s / limit ${fixed(limit.best.sentencesPerS)} sentences/s (batch ${limit.best.batchSize})`,
    },
    {
      name: 'throughput at concurrency 32 vs the naive server',
      unit: 'x',
      value: vsNaive,
      goal: '>= 1.3x',
      met: vsNaive >= 1.3,
      how: `hubserve ${fixed(c32?.throughput)} req/s / naive ${fixed(naive32?.throughput)} req/s`,
    },
    {
      name: 'tail at concurrency 16 (p99 / p50)',
      unit: 'x',
      value: tail,
      goal: '<= 2.5x',
      met: tail <= 2.5,
      how: `p99 ${fixed(c16?.latencyMs.p99)} ms / p50 ${fixed(c16?.latencyMs.p50)} ms`,
    },
    {
      name: 'errors (hubserve, every level)',
      unit: 'count',
      value: errors,
      goal: '0',
      met: errors === 0,
      how: served.levels.map((l) => `c=${l.concurrency}: ${l.errors}`).join(', '),
    },
    {
      name: '/health p99 while saturated',
      unit: 'ms',
      value: health,
      goal: '<= 10 ms',
      met: health <= 10,
      how: worst
        ? `worst of the levels with concurrency >= 16: c=${worst.concurrency}, ${worst.health?.probes} probes`
        : 'no level with concurrency >= 16 was probed',
    },
    {
      name: 'soak: resident memory growth after warm-up',
      unit: 'KiB/1k',
      value: soak.growthKiBPer1000,
      goal: `<= ${SOAK_GROWTH_GOAL_KIB} KiB per 1,000 requests`,
      met: soak.growthKiBPer1000 <= SOAK_GROWTH_GOAL_KIB && soak.unexpected === 0,
      how: `${soak.requests} requests in ${soak.durationS} s: ${fixed(soak.rssAfterWarmupMiB)} MiB after ${soak.warmupS} s of warm-up, ${fixed(soak.rssEndMiB)} MiB at the end; ${soak.unexpected} unexpected answers`,
    },
    {
      name: 'churn: failed requests',
      unit: 'count',
      value: churn.failed,
      goal: '0',
      met: churn.failed === 0,
      how: `${churn.requests} requests to ${churn.users} per-user models, ${churn.maxLoaded} loaded at most`,
    },
    {
      name: 'churn: peak resident memory',
      unit: 'MiB',
      value: churn.peakMiB,
      goal: '<= budget + one model',
      met: churn.peakMiB <= churnBound,
      how: `peak ${fixed(churn.peakMiB)} MiB; bound ${fixed(churnBound)} MiB = ${fixed(churn.baselineMiB)} MiB with one model loaded + ${churn.maxLoaded} x ${fixed(churn.modelMiB)} MiB measured per model`,
    },
    {
      name: 'rolling restart: failed requests',
      unit: 'count',
      value: rolling.failed,
      goal: '0',
      met: rolling.failed === 0 && rolling.exitCode === 0,
      how: `${rolling.requests} requests at concurrency ${rolling.concurrency}; ${rolling.retried} retried elsewhere by the balancer; SIGTERM to exit ${fixed(rolling.sigtermToExitS, 1)} s (exit ${rolling.exitCode})`,
    },
  ];
}

/**
 * Flat, give or take the garbage collector: 100 KiB per 1,000 requests is 1 MiB per 10,000, which over
 * a day at 100 requests/s would still be ~850 MiB; anything larger is a leak worth chasing.
 */
const SOAK_GROWTH_GOAL_KIB = 100;

function figure(t: Target): string {
  if (Number.isNaN(t.value)) return 'not measured';
  if (t.unit === 'x') return `${t.value.toFixed(2)}x`;
  if (t.unit === 'KiB/1k') return `${t.value.toFixed(1)} KiB per 1,000 requests`;
  if (t.unit === 'MiB') return `${t.value.toFixed(1)} MiB`;
  return t.unit === 'ms' ? `${t.value.toFixed(2)} ms` : String(t.value);
}

export function targetsTable(list: Target[]): string {
  return markdownTable(
    ['target', 'measured', 'goal', 'met', 'from'],
    list.map((t) => [t.name, figure(t), t.goal, t.met ? 'met' : 'NOT met', t.how]),
  );
}

function limitTable(limit: LimitResult): string {
  const rows = limit.batches.map((b) => [
    String(b.batchSize),
    fixed(b.sentencesPerS),
    fixed(b.seconds, 2),
    b === limit.best ? 'best: the limit' : '',
  ]);
  rows.push([
    `${limit.unsorted.batchSize}, corpus order`,
    fixed(limit.unsorted.sentencesPerS),
    fixed(limit.unsorted.seconds, 2),
    'mixed lengths padded together',
  ]);
  return markdownTable(['batch size', 'sentences/s', 'seconds', ''], rows, [
    'left',
    'right',
    'right',
    'left',
  ]);
}

function otherCpuLine(otherCpu: Record<string, number>): string {
  const phases = Object.entries(otherCpu);
  if (phases.length === 0) return '';
  const shares = phases.map(([name, share]) => `${name} ${(share * 100).toFixed(0)}%`).join(', ');
  return `Other processes on the machine (not this benchmark or its servers) used this share of its CPU before and during each phase: ${shares}. Anything above a few percent takes cores from the model and skews the figures.`;
}

function levelCpuLine(shares: Record<number, number> | undefined): string {
  if (!shares || Object.keys(shares).length === 0) return '';
  const levels = Object.entries(shares).map(([c, share]) => `c=${c} ${(share * 100).toFixed(0)}%`);
  return `CPU share other processes took during each level: ${levels.join(', ')}.`;
}

function soakTable(soak: SoakResult): string {
  const every = Math.max(1, Math.ceil(soak.samples.length / 12));
  const rows = soak.samples
    .filter((_, i) => i % every === 0 || i === soak.samples.length - 1)
    .map((p) => [fixed(p.s, 0), String(p.requests), fixed(p.rssMiB)]);
  return markdownTable(['seconds', 'requests served', 'resident MiB'], rows, ['right', 'right', 'right']);
}

function gpuVerdict(devices: DeviceOutcome[]): string {
  const gpus = devices.filter((d) => d.device !== 'cpu' && d.available).map((d) => d.device);
  if (gpus.length) return `Measured here on ${gpus.join(' and ')}: compare those rows with cpu's.`;
  return 'No GPU device was usable on this machine, so the question stays open here.';
}

/** docs/benchmarks.md (formatted by the caller). */
export function benchmarksMarkdown(r: BenchReport): string {
  const m = r.machine;
  const s = r.settings;
  const single = r.limit.single;
  const met = r.targets.filter((t) => t.met).length;
  return `# Benchmarks

Generated by \`${r.command}\` on ${r.date} (${Math.round(r.totalS)} s in all). Every figure below comes
from that one run; \`docs/benchmarks.json\` holds them all and \`docs/benchmarks.svg\` charts them.

- **Machine**: ${m.cores} x ${m.cpu}, ${m.memoryGiB} GiB, ${m.os}; Node.js ${m.node}, onnxruntime-node ${m.onnxruntime}, @huggingface/transformers ${m.transformers}. ${otherCpuLine(r.otherCpu)}
- **hubserve measured**: commit \`${r.hubserve.commit}\` with ${r.hubserve.changedFiles} changed or untracked files in the working tree (\`git status --short | wc -l\`), served as \`${r.hubserve.command}\` with its defaults.
- **Model**: \`${s.model}\`, BERT-base-shaped (12 layers, hidden 768, ~110M parameters, fp32), a text-classification head.
- **Workload**: ${s.corpusSentences} conversation sentences (\`src/loadtest/corpus.ts\`, 5-40 words, ${r.limit.tokens.min}-${r.limit.tokens.max} tokens, ${r.limit.tokens.mean.toFixed(1)} on average), one per request as \`{"inputs": text}\`, sent round-robin. Concurrency ${s.levels.join(', ')}; per level ${s.warmupS} s of unmeasured warm-up, then a ${s.durationS} s measured window.

## Targets

${met} of ${r.targets.length} met.

${targetsTable(r.targets)}

## hubserve (defaults)

${sweepTable(r.served)}

${levelCpuLine(r.otherCpuByLevel.hubserve)}

## Naive server

\`bench/naive-server.ts\`: node:http, \`pipeline()\` on the main thread with its default settings, one call per request, no batching: what a user writes today from the transformers.js docs.

${sweepTable(r.naive)}

${levelCpuLine(r.otherCpuByLevel.naive)}

## In-process limit

\`bench/limit.ts\` in its own process: \`pipeline('text-classification')\` called directly, no HTTP, ${r.limit.threads} ONNX Runtime threads (the machine's cores). Single sentences in corpus order: p50 ${fixed(single.p50)} ms, p90 ${fixed(single.p90)} ms, p99 ${fixed(single.p99)} ms (${single.count} sentences). Batches: the corpus sorted by token length, cut into batches of each size.

${limitTable(r.limit)}

![latency and throughput against concurrency](benchmarks.svg)

## Does a GPU help?

\`hubserve bench --model <folder or Hub id> --device cpu,cuda,webgpu\` serves the same model once per device (the \`device\` key of the model's configuration) and sweeps each with the same workload; a device the machine lacks fails the model's load with \`device_unavailable\`, and the comparison prints its reason instead of numbers. This run (concurrency ${
    r.devices
      .flatMap((d) => (d.available ? d.sweep.levels.map((l) => l.concurrency) : []))
      .filter((c, i, all) => all.indexOf(c) === i)
      .join(', ') || '–'
  }) printed:

${r.devices.length ? deviceTable(r.devices) : 'The device comparison was skipped (`--devices none`).'}

${gpuVerdict(r.devices)} To answer it on a machine with an NVIDIA GPU (CUDA 12 and cuDNN 9): let onnxruntime-node's install script fetch its CUDA binaries (README, "GPU"), then run the comparison:

\`\`\`sh
npm ci
ONNXRUNTIME_NODE_INSTALL=cuda12 node node_modules/onnxruntime-node/script/install.js
npx tsx tools/testmodels/cli.ts --bench
npx tsx bench/run.ts --devices cpu,cuda,webgpu
\`\`\`

What was tried on a lent NVIDIA H100, and why CUDA and WebGPU could not run there: [gpu.md](gpu.md). \`webgpu\` needs a GPU with Vulkan drivers. Expect a GPU to help throughput most at high concurrency, where batches are large; at concurrency 1 a short sentence is dominated by fixed costs (tokenization, transfers, HTTP), so compare the p50 rows too.

## Soak

\`bench/soak.ts\`: ${r.soak.durationS} s of steady load at concurrency ${r.soak.concurrency} on one hubserve serving the generated tiny models, the mix of a day's traffic: of every 20 requests, 14 classifications, 3 NER, 2 streamed chat completions (\`/v1/chat/completions\`) and 1 bad request (400). Resident memory is read from the server's own \`/metrics\` every 2 s; the growth is the least-squares slope of memory against requests served, after ${r.soak.warmupS} s of warm-up.

${soakTable(r.soak)}

## Churn: a model per user

\`bench/churn.ts\`: ${r.churn.users} per-user models (copies of the generated sentiment model) served with \`load: on_demand\` under \`memory.max_loaded_models: ${r.churn.maxLoaded}\`; ${r.churn.requests} requests at concurrency ${r.churn.concurrency}, each from a user drawn at random (Zipf: a few users are most active, as in real traffic). A request is cold when its user's model was not loaded as it was sent. The server runs with \`MALLOC_ARENA_MAX=2\`, as docs/deploy.md advises for many models: each model's worker thread gets a glibc malloc arena of its own, which glibc keeps after the thread ends, so memory freed by unloaded models lingers. The same churn with the default arenas ran first in this run, for comparison: peak ${fixed(r.churnDefaultArenas.peakMiB)} MiB against ${fixed(r.churn.peakMiB)} MiB (bound ${fixed(r.churnDefaultArenas.baselineMiB + r.churnDefaultArenas.maxLoaded * r.churnDefaultArenas.modelMiB)} MiB for that run), cold p50 ${fixed(r.churnDefaultArenas.coldMs.p50)} ms, warm p50 ${fixed(r.churnDefaultArenas.warmMs.p50)} ms, ${r.churnDefaultArenas.failed} failed.

${markdownTable(
  ['', 'requests', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms'],
  [
    [
      'cold (the model loads)',
      String(r.churn.coldMs.count),
      fixed(r.churn.coldMs.p50),
      fixed(r.churn.coldMs.p90),
      fixed(r.churn.coldMs.p99),
      fixed(r.churn.coldMs.max),
    ],
    [
      'warm',
      String(r.churn.warmMs.count),
      fixed(r.churn.warmMs.p50),
      fixed(r.churn.warmMs.p90),
      fixed(r.churn.warmMs.p99),
      fixed(r.churn.warmMs.max),
    ],
  ],
)}

Loads ${r.churn.loads}, evictions ${r.churn.evictions}, failed requests ${r.churn.failed}. Resident memory ${fixed(r.churn.baselineMiB)} MiB with one model loaded, ${fixed(r.churn.peakMiB)} MiB at the peak; each model measured ${fixed(r.churn.modelMiB)} MiB as it loaded.

## Rolling restart

\`bench/rolling.ts\`: ${r.rolling.concurrency} clients post to the BERT-base-shaped model through a balancer (round robin over the servers it routes to; it sends a request again elsewhere when nothing was served: a refused connection or \`503 shutting_down\`, as Envoy's connect-failure and retriable-status retries do). After ${r.rolling.warmupS} s a second hubserve starts, becomes ready and joins; the first gets SIGTERM and leaves the balancer ${r.rolling.propagationS} s later (endpoints propagate late), with \`drain_delay_s: ${r.rolling.drainDelayS}\`. ${r.rolling.requests} requests, ${r.rolling.failed} failed${Object.keys(r.rolling.failures).length ? ` (${JSON.stringify(r.rolling.failures)})` : ''}, ${r.rolling.retried} retried elsewhere, ${r.rolling.servedWhileDraining} answered by the old server after its SIGTERM; SIGTERM to exit ${fixed(r.rolling.sigtermToExitS, 1)} s, exit code ${r.rolling.exitCode}.

## How it is measured

- **Closed loop**: at concurrency N, N virtual users each send their next request as soon as the previous one is answered (keep-alive connections, one per user), as perf_analyzer does. A request counts in the window it is answered in; throughput is successful requests per second of the window; requests still in flight when the window closes are drained, unmeasured, before the next level.
- **Latency**: from sending the request to the last byte of the answer, for successful requests. Percentiles are exact, nearest-rank, from every sample (no histogram). Errors are counted by HTTP status or network error code.
- **/health**: a separate sequential prober sends \`GET /health\` every ~20 ms during each measured window; its p99 shows whether the event loop stays responsive while the model is saturated.
- **The load generator** runs in the benchmark's own process and shares the ${m.cores} cores with the server; it sends at most a few hundred requests per second, and its own event-loop delay is recorded per level (\`clientLagP99Ms\` in the JSON) to show it kept up.
- **Reproduce**: \`${r.command}\` (\`--quick\` for a one-minute smoke run; \`--levels\`, \`--duration\`, \`--warmup\`, \`--devices\` or the \`BENCH_*\` environment variables change the plan; \`npx tsx bench/run.ts --help\`).
`;
}
