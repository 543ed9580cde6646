// hubserve bench: load generation, reporting and device comparison (see docs/benchmarks.md).
export { benchCommand } from './command.ts';
export { CONVERSATION_CORPUS } from './corpus.ts';
export { runDeviceComparison, type DeviceComparisonOptions, type DeviceOutcome } from './devices.ts';
export {
  deviceTable,
  markdownTable,
  sweepJson,
  sweepSvg,
  sweepTable,
  type ChartReference,
  type ChartSeries,
} from './report.ts';
export {
  freePort,
  hubserveArgs,
  nodeArgs,
  startChildServer,
  stopChildrenOnExit,
  trackChild,
  type ChildServer,
} from './servers.ts';
export { percentile, summarize, type LatencySummary } from './stats.ts';
export {
  runSweep,
  type HealthResult,
  type LevelResult,
  type SweepOptions,
  type SweepResult,
} from './sweep.ts';
