// Messages between a model's main-thread runner and its worker threads.
import type { WireError } from '../errors.ts';
import type { StreamedToken, RunMeter } from '../tasks/types.ts';

export const DEVICES = ['cpu', 'cuda', 'webgpu'] as const;
export type Device = (typeof DEVICES)[number];

export interface LoadSpec {
  /** Local folder in the Hub layout. */
  path: string;
  /** A built-in task, or the name of the handler's task. */
  task: string;
  /** Absolute path of a custom handler module. */
  handler?: string;
  dtype: string;
  device: Device;
  /** ONNX Runtime intra-op threads of this worker. */
  threads: number;
  /**
   * Shared with the main thread, two int32: [0] ONNX Runtime runs in progress on the worker, [1] runs
   * finished. A run blocks the worker's event loop (onnxruntime-node runs natively on its thread), so
   * a silent worker in a run is busy, not hung; and terminating it then would abort the process.
   */
  runs: SharedArrayBuffer;
}

/** What a loaded model tells about itself. */
export interface ModelInfo {
  task: string;
  modelType: string;
  architectures: string[];
  labels: string[];
  maxTokens: number;
  dtype: string;
  device: Device;
  loadMs: number;
  warmupMs: number;
  /** What the model does less well than it should (e.g. a tokenizer without a pad token). */
  warnings: string[];
}

export type ToWorker =
  | {
      type: 'run';
      id: number;
      task: string;
      inputs: unknown;
      parameters: Record<string, unknown>;
      stream: boolean;
    }
  | { type: 'cancel'; id: number }
  | { type: 'ping' }
  | { type: 'dispose' };

export type FromWorker =
  /** Loaded; the warm-up request runs next. */
  | { type: 'warming' }
  | { type: 'ready'; info: ModelInfo }
  | { type: 'load-failed'; error: WireError }
  | { type: 'result'; id: number; output: unknown; meter: RunMeter }
  | { type: 'token'; id: number; token: StreamedToken }
  /** The worker's event loop answers (between ONNX Runtime runs, which block it). */
  | { type: 'pong'; heapBytes: number; grownBytes: number }
  | { type: 'failed'; id: number; error: WireError }
  | { type: 'disposed' };
