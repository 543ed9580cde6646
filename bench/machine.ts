// What the figures were measured on, and how much of the machine other work took meanwhile: on a
// 2-core machine any other busy process takes cores from the model and skews every figure.
import { existsSync, readFileSync } from 'node:fs';
import { availableParallelism, cpus, platform, release, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface Machine {
  cpu: string;
  cores: number;
  memoryGiB: number;
  os: string;
  node: string;
  onnxruntime: string;
  transformers: string;
}

/** The version of an installed package, from the package.json above its entry point. */
function packageVersion(name: string): string {
  let dir = dirname(fileURLToPath(import.meta.resolve(name)));
  while (dir !== dirname(dir)) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) {
      const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === name) return pkg.version ?? 'unknown';
    }
    dir = dirname(dir);
  }
  return 'unknown';
}

export function describeMachine(): Machine {
  return {
    cpu: cpus()[0]?.model.trim() ?? 'unknown',
    cores: availableParallelism(),
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    os: `${platform()} ${release()}`,
    node: process.version,
    onnxruntime: packageVersion('onnxruntime-node'),
    transformers: packageVersion('@huggingface/transformers'),
  };
}

/** Busy CPU ticks of the whole machine (/proc/stat: all but idle and iowait). */
function machineTicks(): number | undefined {
  if (!existsSync('/proc/stat')) return undefined;
  const fields = (readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '').trim().split(/\s+/).slice(1);
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = fields.map(Number);
  return user + nice + system + irq + softirq + steal;
}

/** utime + stime + cutime + cstime of a process: its threads, and its children it has reaped. */
function processTicks(pid: number | 'self'): number {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return 0; // exited meanwhile: its time is in its parent's cutime now
  }
  // The command name (field 2) may hold spaces; the fields after its closing parenthesis are fixed.
  const after = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return [11, 12, 13, 14].reduce((sum, i) => sum + Number(after[i] ?? 0), 0);
}

/**
 * Starts measuring the share of the machine's CPU used by processes other than this one and its
 * children: those running (`pids`) and those that have exited. The returned function reads it
 * (0..1) so far, or undefined where /proc is missing.
 */
export function otherCpuMeter(pids: () => number[] = () => []): () => number | undefined {
  const ours = (): number => pids().reduce((sum, pid) => sum + processTicks(pid), processTicks('self'));
  const machine = machineTicks();
  if (machine === undefined) return () => undefined;
  const own = ours();
  const started = performance.now();
  return () => {
    const busy = (machineTicks() ?? machine) - machine - (ours() - own);
    // /proc/stat counts in USER_HZ: 100 ticks per second on Linux.
    const available = ((performance.now() - started) / 1000) * 100 * availableParallelism();
    return Math.round(Math.min(1, Math.max(0, busy / available)) * 1000) / 1000;
  };
}

/**
 * Samples the CPU other processes use, 2 s at a time, until it is under `quiet` (a share of the
 * machine) or `maxWaitS` has passed; returns the last sample (undefined without /proc).
 */
export async function waitForQuiet(
  maxWaitS: number,
  quiet: number,
  onBusy: (share: number) => void,
): Promise<number | undefined> {
  const deadline = performance.now() + maxWaitS * 1000;
  for (;;) {
    const meter = otherCpuMeter();
    await new Promise((resolve) => setTimeout(resolve, 2000));
    const share = meter();
    if (share === undefined || share < quiet || performance.now() >= deadline) return share;
    onBusy(share);
  }
}
