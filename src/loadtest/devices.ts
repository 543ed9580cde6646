// Device comparison: the same model and workload served by hubserve once per device (cpu, cuda,
// webgpu). A device this machine lacks fails the model's load with device_unavailable, whose message
// says why; that reason is reported in place of numbers.
import { DEVICES, type Device } from '../engine/protocol.ts';
import { freePort, hubserveArgs, startChildServer } from './servers.ts';
import { runSweep, type SweepResult } from './sweep.ts';

export interface DeviceComparisonOptions {
  /** A model folder (Hub layout) or a Hub id, as `hubserve serve` takes it. */
  model: string;
  devices: Device[];
  concurrency: number[];
  durationS: number;
  warmupS?: number;
  corpus: string[];
  /** Extra `hubserve serve` flags (e.g. --dtype q8). */
  serveArgs?: string[];
  /** Progress lines. */
  onStatus?: (line: string) => void;
}

export type DeviceOutcome =
  | { device: Device; available: true; loadMs?: number; sweep: SweepResult }
  | { device: Device; available: false; reason: string };

interface ModelView {
  state?: string;
  load_ms?: number;
  error?: { code: string; message: string };
}

const NAME = 'bench';

// Runtime messages carry newlines and runs of spaces; a reason is shown in one table cell.
const oneLine = (text: string): string => text.replace(/\s+/g, ' ').trim();

function parseView(body: string): ModelView {
  try {
    return JSON.parse(body) as ModelView;
  } catch {
    return {};
  }
}

async function measure(device: Device, options: DeviceComparisonOptions): Promise<DeviceOutcome> {
  const port = await freePort();
  let view: ModelView = {};
  const server = await startChildServer({
    name: `hubserve (device ${device})`,
    args: hubserveArgs(port, [`${NAME}=${options.model}`, '--device', device, ...(options.serveArgs ?? [])]),
    port,
    readyPath: `/models/${NAME}`,
    // The port opens once the model is loaded or has failed; either is an answer.
    isReady: (status, body) => {
      view = parseView(body);
      return status === 200 && (view.state === 'ready' || view.state === 'failed');
    },
  });
  try {
    if (view.state !== 'ready') {
      return {
        device,
        available: false,
        reason: oneLine(view.error?.message ?? `model state ${view.state}`),
      };
    }
    options.onStatus?.(`device ${device}: model ready, sweeping`);
    const sweep = await runSweep({
      url: `${server.url}/models/${NAME}`,
      concurrency: options.concurrency,
      durationS: options.durationS,
      corpus: options.corpus,
      ...(options.warmupS === undefined ? {} : { warmupS: options.warmupS }),
    });
    return {
      device,
      available: true,
      ...(view.load_ms === undefined ? {} : { loadMs: view.load_ms }),
      sweep,
    };
  } finally {
    await server.stop();
  }
}

/** Serves `model` on each device in turn and sweeps it; never throws for a missing device. */
export async function runDeviceComparison(options: DeviceComparisonOptions): Promise<DeviceOutcome[]> {
  const unknown = options.devices.filter((d) => !DEVICES.includes(d));
  if (unknown.length)
    throw new Error(`unknown device(s) ${unknown.join(', ')}; known: ${DEVICES.join(', ')}`);
  const outcomes: DeviceOutcome[] = [];
  for (const device of options.devices) {
    options.onStatus?.(`device ${device}: starting hubserve`);
    let outcome: DeviceOutcome;
    try {
      outcome = await measure(device, options);
    } catch (error) {
      // The server itself could not start with this device (a crash of the runtime, say).
      const message = error instanceof Error ? error.message : String(error);
      outcome = { device, available: false, reason: oneLine(message.split('\n').slice(0, 6).join(' ')) };
    }
    options.onStatus?.(
      outcome.available ? `device ${device}: measured` : `device ${device}: unavailable: ${outcome.reason}`,
    );
    outcomes.push(outcome);
  }
  return outcomes;
}
