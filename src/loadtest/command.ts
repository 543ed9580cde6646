// `hubserve bench`: a concurrency sweep against a running server on this machine, or, with --device,
// the same model served on each device in turn.
import { readFileSync, writeFileSync } from 'node:fs';
import { Command } from 'commander';
import type { Device } from '../engine/protocol.ts';
import { CONVERSATION_CORPUS } from './corpus.ts';
import { runDeviceComparison } from './devices.ts';
import { deviceTable, sweepJson, sweepSvg, sweepTable } from './report.ts';
import { stopChildrenOnExit } from './servers.ts';
import { runSweep, type LevelResult } from './sweep.ts';

interface BenchFlags {
  concurrency: string;
  duration: number;
  warmup: number;
  maxRequests?: number;
  corpus?: string;
  json?: string;
  svg?: string;
  model?: string;
  device?: string;
}

const list = (text: string): string[] =>
  text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

function positive(name: string): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!(n > 0)) throw new Error(`--${name} takes a positive number, got ${value}`);
    return n;
  };
}

const progress = (level: LevelResult): void =>
  console.error(
    `  c=${level.concurrency}: ${level.throughput} req/s, p50 ${level.latencyMs.p50} ms, ` +
      `p99 ${level.latencyMs.p99} ms, ${level.errors} errors`,
  );

async function bench(url: string | undefined, flags: BenchFlags): Promise<void> {
  const concurrency = list(flags.concurrency).map(Number);
  const corpus = flags.corpus
    ? readFileSync(flags.corpus, 'utf8')
        .split('\n')
        .map((line) => line.trim())
        .filter(Boolean)
    : [...CONVERSATION_CORPUS];
  const common = { concurrency, durationS: flags.duration, warmupS: flags.warmup, corpus };
  if (flags.device) {
    if (!flags.model) throw new Error('--device needs --model: the model to serve on each device');
    stopChildrenOnExit();
    const outcomes = await runDeviceComparison({
      ...common,
      model: flags.model,
      devices: list(flags.device) as Device[],
      onStatus: (line) => console.error(line),
    });
    console.log(deviceTable(outcomes));
    if (flags.json) writeFileSync(flags.json, `${JSON.stringify(outcomes, null, 2)}\n`);
    const measured = outcomes.flatMap((o) => (o.available ? [{ name: o.device, result: o.sweep }] : []));
    if (flags.svg) writeFileSync(flags.svg, sweepSvg(measured, { title: 'hubserve by device' }));
    return;
  }
  if (!url) throw new Error('give the URL to POST to (http://127.0.0.1:8080/models/NAME), or --device');
  const result = await runSweep({
    ...common,
    url,
    ...(flags.maxRequests ? { maxRequests: flags.maxRequests } : {}),
    onLevel: progress,
  });
  console.log(sweepTable(result));
  if (flags.json) writeFileSync(flags.json, sweepJson(result));
  if (flags.svg) writeFileSync(flags.svg, sweepSvg([{ name: url, result }], { title: url }));
}

/** The `bench` subcommand, for the hubserve program to add. */
export function benchCommand(): Command {
  return new Command('bench')
    .description(
      'Measure latency and throughput against a server on this machine, sweeping concurrency ' +
        '(closed loop, one request at a time per virtual user); --device compares devices.',
    )
    .argument('[url]', 'endpoint to POST {"inputs": text} to, e.g. http://127.0.0.1:8080/models/NAME')
    .option('-c, --concurrency <list>', 'virtual users per level', '1,4,16,64')
    .option('-d, --duration <seconds>', 'measured window per level', positive('duration'), 10)
    .option('--warmup <seconds>', 'unmeasured load before each level', positive('warmup'), 2)
    .option('--max-requests <n>', 'end a level after this many measured requests', positive('max-requests'))
    .option('--corpus <file>', 'inputs, one per line (default: 200 conversation sentences)')
    .option('--json <file>', 'write every figure as JSON')
    .option('--svg <file>', 'write a chart of latency and throughput against concurrency')
    .option('--model <source>', 'with --device: the model to serve (folder or Hub id)')
    .option('--device <list>', 'serve --model on each device in turn (cpu,cuda,webgpu) and compare')
    .action(bench);
}
