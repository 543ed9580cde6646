// `npm run bench`: the in-process limit, the naive server and hubserve, side by side in one run, with
// the BERT-base-shaped model and the conversation corpus; writes docs/benchmarks.{md,json,svg}.
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { format, resolveConfig } from 'prettier';
import type { Device } from '../src/engine/protocol.ts';
import {
  CONVERSATION_CORPUS,
  freePort,
  hubserveArgs,
  nodeArgs,
  runDeviceComparison,
  runSweep,
  startChildServer,
  stopChildrenOnExit,
  sweepSvg,
  sweepTable,
  trackChild,
  type ChildServer,
  type DeviceOutcome,
  type SweepResult,
} from '../src/loadtest/index.ts';
import { DEFAULT_MODELS_DIR, ensureTestModels, testModelPath } from '../tools/testmodels/index.ts';
import { benchmarksMarkdown, targets, targetsTable, type BenchReport } from './doc.ts';
import type { LimitResult } from './limit.ts';
import { describeMachine, otherCpuMeter, waitForQuiet } from './machine.ts';
import { churnConfig, runChurn } from './churn.ts';
import { runRolling } from './rolling.ts';
import { runSoak } from './soak.ts';

const BENCH_MODEL = 'hubserve-test/bert-base-bench';
const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: process.env.BENCH_QUICK === '1' },
    levels: { type: 'string', default: process.env.BENCH_LEVELS ?? '1,4,16,32,64' },
    duration: { type: 'string', default: process.env.BENCH_DURATION_S },
    warmup: { type: 'string', default: process.env.BENCH_WARMUP_S },
    devices: { type: 'string', default: process.env.BENCH_DEVICES ?? 'cpu,cuda,webgpu' },
    'wait-quiet': { type: 'string', default: process.env.BENCH_WAIT_QUIET_S ?? '0' },
    model: { type: 'string' },
    out: { type: 'string', default: join(root, 'docs') },
    help: { type: 'boolean', short: 'h', default: false },
  },
});

if (values.help) {
  console.log(`usage: npx tsx bench/run.ts [--quick] [--levels 1,4,16,32,64] [--duration S] [--warmup S]
                              [--devices cpu,cuda,webgpu|none] [--wait-quiet S] [--model FOLDER] [--out DIR]

Measures the in-process limit, the naive server and hubserve (defaults) with the BERT-base-shaped model,
then writes DIR/benchmarks.{md,json,svg} (default docs/). About 4 minutes on 2 cores; --quick about 1.
  --duration  measured seconds per concurrency level (default 12, quick 2)   env BENCH_DURATION_S
  --warmup    unmeasured seconds before each level (default 2, quick 0.5)    env BENCH_WARMUP_S
  --levels    concurrency levels                                             env BENCH_LEVELS
  --devices   devices to compare hubserve on, or none                        env BENCH_DEVICES
  --quick     a smoke run: shorter levels, an eighth of the corpus for the limit   env BENCH_QUICK=1
  --wait-quiet  wait up to this many seconds for other processes to leave the CPU idle (default 0)
                                                                             env BENCH_WAIT_QUIET_S`);
  process.exit(0);
}

const plan = {
  levels: values.levels.split(',').map(Number),
  durationS: Number(values.duration ?? (values.quick ? 2 : 12)),
  warmupS: Number(values.warmup ?? (values.quick ? 0.5 : 2)),
  limitEvery: values.quick ? 8 : 1,
  devices: values.devices === 'none' ? [] : (values.devices.split(',') as Device[]),
  deviceLevels: values.quick ? [1] : [1, 16],
  deviceDurationS: values.quick ? 1 : 5,
  // Warm-up is half the soak: the first minute's memory still settles (caches, JIT, GC heuristics).
  soak: { durationS: values.quick ? 20 : 180, warmupS: values.quick ? 10 : 90, concurrency: 8 },
  // Cold loads take about a second each and go one at a time under a budget: 400 requests is ~3 min.
  churn: { users: 50, maxLoaded: 8, requests: values.quick ? 100 : 400, concurrency: 8 },
  rolling: { concurrency: 16, warmupS: values.quick ? 2 : 5, propagationS: 5, drainDelayS: 3 },
};

const started = performance.now();
const log = (line: string): void =>
  console.error(`[${((performance.now() - started) / 1000).toFixed(0).padStart(4)} s] ${line}`);
/** Per server and concurrency level, the share of the CPU other processes took (see machine.ts). */
const otherCpuByLevel: Record<string, Record<number, number>> = {};

const git = (...args: string[]): string => execFileSync('git', args, { cwd: root, encoding: 'utf8' }).trim();

function runLimit(model: string): Promise<LimitResult> {
  const args = nodeArgs(new URL('./limit.ts', import.meta.url), [
    '--model',
    model,
    '--every',
    String(plan.limitEvery),
  ]);
  const child = trackChild(spawn(process.execPath, args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
  return new Promise((resolvePromise, reject) => {
    let result: LimitResult | undefined;
    child.on('message', (message: LimitResult) => (result = message));
    child.on('exit', (code) =>
      result ? resolvePromise(result) : reject(new Error(`bench/limit.ts exited with ${code}`)),
    );
  });
}

async function sweepServer(name: string, server: ChildServer): Promise<SweepResult> {
  const pid = server.child.pid;
  const shares: Record<number, number> = (otherCpuByLevel[name] = {});
  let meter = otherCpuMeter(() => (pid === undefined ? [] : [pid]));
  return runSweep({
    url: `${server.url}/models/bert`,
    concurrency: plan.levels,
    durationS: plan.durationS,
    warmupS: plan.warmupS,
    corpus: [...CONVERSATION_CORPUS],
    onLevel: (l) => {
      const other = meter();
      meter = otherCpuMeter(() => (pid === undefined ? [] : [pid]));
      if (other !== undefined) shares[l.concurrency] = other;
      log(
        `${name} c=${l.concurrency}: ${l.throughput} req/s, p50 ${l.latencyMs.p50} ms, p99 ${l.latencyMs.p99} ms, ` +
          `${l.errors} errors, /health p99 ${l.health?.latencyMs.p99 ?? '–'} ms` +
          (other === undefined ? '' : `; other processes used ${(other * 100).toFixed(0)}% of the CPU`),
      );
    },
  });
}

/** Runs one phase and measures the share of the machine's CPU other processes took meanwhile. */
async function phase<T>(name: string, otherCpu: Record<string, number>, run: () => Promise<T>): Promise<T> {
  const meter = otherCpuMeter();
  const result = await run();
  const share = meter();
  if (share !== undefined) {
    otherCpu[name] = share;
    if (share > 0.05)
      log(`warning: other processes used ${(share * 100).toFixed(0)}% of the CPU during ${name}`);
  }
  return result;
}

async function main(): Promise<void> {
  stopChildrenOnExit();
  const machine = describeMachine();
  const otherCpu: Record<string, number> = {};
  const before = await waitForQuiet(Number(values['wait-quiet']), 0.05, (share) =>
    log(`waiting: other processes use ${(share * 100).toFixed(0)}% of the CPU`),
  );
  if (before !== undefined) {
    otherCpu.before = before;
    if (before > 0.05) log(`warning: other processes use ${(before * 100).toFixed(0)}% of the CPU`);
  }
  const model = values.model ? resolve(values.model) : join(DEFAULT_MODELS_DIR, BENCH_MODEL);
  if (!values.model) {
    log(`model ${BENCH_MODEL} (generated when missing)`);
    ensureTestModels(DEFAULT_MODELS_DIR, [BENCH_MODEL]);
  }

  log('limit: the model in-process, batch sizes 1-32');
  const limit = await phase('limit', otherCpu, () => runLimit(model));
  log(
    `limit: single p50 ${limit.single.p50} ms; best ${limit.best.sentencesPerS} sentences/s at batch ${limit.best.batchSize}`,
  );

  const naive = await phase('naive', otherCpu, async () => {
    const port = await freePort();
    log(`naive server on port ${port}`);
    const args = nodeArgs(new URL('./naive-server.ts', import.meta.url), [
      '--model',
      model,
      '--port',
      String(port),
    ]);
    const server = await startChildServer({ name: 'naive server', args, port, readyPath: '/health' });
    return sweepServer('naive', server).finally(() => server.stop());
  });

  const served = await phase('hubserve', otherCpu, async () => {
    const port = await freePort();
    log(`hubserve on port ${port}`);
    const args = hubserveArgs(port, [`bert=${model}`]);
    const server = await startChildServer({ name: 'hubserve', args, port, readyPath: '/ready' });
    return sweepServer('hubserve', server).finally(() => server.stop());
  });

  const soak = await phase('soak', otherCpu, async () => {
    ensureTestModels();
    const port = await freePort();
    log(`soak: hubserve on port ${port}, ${plan.soak.durationS} s at concurrency ${plan.soak.concurrency}`);
    const models = (['sentiment', 'ner', 'gpt2'] as const).map(
      (name) => `${name}=${testModelPath(`hubserve-test/tiny-${name}`)}`,
    );
    const server = await startChildServer({
      name: 'hubserve',
      args: hubserveArgs(port, models),
      port,
      readyPath: '/ready',
    });
    return runSoak(`http://127.0.0.1:${port}`, { ...plan.soak, sentences: CONVERSATION_CORPUS }, log).finally(
      () => server.stop(),
    );
  });
  log(`soak: ${soak.growthKiBPer1000.toFixed(1)} KiB per 1,000 requests after warm-up`);

  // The churn twice, side by side: with glibc's default malloc arenas (one per thread that ever
  // allocated, kept after the thread ends) and with MALLOC_ARENA_MAX=2, which docs/deploy.md advises
  // for many models, whose worker threads come and go.
  const churnWith = (name: string, env: Record<string, string>) =>
    phase(name, otherCpu, async () => {
      const port = await freePort();
      const config = churnConfig(
        testModelPath('hubserve-test/tiny-sentiment'),
        join(DEFAULT_MODELS_DIR, 'churn'),
        plan.churn,
      );
      log(
        `churn: ${plan.churn.users} per-user models, ${plan.churn.maxLoaded} loaded at most, port ${port}, env ${JSON.stringify(env)}`,
      );
      const server = await startChildServer({
        name: 'hubserve',
        args: hubserveArgs(port, ['--config', config]),
        port,
        readyPath: '/ready',
        env,
      });
      return runChurn(`http://127.0.0.1:${port}`, plan.churn, log).finally(() => server.stop());
    });
  const churnDefaultArenas = await churnWith('churn (default arenas)', {});
  const churn = await churnWith('churn', { MALLOC_ARENA_MAX: '2' });
  for (const [what, result] of [
    ['default arenas', churnDefaultArenas],
    ['MALLOC_ARENA_MAX=2', churn],
  ] as const) {
    log(
      `churn (${what}): ${result.failed} failed, ${result.evictions} evictions, cold p50 ${result.coldMs.p50} ms, peak ${result.peakMiB.toFixed(0)} MiB`,
    );
  }

  const rolling = await phase('rolling restart', otherCpu, () =>
    runRolling(model, plan.rolling, CONVERSATION_CORPUS, log),
  );
  log(
    `rolling restart: ${rolling.failed} failed of ${rolling.requests}, ${rolling.retried} retried elsewhere, ` +
      `SIGTERM to exit ${rolling.sigtermToExitS.toFixed(1)} s (exit ${rolling.exitCode})`,
  );

  let devices: DeviceOutcome[] = [];
  if (plan.devices.length) {
    log(`devices: ${plan.devices.join(', ')}`);
    devices = await phase('devices', otherCpu, () =>
      runDeviceComparison({
        model,
        devices: plan.devices,
        concurrency: plan.deviceLevels,
        durationS: plan.deviceDurationS,
        warmupS: 1,
        corpus: [...CONVERSATION_CORPUS],
        onStatus: log,
      }),
    );
  }

  const report: BenchReport = {
    date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    command: ['npx tsx bench/run.ts', ...process.argv.slice(2)].join(' '),
    totalS: Math.round((performance.now() - started) / 100) / 10,
    machine,
    otherCpu,
    otherCpuByLevel,
    hubserve: {
      commit: git('rev-parse', '--short', 'HEAD'),
      changedFiles: git('status', '--short').split('\n').filter(Boolean).length,
      command: `node --import tsx src/cli/main.ts serve bert=${relative(root, model)} --port <free port> --log-level warn`,
    },
    settings: {
      levels: plan.levels,
      durationS: plan.durationS,
      warmupS: plan.warmupS,
      corpusSentences: CONVERSATION_CORPUS.length,
      model: relative(root, model),
    },
    limit,
    naive,
    served,
    devices,
    soak,
    churn,
    churnDefaultArenas,
    rolling,
    targets: targets(limit, naive, served, soak, churn, rolling),
  };

  mkdirSync(values.out, { recursive: true });
  const prettier = (await resolveConfig(join(root, 'docs', 'benchmarks.md'))) ?? {};
  const md = join(values.out, 'benchmarks.md');
  const json = join(values.out, 'benchmarks.json');
  const svg = join(values.out, 'benchmarks.svg');
  writeFileSync(md, await format(benchmarksMarkdown(report), { ...prettier, parser: 'markdown' }));
  writeFileSync(json, await format(JSON.stringify(report), { ...prettier, parser: 'json' }));
  writeFileSync(
    svg,
    sweepSvg(
      [
        { name: 'hubserve', result: served },
        { name: 'naive', result: naive },
      ],
      {
        title: `BERT-base-shaped classifier, ${report.machine.cores} cores: latency and throughput by concurrency`,
        references: [
          { panel: 'latency', label: 'in-process single sentence p50', value: limit.single.p50 },
          {
            panel: 'throughput',
            label: `in-process limit (batch ${limit.best.batchSize})`,
            value: limit.best.sentencesPerS,
          },
        ],
      },
    ),
  );

  console.log(`\nhubserve\n${sweepTable(served)}\n\nnaive\n${sweepTable(naive)}\n`);
  console.log(targetsTable(report.targets));
  console.log(
    `\nwrote ${[md, json, svg].map((f) => relative(process.cwd(), f)).join(', ')} in ${report.totalS} s`,
  );
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error instanceof Error ? (error.stack ?? error.message) : error);
    process.exit(1);
  },
);
