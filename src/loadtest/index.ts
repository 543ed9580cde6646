// Load generation behind `hubserve bench` (sweeps, reports, device comparison); the project's own
// benchmarks in bench/ (`npm run bench`, docs/benchmarks.md) are built on it.
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
